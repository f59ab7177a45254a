/* Adaptive team size: a two-armed choice between one thread and the
 * session's N, by the median of recent run times (team.h).
 *
 * Why: oneDNN here runs on OpenMP and splits each primitive's work
 * statically between the team; when another process holds a core, every
 * parallel region waits at its barrier for the descheduled thread, and N
 * threads can be several times slower than one. No static rule knows what
 * else the machine is doing, so the session measures. A median rather than a
 * mean, so one run delayed by the scheduler does not flip the choice; a
 * slowing arm loses by its own samples within a few runs, an arm that got
 * faster is only seen by probing it, hence the periodic probe, backed off
 * while it keeps losing so that a bad arm costs little. */
#include "team.h"

#include <string.h>

void vrt_team_init(vrt_team *tm) {
  memset(tm, 0, sizeof *tm);
  tm->cur = 1;
  tm->interval = VRT_TEAM_PROBE_MIN;
}

double vrt_team_median(const vrt_team *tm, int arm) {
  int n = tm->n[arm];
  if (n <= 0) return 0;
  double v[VRT_TEAM_WIN];
  memcpy(v, tm->t[arm], sizeof(double) * (size_t)n);
  for (int i = 1; i < n; i++) /* insertion sort: at most VRT_TEAM_WIN items */
    for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
      double x = v[j];
      v[j] = v[j - 1];
      v[j - 1] = x;
    }
  return n & 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* N threads must beat one by VRT_TEAM_MARGIN: with the other core busy the
 * N-thread runs are bimodal (the worker scheduled at once, or a time slice
 * late) and a median that merely ties one thread's should not win. */
static int best_arm(const vrt_team *tm) {
  return vrt_team_median(tm, 1) < VRT_TEAM_MARGIN * vrt_team_median(tm, 0) ? 1 : 0;
}

int vrt_team_pick(const vrt_team *tm) {
  if (tm->total[1] < VRT_TEAM_EXPLORE || tm->total[0] < VRT_TEAM_EXPLORE) return tm->total[1] <= tm->total[0] ? 1 : 0;
  if (tm->since >= tm->interval) return !tm->cur;
  return tm->cur;
}

static void push(vrt_team *tm, int arm, double secs) {
  tm->t[arm][tm->next[arm]] = secs;
  tm->next[arm] = (tm->next[arm] + 1) % VRT_TEAM_WIN;
  if (tm->n[arm] < VRT_TEAM_WIN) tm->n[arm]++;
  tm->total[arm]++;
}

void vrt_team_record(vrt_team *tm, int arm, double secs) {
  arm = arm ? 1 : 0;
  if (!(secs >= 0)) secs = 0;
  int explored = tm->total[0] >= VRT_TEAM_EXPLORE && tm->total[1] >= VRT_TEAM_EXPLORE;
  if (!explored || arm == tm->cur) {
    push(tm, arm, secs);
    if (tm->n[0] && tm->n[1]) tm->cur = best_arm(tm);
    if (explored) tm->since++;
    return;
  }
  /* a probe: what the other arm did long ago no longer counts */
  tm->n[arm] = tm->next[arm] = 0;
  push(tm, arm, secs);
  tm->since = 0;
  int was = tm->cur;
  tm->cur = best_arm(tm);
  if (tm->cur != was) tm->interval = VRT_TEAM_PROBE_MIN;
  else if (tm->interval < VRT_TEAM_PROBE_MAX) tm->interval *= 2;
}
