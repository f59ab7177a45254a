/* Motion gating: a running-average background of a small grey copy of the
 * frame, a threshold on the difference, dilation to join a walker's limbs,
 * and 4-connected components into regions; then crops for the detector
 * around those regions.
 *
 * It runs on a 160-pixel-wide frame (about 1/20 of the pixels of a 768x576
 * frame), so it costs well under a millisecond against a detector call of
 * a few hundred. Mask polygons (from the camera registry) are cleared from
 * the difference before the components are found. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/motion.h"

motion_params motion_default_params(void) {
  return (motion_params){.width = 160, .threshold = 20, .alpha = 0.05f, .dilate = 2, .min_area = 0.001f};
}

void motion_init(motion_detector *m, const motion_params *p) {
  memset(m, 0, sizeof *m);
  m->p = p ? *p : motion_default_params();
  if (m->p.width < 16) m->p.width = 16;
  if (m->p.width > 1024) m->p.width = 1024;
}

void motion_free(motion_detector *m) {
  if (!m) return;
  free(m->bg); /* the one allocation behind every buffer (restart) */
  m->bg = NULL, m->grey = m->mask = m->tmp = m->excl = m->prev = m->fd = NULL, m->label = NULL;
}

static bool in_poly(const motion_mask *z, float x, float y) {
  bool in = false;
  for (int i = 0, j = z->npoints - 1; i < z->npoints; j = i++)
    if ((z->y[i] > y) != (z->y[j] > y) && x < (z->x[j] - z->x[i]) * (y - z->y[i]) / (z->y[j] - z->y[i]) + z->x[i])
      in = !in;
  return in;
}

static int restart(motion_detector *m, const vigil_image *f) {
  motion_free(m);
  m->fw = f->w, m->fh = f->h;
  m->w = f->w < m->p.width ? f->w : m->p.width;
  m->h = (int)lround((double)f->h * m->w / f->w);
  if (m->h < 1) m->h = 1;
  size_t n = (size_t)m->w * (size_t)m->h;
  m->frames = 0;
  /* the buffers share one lifetime, so one allocation: n floats of background,
   * n labels, then six byte planes (excl must start zeroed) */
  m->bg = calloc(n, sizeof *m->bg + sizeof *m->label + 6);
  if (!m->bg) return -1;
  m->label = (int *)(m->bg + n);
  uint8_t *b = (uint8_t *)(m->label + n);
  m->grey = b, m->mask = b + n, m->tmp = b + 2 * n, m->excl = b + 3 * n, m->prev = b + 4 * n, m->fd = b + 5 * n;
  for (int y = 0; y < m->h && m->p.nmasks; y++)
    for (int x = 0; x < m->w; x++) {
      float fx = (x + 0.5f) * f->w / m->w, fy = (y + 0.5f) * f->h / m->h;
      for (int k = 0; k < m->p.nmasks; k++)
        if (in_poly(&m->p.masks[k], fx, fy)) m->excl[y * m->w + x] = 1;
    }
  return 0;
}

/* Box-filtered downscale to grey (the box filter also drops sensor noise). */
static void shrink(motion_detector *m, const vigil_image *f) {
  for (int y = 0; y < m->h; y++) {
    int y0 = y * f->h / m->h, y1 = (y + 1) * f->h / m->h;
    if (y1 <= y0) y1 = y0 + 1;
    for (int x = 0; x < m->w; x++) {
      int x0 = x * f->w / m->w, x1 = (x + 1) * f->w / m->w;
      if (x1 <= x0) x1 = x0 + 1;
      unsigned sum = 0, cnt = 0;
      for (int yy = y0; yy < y1; yy += 2) {
        const uint8_t *row = f->data + (size_t)yy * f->stride;
        for (int xx = x0; xx < x1; xx += 2) {
          const uint8_t *px = row + (size_t)xx * (size_t)f->c;
          sum += f->c >= 3 ? (77u * px[0] + 150u * px[1] + 29u * px[2]) >> 8 : px[0];
          cnt++;
        }
      }
      m->grey[y * m->w + x] = (uint8_t)(sum / cnt);
    }
  }
}

