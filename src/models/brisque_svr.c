/* The BRISQUE model: a reader for the two OpenCV FileStorage YAML files of the
 * LIVE-trained model (an RBF epsilon-SVR and the feature ranges) and the score.
 *
 * The files are untrusted bytes (a user may point BRISQUE_MODEL_PATH anywhere),
 * so the reader is deliberately small and strict: it knows the handful of keys it
 * needs, reads every number with strtod inside the buffer's bounds, and checks
 * every count against what it read (var_count must be 36, sv_total vectors of 36,
 * as many alphas as vectors, a 2 x 36 range matrix). Anything else is a load error
 * naming what was wrong. It is not a YAML parser and does not pretend to be. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"
#include "vigil/quality.h"
#include "vigil/status.h"

#define MAX_SV 100000 /* far above the 774 of the LIVE model; bounds memory */
#define MAX_FILE ((size_t)64 << 20)

struct vigil_brisque {
  int n_sv;
  double gamma, rho;
  double *sv;    /* n_sv x 36 */
  double *alpha; /* n_sv */
  double lo[VIGIL_BRISQUE_NFEAT], hi[VIGIL_BRISQUE_NFEAT];
};

typedef struct {
  const char *p, *end;
} cursor;

/* Finds "key:" at the start of a line (after indentation) from c->p on; leaves the
 * cursor just after the colon. */
static int find_key(cursor *c, const char *key) {
  size_t kl = strlen(key);
  const char *p = c->p;
  while (p < c->end) {
    const char *q = p;
    while (q < c->end && (*q == ' ' || *q == '\t')) q++;
    if ((size_t)(c->end - q) > kl && !memcmp(q, key, kl) && q[kl] == ':') {
      c->p = q + kl + 1;
      return 0;
    }
    const char *nl = memchr(p, '\n', (size_t)(c->end - p));
    if (!nl) break;
    p = nl + 1;
  }
  return -1;
}

/* The rest of the line after the cursor, trimmed, into buf. */
static void line_value(char *buf, size_t len, const cursor *c) {
  const char *p = c->p;
  while (p < c->end && (*p == ' ' || *p == '\t')) p++;
  size_t n = 0;
  while (p < c->end && *p != '\n' && *p != '\r' && n + 1 < len) buf[n++] = *p++;
  while (n && isspace((unsigned char)buf[n - 1])) n--;
  buf[n] = 0;
}

/* strtod within bounds: copies at most 63 chars into a NUL-terminated buffer. */
static int read_number(cursor *c, double *v) {
  const char *p = c->p;
  while (p < c->end && (isspace((unsigned char)*p) || *p == ',')) p++;
  char tmp[64];
  size_t n = 0;
  while (p + n < c->end && n < sizeof tmp - 1 && (isdigit((unsigned char)p[n]) || strchr("+-.eE", p[n])))
    tmp[n] = p[n], n++;
  if (!n) return -1;
  tmp[n] = 0;
  char *e;
  errno = 0;
  double d = strtod(tmp, &e);
  if (e == tmp || errno == ERANGE || !isfinite(d)) return -1;
  *v = d;
  c->p = p + (e - tmp);
  return 0;
}

static double key_number(cursor c, const char *key, int *ok) {
  double v = 0;
  if (find_key(&c, key) || read_number(&c, &v)) *ok = 0;
  return v;
}

/* Reads "[ n, n, ... ]" of exactly `want` numbers (want < 0: any count up to
 * -want, the count returned). */
static int read_array(cursor *c, double *out, int want) {
  const char *p = c->p;
  while (p < c->end && isspace((unsigned char)*p)) p++;
  if (p >= c->end || *p != '[') return -1;
  c->p = p + 1;
  int cap = want < 0 ? -want : want, n = 0;
  for (;;) {
    const char *q = c->p;
    while (q < c->end && (isspace((unsigned char)*q) || *q == ',')) q++;
    if (q >= c->end) return -1;
    if (*q == ']') {
      c->p = q + 1;
      break;
    }
    if (n >= cap) return -1;
    c->p = q;
    if (read_number(c, &out[n])) return -1;
    n++;
  }
  if (want >= 0 && n != want) return -1;
  return n;
}

