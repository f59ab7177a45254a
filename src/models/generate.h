/* Autoregressive decoding for encoder-decoder models (Florence-2): greedy and beam
 * search over a step function that owns the model and its key/value cache.
 *
 * The step function is called once per generated position with one token per live
 * beam (the last token of each) and the index of the beam each one continues
 * (`parent`): before computing, it must reorder its cache rows so that row i holds
 * the cache of old row parent[i] (beams are reordered, duplicated or dropped between
 * steps). It writes vocab logits per beam. The first call has step 0 and parent[i] = i.
 * Nothing here allocates per step beyond the beams' token histories. */
#ifndef VIGIL_MODELS_GENERATE_H
#define VIGIL_MODELS_GENERATE_H

#include <stddef.h>
#include <stdint.h>

typedef int (*gen_step_fn)(void *ud, int step, const int32_t *tokens, const int *parent, int n_beams, float *logits,
                           char *err, size_t errlen);

typedef struct {
  int num_beams;            /* 1 = greedy */
  int max_new_tokens;       /* hard cap on generated tokens (a model that never stops is cut here) */
  int32_t decoder_start_id; /* fed at step 0 (BART: </s> = 2) */
  int32_t forced_bos_id;    /* forced as the first generated token (BART: <s> = 0), -1 = none */
  int32_t eos_id;           /* ends a hypothesis (</s> = 2) */
  int no_repeat_ngram;      /* forbid repeating an n-gram of this size (0 = off) */
  float length_penalty;     /* beam score = sum log p / length^penalty (1.0) */
  int early_stopping;       /* stop when num_beams hypotheses are done (1) */
} gen_params;

gen_params gen_default_params(void);

typedef struct {
  int32_t *tokens; /* generated tokens, forced BOS included, EOS excluded; malloc'ed */
  int n;
  float score;     /* the hypothesis' length-normalised log probability */
  int finished;    /* ended by EOS (0: cut at max_new_tokens) */
} gen_result;

/* Runs the search; 0 or -1 with err (the step's error, or out of memory). */
int gen_run(gen_result *out, gen_params p, int vocab, gen_step_fn step, void *ud, char *err, size_t errlen);
void gen_result_free(gen_result *r);

#endif