/* 3x3 binary dilation of buf in place (tmp: scratch of the same size). A
 * square's dilation is a row pass then a column pass: 6 reads a pixel
 * instead of up to 9, and no copy back. */
static void dilate(uint8_t *buf, uint8_t *tmp, int w, int h) {
  for (int y = 0; y < h; y++) {
    const uint8_t *s = buf + (size_t)y * w;
    uint8_t *d = tmp + (size_t)y * w;
    for (int x = 0; x < w; x++) d[x] = (x > 0 && s[x - 1]) || s[x] || (x + 1 < w && s[x + 1]);
  }
  for (int y = 0; y < h; y++) {
    const uint8_t *up = y > 0 ? tmp + (size_t)(y - 1) * w : NULL, *mid = tmp + (size_t)y * w;
    const uint8_t *dn = y + 1 < h ? tmp + (size_t)(y + 1) * w : NULL;
    uint8_t *d = buf + (size_t)y * w;
    for (int x = 0; x < w; x++) d[x] = (up && up[x]) || mid[x] || (dn && dn[x]);
  }
}

static int by_area_desc(const void *a, const void *b) {
  const track_region *x = a, *y = b;
  float ax = (x->x2 - x->x1) * (x->y2 - x->y1), ay = (y->x2 - y->x1) * (y->y2 - y->y1);
  return ax < ay ? 1 : ax > ay ? -1 : 0;
}

int motion_detect(motion_detector *m, const vigil_image *f, track_region *out, int max) {
  if (!f || !f->data || f->w <= 0 || f->h <= 0) return 0;
  if (f->w != m->fw || f->h != m->fh || !m->bg) {
    if (restart(m, f)) return -1;
  }
  shrink(m, f);
  int n = m->w * m->h;
  if (m->frames++ == 0) {
    for (int i = 0; i < n; i++) m->bg[i] = m->grey[i];
    memcpy(m->prev, m->grey, (size_t)n);
    return 0;
  }
  /* Motion = differs from the background AND near a change since the last
   * frame: the background alone leaves "ghosts" where someone stood when it
   * started and a trail behind every walker; the frame difference alone
   * sees only edges. Dilating the frame difference first fills the walker. */
  for (int i = 0; i < n; i++) m->fd[i] = abs((int)m->grey[i] - (int)m->prev[i]) * 2 > m->p.threshold;
  for (int k = 0; k < m->p.dilate + 1; k++) dilate(m->fd, m->tmp, m->w, m->h);
  for (int i = 0; i < n; i++) {
    float d = fabsf((float)m->grey[i] - m->bg[i]);
    m->mask[i] = d > (float)m->p.threshold && m->fd[i] && !m->excl[i];
    m->bg[i] += m->p.alpha * ((float)m->grey[i] - m->bg[i]);
  }
  memcpy(m->prev, m->grey, (size_t)n);
  memcpy(m->fd, m->mask, (size_t)n); /* the area counts changed pixels, not what dilation added */
  for (int k = 0; k < m->p.dilate; k++) dilate(m->mask, m->tmp, m->w, m->h);
  /* connected components with an explicit stack (label doubles as the stack) */
  int nr = 0, cap = 64;
  track_region *rg = malloc(sizeof *rg * (size_t)cap);
  int *stack = malloc(sizeof *stack * (size_t)n);
  if (!rg || !stack) {
    free(rg);
    free(stack);
    return -1;
  }
  memset(m->label, 0, sizeof *m->label * (size_t)n);
  float min_px = m->p.min_area * (float)n;
  for (int i = 0; i < n; i++) {
    if (!m->mask[i] || m->label[i]) continue;
    int sp = 0, area = 0, x1 = m->w, y1 = m->h, x2 = -1, y2 = -1;
    stack[sp++] = i;
    m->label[i] = 1;
    while (sp) {
      int v = stack[--sp], x = v % m->w, y = v / m->w;
      area += m->fd[v];
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
      const int nb[4] = {x > 0 ? v - 1 : -1, x < m->w - 1 ? v + 1 : -1, y > 0 ? v - m->w : -1,
                         y < m->h - 1 ? v + m->w : -1};
      for (int k = 0; k < 4; k++)
        if (nb[k] >= 0 && m->mask[nb[k]] && !m->label[nb[k]]) m->label[nb[k]] = 1, stack[sp++] = nb[k];
    }
    if ((float)area < min_px) continue;
    if (nr == cap) {
      track_region *nrg = realloc(rg, sizeof *rg * (size_t)(cap * 2));
      if (!nrg) break;
      rg = nrg, cap *= 2;
    }
    float sx = (float)f->w / (float)m->w, sy = (float)f->h / (float)m->h;
    rg[nr++] = (track_region){x1 * sx, y1 * sy, (x2 + 1) * sx, (y2 + 1) * sy};
  }
  free(stack);
  qsort(rg, (size_t)nr, sizeof *rg, by_area_desc);
  int k = nr < max ? nr : max;
  memcpy(out, rg, sizeof *rg * (size_t)k);
  free(rg);
  return k;
}