static int parse_model(vigil_brisque *m, const char *buf, size_t len, char *err, size_t errlen) {
  cursor all = {buf, buf + len}, c = all;
  char v[64];
  if (find_key(&c, "opencv_ml_svm")) return vigil_err(err, errlen, -1, "brisque model: not an OpenCV SVM file");
  c = all;
  if (find_key(&c, "svmType")) return vigil_err(err, errlen, -1, "brisque model: no svmType");
  line_value(v, sizeof v, &c);
  if (strcmp(v, "EPS_SVR")) return vigil_err(err, errlen, -1, "brisque model: svmType %s, expected EPS_SVR", v);
  c = all;
  if (find_key(&c, "kernel") || find_key(&c, "type")) return vigil_err(err, errlen, -1, "brisque model: no kernel type");
  line_value(v, sizeof v, &c);
  if (strcmp(v, "RBF")) return vigil_err(err, errlen, -1, "brisque model: kernel %s, expected RBF", v);
  int ok = 1;
  m->gamma = key_number(c, "gamma", &ok);
  double var_count = key_number(all, "var_count", &ok);
  double sv_total = key_number(all, "sv_total", &ok);
  if (!ok) return vigil_err(err, errlen, -1, "brisque model: gamma, var_count or sv_total missing");
  if (var_count != VIGIL_BRISQUE_NFEAT)
    return vigil_err(err, errlen, -1, "brisque model: var_count %g, expected %d", var_count, VIGIL_BRISQUE_NFEAT);
  if (!(sv_total >= 1 && sv_total <= MAX_SV) || sv_total != floor(sv_total))
    return vigil_err(err, errlen, -1, "brisque model: sv_total %g out of range", sv_total);
  if (!(m->gamma > 0)) return vigil_err(err, errlen, -1, "brisque model: RBF gamma must be positive");
  m->n_sv = (int)sv_total;
  m->sv = malloc((size_t)m->n_sv * VIGIL_BRISQUE_NFEAT * sizeof *m->sv);
  m->alpha = malloc((size_t)m->n_sv * sizeof *m->alpha);
  if (!m->sv || !m->alpha) return vigil_err(err, errlen, -1, "brisque model: out of memory");
  c = all;
  if (find_key(&c, "support_vectors")) return vigil_err(err, errlen, -1, "brisque model: no support_vectors");
  for (int i = 0; i < m->n_sv; i++) {
    const char *p = c.p;
    while (p < c.end && isspace((unsigned char)*p)) p++;
    if (p >= c.end || *p != '-') return vigil_err(err, errlen, -1, "brisque model: support vector %d missing", i);
    c.p = p + 1;
    if (read_array(&c, m->sv + (size_t)i * VIGIL_BRISQUE_NFEAT, VIGIL_BRISQUE_NFEAT) < 0)
      return vigil_err(err, errlen, -1, "brisque model: support vector %d is not %d numbers", i, VIGIL_BRISQUE_NFEAT);
  }
  if (find_key(&c, "decision_functions")) return vigil_err(err, errlen, -1, "brisque model: no decision_functions");
  cursor d = c;
  double svc = key_number(d, "sv_count", &ok);
  m->rho = key_number(d, "rho", &ok);
  if (!ok || svc != m->n_sv) return vigil_err(err, errlen, -1, "brisque model: decision function sv_count/rho wrong");
  if (find_key(&d, "alpha") || read_array(&d, m->alpha, m->n_sv) < 0)
    return vigil_err(err, errlen, -1, "brisque model: alpha is not %d numbers", m->n_sv);
  /* an "index" list would say the function uses a subset; the LIVE model uses all */
  cursor ix = d;
  if (!find_key(&ix, "index")) return vigil_err(err, errlen, -1, "brisque model: indexed decision functions are not supported");
  return 0;
}

