/* Camera helpers: zone polygons and the camera's local time of day. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/pipeline.h"

bool camera_zone_contains(const camera_zone *z, float x, float y) {
  bool in = false;
  for (int i = 0, j = z->npoints - 1; i < z->npoints; j = i++) {
    if ((z->y[i] > y) != (z->y[j] > y) && x < (z->x[j] - z->x[i]) * (y - z->y[i]) / (z->y[j] - z->y[i]) + z->x[i])
      in = !in;
  }
  return in;
}

/* localtime_r reads TZ from the environment; switching it is process-wide,
 * so conversions for cameras in other zones are serialised. */
static pthread_mutex_t tz_mu = PTHREAD_MUTEX_INITIALIZER;

void camera_local_time(const camera *c, double t, int *hour, int *minute) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!c || !c->timezone[0]) {
    localtime_r(&tt, &tm);
  } else {
    pthread_mutex_lock(&tz_mu);
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    setenv("TZ", c->timezone, 1);
    tzset();
    localtime_r(&tt, &tm);
    if (saved) setenv("TZ", saved, 1);
    else unsetenv("TZ");
    tzset();
    free(saved);
    pthread_mutex_unlock(&tz_mu);
  }
  *hour = tm.tm_hour;
  *minute = tm.tm_min;
}
