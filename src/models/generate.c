/* Greedy and beam search (see generate.h).
 *
 * Beam search keeps `num_beams` live hypotheses. At each step every live beam's
 * next-token log probabilities are added to its score and the best 2 x num_beams
 * (beam, token) pairs are taken in order: a pair ending in EOS becomes a finished
 * hypothesis (only when it ranks among the first num_beams, so a beam is not
 * finished early on a long shot), the others become the next live beams until there
 * are num_beams of them. Finished hypotheses are compared by score / length^penalty
 * (length counts the start token), at most num_beams are kept. With early stopping,
 * the search ends as soon as num_beams hypotheses are finished; without it, when no
 * live beam can still beat the worst finished one. At max_new_tokens the live beams
 * join the finished ones, marked unfinished. Greedy decoding is the same with one
 * beam: the best token each step, until EOS.
 *
 * Constraints applied to the log probabilities before the choice: the forced first
 * token (BART's <s>), and no repeated n-gram of size no_repeat_ngram within a
 * hypothesis. */
#include "models/generate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/status.h"

gen_params gen_default_params(void) {
  /* the search of Florence's generation config; BART's special tokens (</s> = 2, <s> = 0) */
  return (gen_params){.num_beams = 3, .max_new_tokens = 1024, .no_repeat_ngram = 3, .length_penalty = 1.0f,
                      .early_stopping = 1, .decoder_start_id = 2, .forced_bos_id = 0, .eos_id = 2};
}

void gen_result_free(gen_result *r) {
  if (!r) return;
  free(r->tokens);
  memset(r, 0, sizeof *r);
}

typedef struct {
  int32_t *tok; /* generated tokens */
  int n;
  float score;
} hyp;

typedef struct {
  hyp *h;
  int n, cap;
  float worst;
} finished_set;

static float norm_score(float s, int len, float lp) { return s / powf((float)(len + 1), lp); }

/* Adds a finished hypothesis (copying tokens) if it is among the best `cap`. */
static int finished_add(finished_set *f, const int32_t *tok, int n, float score) {
  int slot = -1;
  if (f->n < f->cap) slot = f->n++;
  else {
    int w = 0;
    for (int i = 1; i < f->n; i++)
      if (f->h[i].score < f->h[w].score) w = i;
    if (score <= f->h[w].score) return 0;
    slot = w;
    free(f->h[w].tok);
  }
  f->h[slot].tok = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!f->h[slot].tok) return -1;
  memcpy(f->h[slot].tok, tok, sizeof(int32_t) * (size_t)n);
  f->h[slot].n = n;
  f->h[slot].score = score;
  f->worst = f->h[0].score;
  for (int i = 1; i < f->n; i++)
    if (f->h[i].score < f->worst) f->worst = f->h[i].score;
  return 0;
}

/* log_softmax in place */
static void log_softmax(float *x, int n) {
  float m = -INFINITY;
  for (int i = 0; i < n; i++)
    if (x[i] > m) m = x[i];
  double z = 0;
  for (int i = 0; i < n; i++) z += exp((double)(x[i] - m));
  float lz = m + (float)log(z);
  for (int i = 0; i < n; i++) x[i] -= lz;
}

/* Bans every token that would complete an n-gram already present in tok[0..n). */
static void ban_repeats(float *lp, const int32_t *tok, int n, int ng, int vocab) {
  if (ng <= 0 || n + 1 < ng) return;
  const int32_t *tail = tok + n - (ng - 1); /* the last ng-1 tokens */
  for (int s = 0; s + ng <= n; s++) {
    if (ng > 1 && memcmp(tok + s, tail, sizeof(int32_t) * (size_t)(ng - 1))) continue;
    int32_t t = tok[s + ng - 1];
    if (t >= 0 && t < vocab) lp[t] = -INFINITY;
  }
}

typedef struct {
  float score;
  int beam;
  int32_t tok;
} cand;

static int cand_cmp(const void *a, const void *b) {
  float x = ((const cand *)a)->score, y = ((const cand *)b)->score;
  return x < y ? 1 : x > y ? -1 : 0;
}

