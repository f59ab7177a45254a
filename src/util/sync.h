/* A mutex with its condition variable, and telling a thread that waits on
 * one to stop: the few lines every module with a helper thread needs. */
#ifndef VIGIL_UTIL_SYNC_H
#define VIGIL_UTIL_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

/* mu and cv; cv's timed waits read CLOCK_MONOTONIC when monotonic (immune to
 * wall-clock steps), else CLOCK_REALTIME. */
static inline void vigil_sync_init(pthread_mutex_t *mu, pthread_cond_t *cv, bool monotonic) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  if (monotonic) pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_mutex_init(mu, NULL);
  pthread_cond_init(cv, &a);
  pthread_condattr_destroy(&a);
}

static inline void vigil_sync_destroy(pthread_mutex_t *mu, pthread_cond_t *cv) {
  pthread_cond_destroy(cv);
  pthread_mutex_destroy(mu);
}

/* Sets *flag under mu and wakes every waiter on cv, which rechecks it: how a
 * thread blocked on cv is told to stop (join it afterwards). */
static inline void vigil_sync_raise(pthread_mutex_t *mu, pthread_cond_t *cv, bool *flag) {
  pthread_mutex_lock(mu);
  *flag = true;
  pthread_cond_broadcast(cv);
  pthread_mutex_unlock(mu);
}

#endif
