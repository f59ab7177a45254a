/* Adaptive team size of a session (team.c): with threads N > 1, each run
 * goes on either one thread or N, whichever has been faster lately. */
#ifndef VRT_TEAM_H
#define VRT_TEAM_H

#define VRT_TEAM_WIN 5         /* recent samples kept per arm (median of these) */
#define VRT_TEAM_PROBE_MIN 16  /* runs between probes of the arm not in use ... */
#define VRT_TEAM_PROBE_MAX 256 /* ... doubling up to this while probes keep losing */
#define VRT_TEAM_MARGIN 0.9    /* N threads are used only when their median is below this x one thread's */
/* Runs of a fresh session (or after new input shapes) before its exploration
 * is over: the unplanned first run, then each arm's untimed first planned run
 * and VRT_TEAM_EXPLORE timed ones. A benchmark that wants the settled choice
 * warms up this many runs. */
#define VRT_TEAM_EXPLORE 2
#define VRT_TEAM_WARM_RUNS (1 + 2 * (1 + VRT_TEAM_EXPLORE))

/* Arm 0 runs on one thread, arm 1 on the session's N. Plain data, one per
 * session (sessions are single-threaded), no clock inside: the caller times
 * its runs and feeds the seconds to vrt_team_record. */
typedef struct vrt_team {
  double t[2][VRT_TEAM_WIN]; /* ring of recent run times, seconds */
  int n[2];                  /* samples in each ring */
  int next[2];               /* ring write position */
  int total[2];              /* samples ever recorded (exploration) */
  int cur;                   /* arm in use between probes */
  int since;                 /* runs recorded since the last probe */
  int interval;              /* runs between probes */
} vrt_team;

void vrt_team_init(vrt_team *tm);
/* The arm the next run should use: each arm is tried twice first (N first),
 * then the one with the lower median (N only when below VRT_TEAM_MARGIN x one
 * thread's), except every `interval` runs the other arm is probed once. */
int vrt_team_pick(const vrt_team *tm);
/* One run on `arm` took `secs`. A probe replaces the other arm's (stale)
 * samples; if it wins, the session switches to it and probes come back to
 * VRT_TEAM_PROBE_MIN apart, otherwise the interval doubles. */
void vrt_team_record(vrt_team *tm, int arm, double secs);
double vrt_team_median(const vrt_team *tm, int arm); /* 0 when no samples */

#endif