static bool overlap(const track_region *a, const track_region *b) {
  return a->x1 < b->x2 && b->x1 < a->x2 && a->y1 < b->y2 && b->y1 < a->y2;
}

static track_region unite(const track_region *a, const track_region *b) {
  return (track_region){fminf(a->x1, b->x1), fminf(a->y1, b->y1), fmaxf(a->x2, b->x2), fmaxf(a->y2, b->y2)};
}

/* A square of at least `side` around r, inside the frame where it fits. */
static track_region square_around(const track_region *r, int fw, int fh, int side) {
  float w = r->x2 - r->x1, h = r->y2 - r->y1, s = fmaxf((float)side, fmaxf(w, h));
  float sw = fminf(s, (float)fw), sh = fminf(s, (float)fh);
  float cx = (r->x1 + r->x2) / 2, cy = (r->y1 + r->y2) / 2;
  float x1 = fminf(fmaxf(cx - sw / 2, 0), (float)fw - sw), y1 = fminf(fmaxf(cy - sh / 2, 0), (float)fh - sh);
  return (track_region){floorf(x1), floorf(y1), floorf(x1) + floorf(sw), floorf(y1) + floorf(sh)};
}

int motion_plan_crops(const track_region *regions, int n, int fw, int fh, int side, int max_crops,
                      track_region *out) {
  if (n <= 0) return 0;
  track_region *r = malloc(sizeof *r * (size_t)n);
  if (!r) {
    out[0] = (track_region){0, 0, (float)fw, (float)fh};
    return 1;
  }
  for (int i = 0; i < n; i++) { /* grow by a quarter: a limb outside the moving blob, context */
    float mw = (regions[i].x2 - regions[i].x1) * 0.25f + 4, mh = (regions[i].y2 - regions[i].y1) * 0.25f + 4;
    r[i] = (track_region){fmaxf(regions[i].x1 - mw, 0), fmaxf(regions[i].y1 - mh, 0),
                          fminf(regions[i].x2 + mw, (float)fw), fminf(regions[i].y2 + mh, (float)fh)};
  }
  /* merge regions whose crops overlap or that fit together in one crop */
  bool merged = true;
  while (merged) {
    merged = false;
    for (int i = 0; i < n && !merged; i++)
      for (int j = i + 1; j < n && !merged; j++) {
        track_region u = unite(&r[i], &r[j]);
        track_region ci = square_around(&r[i], fw, fh, side), cj = square_around(&r[j], fw, fh, side);
        if (overlap(&ci, &cj) || (u.x2 - u.x1 <= (float)side && u.y2 - u.y1 <= (float)side)) {
          r[i] = u;
          r[j] = r[--n];
          merged = true;
        }
      }
  }
  float area = 0;
  for (int i = 0; i < n; i++) {
    out[i < max_crops ? i : 0] = square_around(&r[i], fw, fh, side);
    area += (out[i < max_crops ? i : 0].x2 - out[i < max_crops ? i : 0].x1) *
            (out[i < max_crops ? i : 0].y2 - out[i < max_crops ? i : 0].y1);
  }
  free(r);
  if (n > max_crops || area >= 0.8f * (float)fw * (float)fh) {
    out[0] = (track_region){0, 0, (float)fw, (float)fh};
    return 1;
  }
  return n;
}
