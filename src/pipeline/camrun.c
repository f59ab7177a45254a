/* Concurrent cameras: a decode thread per source pushes sampled frames into
 * that camera's bounded queue; a pool of workers takes frames from whichever
 * camera has one waiting and is not being processed by another worker (so a
 * camera's frames stay in order), round-robin so a flooding camera cannot
 * starve the others. One mutex guards all queues; frames are swapped, not
 * copied, on the way out.
 *
 * Bad input: a stream that stalls hits the reader's network timeout and is
 * reconnected with backoff; a corrupt frame is skipped by the decoder; a
 * flooding live camera loses its oldest frames (counted), never memory. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "vigil/camrun.h"
#include "vigil/video.h"

int frame_queue_init(frame_queue *q, int cap, bool drop_oldest) {
  memset(q, 0, sizeof *q);
  if (cap < 1) cap = 1;
  q->q = calloc((size_t)cap, sizeof *q->q);
  if (!q->q) return -1;
  q->cap = cap;
  q->drop_oldest = drop_oldest;
  return 0;
}

void frame_queue_free(frame_queue *q) {
  if (!q || !q->q) return;
  for (int i = 0; i < q->cap; i++) vigil_image_free(&q->q[i].img);
  free(q->q);
  q->q = NULL;
}

static int copy_into(vigil_image *dst, const vigil_image *src) {
  if (!dst->data || dst->w != src->w || dst->h != src->h || dst->c != src->c) {
    vigil_image_free(dst);
    if (vigil_image_init(dst, src->w, src->h, src->c)) return -1;
  }
  for (int y = 0; y < src->h; y++)
    memcpy(dst->data + (size_t)y * dst->stride, src->data + (size_t)y * src->stride, (size_t)src->w * (size_t)src->c);
  return 0;
}

int frame_queue_push(frame_queue *q, const vigil_image *img, double ts) {
  int dropped = 0;
  if (q->n == q->cap) {
    if (!q->drop_oldest) return 2;
    q->head = (q->head + 1) % q->cap; /* the oldest slot becomes the newest: its buffer is reused */
    q->n--;
    q->dropped++;
    dropped = 1;
  }
  queued_frame *f = &q->q[(q->head + q->n) % q->cap];
  if (copy_into(&f->img, img)) return -1;
  f->ts = ts;
  q->n++;
  return dropped;
}

int frame_queue_pop(frame_queue *q, vigil_image *img, double *ts) {
  if (q->n == 0) return 0;
  queued_frame *f = &q->q[q->head];
  vigil_image tmp = *img;
  *img = f->img;
  f->img = tmp;
  *ts = f->ts;
  q->head = (q->head + 1) % q->cap;
  q->n--;
  return 1;
}

camrun_params camrun_default_params(void) {
  return (camrun_params){.workers = 2, .queue_len = 8};
}

typedef struct camrun camrun;

typedef struct {
  camrun *r;
  const camrun_source *s;
  int index;
  frame_queue q;
  bool done, busy, failed;
  pthread_t th;
} cam_slot;

struct camrun {
  pipeline *pl;
  const camrun_params *p;
  cam_slot *slots;
  int n, next;
  pthread_mutex_t mu;
  pthread_cond_t work, room;
  long frames;
};

static bool stopping(const camrun *r) { return r->p->stop && *r->p->stop; }

