/* The clocks vigilcore reads: monotonic for durations and deadlines, the wall
 * clock for timestamps that are stored or shown. */
#ifndef VIGIL_UTIL_CLOCK_H
#define VIGIL_UTIL_CLOCK_H

#include <time.h>

/* Monotonic seconds (durations, timeouts, rate limits). */
static inline double vigil_mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Monotonic milliseconds (timings reported in `took_ms`, stage times). */
static inline double vigil_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wall-clock seconds since the epoch (event and delivery timestamps). */
static inline double vigil_wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