int gen_run(gen_result *out, gen_params p, int vocab, gen_step_fn step, void *ud, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (p.num_beams < 1 || p.num_beams > 64 || p.max_new_tokens < 1 || vocab < 2)
    return vigil_err(err, errlen, -1, "generate: num_beams 1..64, max_new_tokens >= 1");
  int K = p.num_beams, T = p.max_new_tokens, ncand = 2 * K;
  float *logits = malloc(sizeof(float) * (size_t)K * (size_t)vocab);
  hyp *live = calloc((size_t)K, sizeof *live), *next = calloc((size_t)K, sizeof *next);
  cand *cands = malloc(sizeof(cand) * (size_t)K * (size_t)ncand);
  int32_t *last = malloc(sizeof(int32_t) * (size_t)K);
  int *parent = malloc(sizeof(int) * (size_t)K);
  finished_set fin = {.h = calloc((size_t)K, sizeof(hyp)), .cap = K, .worst = -INFINITY};
  int rc = -1;
  if (!logits || !live || !next || !cands || !last || !parent || !fin.h) {
    vigil_err(err, errlen, -1, "generate: out of memory");
    goto out;
  }
  for (int i = 0; i < K; i++) {
    live[i].tok = malloc(sizeof(int32_t) * (size_t)T);
    next[i].tok = malloc(sizeof(int32_t) * (size_t)T);
    if (!live[i].tok || !next[i].tok) {
      vigil_err(err, errlen, -1, "generate: out of memory");
      goto out;
    }
  }
  int nlive = 1;
  live[0].n = 0, live[0].score = 0;
  last[0] = p.decoder_start_id, parent[0] = 0;
  int t;
  for (t = 0; t < T; t++) {
    if (step(ud, t, last, parent, nlive, logits, err, errlen)) goto out;
    int nc = 0;
    for (int b = 0; b < nlive; b++) {
      float *lp = logits + (size_t)b * vocab;
      log_softmax(lp, vocab);
      if (t == 0 && p.forced_bos_id >= 0 && p.forced_bos_id < vocab) {
        float keep = 0; /* forced: probability 1 */
        for (int v = 0; v < vocab; v++) lp[v] = -INFINITY;
        lp[p.forced_bos_id] = keep;
      }
      ban_repeats(lp, live[b].tok, live[b].n, p.no_repeat_ngram, vocab);
      /* this beam's best ncand tokens (partial selection) */
      cand *c = cands + nc;
      int m = 0;
      for (int v = 0; v < vocab; v++) {
        if (lp[v] == -INFINITY) continue;
        float s = live[b].score + lp[v];
        if (m < ncand) {
          c[m++] = (cand){s, b, v};
          continue;
        }
        int w = 0;
        for (int k = 1; k < m; k++)
          if (c[k].score < c[w].score) w = k;
        if (s > c[w].score) c[w] = (cand){s, b, v};
      }
      nc += m;
    }
    if (!nc) break; /* every token banned: nothing can continue */
    qsort(cands, (size_t)nc, sizeof *cands, cand_cmp);
    int nn = 0;
    for (int r = 0; r < nc && nn < K; r++) {
      const cand *c = &cands[r];
      const hyp *src = &live[c->beam];
      if (c->tok == p.eos_id) {
        if (r >= K) continue;
        if (finished_add(&fin, src->tok, src->n, norm_score(c->score, src->n + 1, p.length_penalty))) {
          vigil_err(err, errlen, -1, "generate: out of memory");
          goto out;
        }
        continue;
      }
      memcpy(next[nn].tok, src->tok, sizeof(int32_t) * (size_t)src->n);
      next[nn].tok[src->n] = c->tok;
      next[nn].n = src->n + 1;
      next[nn].score = c->score;
      parent[nn] = c->beam;
      last[nn] = c->tok;
      nn++;
    }
    for (int i = 0; i < nn; i++) { /* swap buffers */
      hyp tmp = live[i];
      live[i] = next[i];
      next[i] = tmp;
    }
    nlive = nn;
    if (!nlive) break;
    if (fin.n == K) {
      if (p.early_stopping) break;
      float best_live = -INFINITY;
      for (int i = 0; i < nlive; i++) {
        float s = norm_score(live[i].score, live[i].n, p.length_penalty);
        if (s > best_live) best_live = s;
      }
      if (best_live <= fin.worst) break;
    }
  }
  /* the pick: the best finished hypothesis, else the best live one (cut at the cap) */
  int best = -1;
  for (int i = 0; i < fin.n; i++)
    if (best < 0 || fin.h[i].score > fin.h[best].score) best = i;
  if (best >= 0 && (fin.n == K || t < T)) {
    out->n = fin.h[best].n;
    out->score = fin.h[best].score;
    out->finished = 1;
    out->tokens = fin.h[best].tok;
    fin.h[best].tok = NULL;
  } else {
    int bl = -1;
    float bs = -INFINITY;
    for (int i = 0; i < nlive; i++) {
      float s = norm_score(live[i].score, live[i].n, p.length_penalty);
      if (bl < 0 || s > bs) bl = i, bs = s;
    }
    if (best >= 0 && (bl < 0 || fin.h[best].score >= bs)) {
      out->n = fin.h[best].n, out->score = fin.h[best].score, out->finished = 1;
      out->tokens = fin.h[best].tok;
      fin.h[best].tok = NULL;
    } else if (bl >= 0) {
      out->n = live[bl].n, out->score = bs, out->finished = 0;
      out->tokens = malloc(sizeof(int32_t) * (size_t)(live[bl].n ? live[bl].n : 1));
      if (!out->tokens) {
        vigil_err(err, errlen, -1, "generate: out of memory");
        goto out;
      }
      memcpy(out->tokens, live[bl].tok, sizeof(int32_t) * (size_t)live[bl].n);
    } else {
      out->tokens = malloc(sizeof(int32_t));
      if (!out->tokens) {
        vigil_err(err, errlen, -1, "generate: out of memory");
        goto out;
      }
    }
  }
  rc = 0;
out:
  for (int i = 0; i < K && live && next; i++) free(live[i].tok), free(next[i].tok);
  for (int i = 0; fin.h && i < fin.n; i++) free(fin.h[i].tok);
  free(fin.h), free(logits), free(live), free(next), free(cands), free(last), free(parent);
  return rc;
}
