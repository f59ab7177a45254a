/* Concurrent cameras: one decode thread per camera feeding a bounded queue,
 * a shared pool of workers running the pipeline. Live cameras drop their
 * oldest queued frames under overload (counted); files wait for room, so
 * every sampled frame of a file is processed. */
#ifndef VIGIL_CAMRUN_H
#define VIGIL_CAMRUN_H

#include <signal.h>
#include <stdbool.h>

#include "vigil/img.h"
#include "vigil/pipeline.h"

/* ---- a bounded frame queue (no locking of its own; camrun holds one lock) ---- */

typedef struct {
  vigil_image img;
  double ts;
} queued_frame;

typedef struct {
  queued_frame *q;
  int cap, head, n;
  bool drop_oldest; /* live: make room by dropping the oldest; else the producer waits */
  long dropped;
} frame_queue;

int frame_queue_init(frame_queue *q, int cap, bool drop_oldest);
void frame_queue_free(frame_queue *q);
static inline bool frame_queue_full(const frame_queue *q) { return q->n == q->cap; }
/* Copies img in. When full: drop_oldest drops the oldest (returns 1, counted
 * in dropped), otherwise returns 2 and stores nothing (the caller waits).
 * 0 when stored, -1 out of memory. */
int frame_queue_push(frame_queue *q, const vigil_image *img, double ts);
/* Takes the oldest frame: its pixels are swapped into *img (whose old buffer
 * the queue keeps for reuse). 1 with a frame, 0 when empty. */
int frame_queue_pop(frame_queue *q, vigil_image *img, double *ts);

/* ---- running cameras -------------------------------------------------------------- */

typedef struct {
  char url[1024];   /* video file or rtsp:// / http:// stream */
  int cam;          /* pipeline camera index */
  char camera_id[64]; /* for the logs */
  bool live;        /* a stream: frames stamped with the wall clock, drop-oldest, reconnect */
  double base_ts;   /* files: unix time of the first frame */
  double fps;       /* sampling, <= 0 = every frame */
  double max_s;     /* files: stop at this stream time (0 = the whole file) */
} camrun_source;

typedef struct {
  int workers;        /* pipeline threads shared by all cameras (2) */
  int queue_len;      /* frames queued per camera (8) */
  double duration_s;  /* live sources stop after this long (0 = until *stop) */
  volatile sig_atomic_t *stop;
  /* called on a worker after each processed frame (progress); may be NULL */
  void (*on_frame)(void *ud, int source);
  void *ud;
} camrun_params;

camrun_params camrun_default_params(void);

/* Runs every source to its end (files) or until stop/duration (streams).
 * A source that fails is logged with its camera id and the others go on.
 * Returns the number of sources that failed; *frames gets the frames
 * processed. Drops are added to the pipeline's stats per camera. */
int camrun_run(pipeline *pl, const camrun_source *src, int n, const camrun_params *p, long *frames);

#endif