static int parse_range(vigil_brisque *m, const char *buf, size_t len, char *err, size_t errlen) {
  cursor all = {buf, buf + len}, c = all;
  if (find_key(&c, "range")) return vigil_err(err, errlen, -1, "brisque range: no 'range' matrix");
  int ok = 1;
  double rows = key_number(c, "rows", &ok), cols = key_number(c, "cols", &ok);
  if (!ok || rows != 2 || cols != VIGIL_BRISQUE_NFEAT)
    return vigil_err(err, errlen, -1, "brisque range: expected a 2 x %d matrix", VIGIL_BRISQUE_NFEAT);
  double v[2 * VIGIL_BRISQUE_NFEAT];
  if (find_key(&c, "data") || read_array(&c, v, 2 * VIGIL_BRISQUE_NFEAT) < 0)
    return vigil_err(err, errlen, -1, "brisque range: data is not %d numbers", 2 * VIGIL_BRISQUE_NFEAT);
  for (int i = 0; i < VIGIL_BRISQUE_NFEAT; i++) {
    m->lo[i] = v[i];
    m->hi[i] = v[VIGIL_BRISQUE_NFEAT + i];
    if (!(m->hi[i] > m->lo[i])) return vigil_err(err, errlen, -1, "brisque range: feature %d has an empty range", i);
  }
  return 0;
}

int vigil_brisque_load_mem(vigil_brisque **out, const char *model, size_t model_len, const char *range,
                           size_t range_len, char *err, size_t errlen) {
  *out = NULL;
  vigil_brisque *m = calloc(1, sizeof *m);
  if (!m) return vigil_err(err, errlen, -1, "brisque: out of memory"), VIGIL_IMG_ENOMEM;
  int rc = parse_model(m, model, model_len, err, errlen);
  if (!rc) rc = parse_range(m, range, range_len, err, errlen);
  if (rc) {
    vigil_brisque_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

int vigil_brisque_load(vigil_brisque **out, const char *model_path, const char *range_path, char *err,
                       size_t errlen) {
  *out = NULL;
  size_t ml = 0, rl = 0;
  char *mb, *rb;
  if (vigil_file_read(model_path, MAX_FILE, &mb, &ml, err, errlen)) return VIGIL_IMG_EFORMAT;
  if (vigil_file_read(range_path, MAX_FILE, &rb, &rl, err, errlen)) {
    free(mb);
    return VIGIL_IMG_EFORMAT;
  }
  int rc = vigil_brisque_load_mem(out, mb, ml, rb, rl, err, errlen);
  free(mb);
  free(rb);
  return rc;
}

void vigil_brisque_free(vigil_brisque *m) {
  if (!m) return;
  free(m->sv);
  free(m->alpha);
  free(m);
}

size_t vigil_brisque_memory_bytes(const vigil_brisque *m) {
  return m ? sizeof *m + (size_t)m->n_sv * (VIGIL_BRISQUE_NFEAT + 1) * sizeof(double) : 0;
}

double vigil_brisque_predict(const vigil_brisque *m, const double feat[VIGIL_BRISQUE_NFEAT]) {
  double x[VIGIL_BRISQUE_NFEAT];
  for (int i = 0; i < VIGIL_BRISQUE_NFEAT; i++) x[i] = -1 + 2 * (feat[i] - m->lo[i]) / (m->hi[i] - m->lo[i]);
  double s = -m->rho;
  for (int k = 0; k < m->n_sv; k++) {
    const double *v = m->sv + (size_t)k * VIGIL_BRISQUE_NFEAT;
    double d = 0;
    for (int i = 0; i < VIGIL_BRISQUE_NFEAT; i++) d += (v[i] - x[i]) * (v[i] - x[i]);
    s += m->alpha[k] * exp(-m->gamma * d);
  }
  return s;
}

int vigil_brisque_score(double *score, const vigil_brisque *m, const vigil_image *im, char *err, size_t errlen) {
  double f[VIGIL_BRISQUE_NFEAT];
  int rc = vigil_brisque_features(f, im, err, errlen);
  if (rc) return rc;
  double v = vigil_brisque_predict(m, f);
  if (!isfinite(v)) return vigil_err(err, errlen, -1, "brisque: the score is not a number"), VIGIL_IMG_EINVAL;
  *score = v < 0 ? 0 : v > 100 ? 100 : v; /* the reference clamps too */
  return 0;
}
