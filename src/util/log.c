/* Leveled logging to stderr, one line per call, with a UTC timestamp. */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/config.h"

static int level = VLOG_INFO;
static pthread_once_t level_once = PTHREAD_ONCE_INIT;

/* Read once, by whichever thread logs first (threads log at once: a plain lazy read
 * was a data race under ThreadSanitizer). */
static void level_init(void) {
  const char *e = vigil_config_str(NULL, "VIGIL_LOG");
  if (e) {
    if (!strcmp(e, "error")) level = VLOG_ERROR;
    else if (!strcmp(e, "warn")) level = VLOG_WARN;
    else if (!strcmp(e, "debug")) level = VLOG_DEBUG;
  }
}

static int log_level(void) {
  pthread_once(&level_once, level_init);
  return level;
}

void vlog(vlog_level lvl, const char *fmt, ...) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  if ((int)lvl > log_level()) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900, tm.tm_mon + 1,
          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[lvl], msg);
}