static void *decode_main(void *arg) {
  cam_slot *c = arg;
  camrun *r = c->r;
  const camrun_source *s = c->s;
  video_params vp = video_default_params();
  vp.fps = s->fps;
  double backoff = 1, t_start = vigil_wall_s();
  char err[512];
  long dropped_before = 0;
  for (;;) {
    video_reader *v;
    bool over = r->p->duration_s > 0 && vigil_wall_s() - t_start > r->p->duration_s;
    if (video_open(&v, s->url, vp, err, sizeof err)) {
      vlog_warn("camera %s (%s): %s", s->camera_id, s->url, err);
      if (!s->live || stopping(r) || over) {
        c->failed = true;
        break;
      }
      sleep((unsigned)backoff);
      backoff = backoff * 2 > 30 ? 30 : backoff * 2;
      continue;
    }
    backoff = 1;
    vigil_image img = {0};
    double pts;
    int k = 0;
    while (!stopping(r) && (k = video_next(v, &img, &pts, err, sizeof err)) == 1) {
      if (!s->live && s->max_s > 0 && pts >= s->max_s) break;
      double ts = s->live ? vigil_wall_s() : s->base_ts + pts;
      pthread_mutex_lock(&r->mu);
      int pr;
      while ((pr = frame_queue_push(&c->q, &img, ts)) == 2 && !stopping(r)) pthread_cond_wait(&r->room, &r->mu);
      long nd = c->q.dropped - dropped_before;
      dropped_before = c->q.dropped;
      pthread_cond_broadcast(&r->work);
      pthread_mutex_unlock(&r->mu);
      if (nd > 0) {
        pipeline_add_dropped(r->pl, s->cam, nd);
        if (c->q.dropped == nd || c->q.dropped % 100 == 0)
          vlog_warn("camera %s (%s): processing falls behind; %ld frame(s) dropped so far", s->camera_id,
                    s->url, c->q.dropped);
      }
      if (pr < 0) vlog_error("camera %s: out of memory queueing a frame", s->camera_id);
      if (s->live && r->p->duration_s > 0 && vigil_wall_s() - t_start > r->p->duration_s) break;
    }
    vigil_image_free(&img);
    video_close(v);
    if (k < 0) vlog_warn("camera %s (%s): %s", s->camera_id, s->url, err);
    if (!s->live || stopping(r) || (r->p->duration_s > 0 && vigil_wall_s() - t_start > r->p->duration_s)) break;
    vlog_warn("camera %s: stream %s dropped; reconnecting in %.0f s", s->camera_id, s->url, backoff);
    sleep((unsigned)backoff);
    backoff = backoff * 2 > 30 ? 30 : backoff * 2;
  }
  pthread_mutex_lock(&r->mu);
  c->done = true;
  pthread_cond_broadcast(&r->work);
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

static void *worker_main(void *arg) {
  camrun *r = arg;
  vigil_image img = {0};
  char err[512];
  pthread_mutex_lock(&r->mu);
  for (;;) {
    cam_slot *pick = NULL;
    bool pending = false;
    for (int k = 0; k < r->n && !pick; k++) {
      cam_slot *c = &r->slots[(r->next + k) % r->n];
      if (!c->done || c->q.n) pending = true;
      if (!c->busy && c->q.n) pick = c;
    }
    if (!pick) {
      if (!pending) break;
      pthread_cond_wait(&r->work, &r->mu);
      continue;
    }
    r->next = (int)(pick - r->slots + 1) % r->n; /* round-robin: the next worker starts after this camera */
    double ts;
    frame_queue_pop(&pick->q, &img, &ts);
    pick->busy = true;
    pthread_cond_broadcast(&r->room);
    pthread_mutex_unlock(&r->mu);
    if (pipeline_frame(r->pl, pick->s->cam, &img, ts, err, sizeof err))
      vlog_error("camera %s (%s): %s", pick->s->camera_id, pick->s->url, err);
    if (r->p->on_frame) r->p->on_frame(r->p->ud, pick->index);
    pthread_mutex_lock(&r->mu);
    r->frames++;
    pick->busy = false;
    pthread_cond_broadcast(&r->work);
  }
  pthread_cond_broadcast(&r->work);
  pthread_mutex_unlock(&r->mu);
  vigil_image_free(&img);
  return NULL;
}

int camrun_run(pipeline *pl, const camrun_source *src, int n, const camrun_params *p, long *frames) {
  camrun r = {.pl = pl, .p = p, .n = n};
  if (frames) *frames = 0;
  if (n <= 0) return 0;
  r.slots = calloc((size_t)n, sizeof *r.slots);
  if (!r.slots) return n;
  pthread_mutex_init(&r.mu, NULL);
  pthread_cond_init(&r.work, NULL);
  pthread_cond_init(&r.room, NULL);
  int failed = 0, started = 0;
  for (int i = 0; i < n; i++) {
    cam_slot *c = &r.slots[i];
    c->r = &r, c->s = &src[i], c->index = i;
    if (frame_queue_init(&c->q, p->queue_len, src[i].live) || pthread_create(&c->th, NULL, decode_main, c)) {
      c->done = c->failed = true;
      continue;
    }
    started++;
  }
  int nw = p->workers > 0 ? p->workers : 1;
  pthread_t *w = calloc((size_t)nw, sizeof *w);
  int nws = 0;
  for (int i = 0; w && i < nw; i++)
    if (pthread_create(&w[nws], NULL, worker_main, &r) == 0) nws++;
  if (nws == 0) worker_main(&r); /* no threads to spare: this one works */
  for (int i = 0; i < nws; i++) pthread_join(w[i], NULL);
  for (int i = 0; i < n; i++) {
    if (r.slots[i].th) pthread_join(r.slots[i].th, NULL);
    failed += r.slots[i].failed;
    frame_queue_free(&r.slots[i].q);
  }
  (void)started;
  if (frames) *frames = r.frames;
  free(w);
  free(r.slots);
  pthread_cond_destroy(&r.work);
  pthread_cond_destroy(&r.room);
  pthread_mutex_destroy(&r.mu);
  return failed;
}
