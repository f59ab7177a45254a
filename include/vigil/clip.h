/* CLIP for vigil (openai/clip-vit-large-patch14 as ONNX exports the user supplies):
 * the byte-level BPE tokenizer, the image and text encoders, and the maths the CLIP
 * service and semantic search share (L2 normalisation, logit scale, softmax, the
 * rolling per-camera scene baseline).
 *
 * Ownership and threads: a clip_tokenizer and a clip_model are immutable once
 * loaded and may be shared by any number of threads (the encoders run through a
 * session pool). */
#ifndef VIGIL_CLIP_H
#define VIGIL_CLIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/img.h"

#define CLIP_CONTEXT 77      /* tokens per text, SOT and EOT included */
#define CLIP_MAX_TEXT 16384  /* bytes of text read; the rest could never reach the 77 tokens */

/* ---- tokenizer -------------------------------------------------------------------------- */

typedef struct clip_tokenizer clip_tokenizer;

/* Reads the model's vocab.json (token -> id) and merges.txt (one "a b" pair per line,
 * in rank order, an optional "#version" first line). The special tokens
 * <|startoftext|> and <|endoftext|> must be in the vocabulary. */
int clip_tokenizer_load(clip_tokenizer **out, const char *vocab_path, const char *merges_path, char *err,
                        size_t errlen);
/* The same from memory (the fuzz target's entry). */
int clip_tokenizer_load_mem(clip_tokenizer **out, const char *vocab_json, size_t vocab_len, const char *merges,
                            size_t merges_len, char *err, size_t errlen);
void clip_tokenizer_free(clip_tokenizer *t); /* NULL: no-op */
int clip_tokenizer_vocab_size(const clip_tokenizer *t);

/* CLIP's published text pipeline: HTML entities unescaped twice (numeric ones and
 * amp, lt, gt, quot, apos, nbsp: see docs/models.md), whitespace runs collapsed and
 * trimmed, lower-cased, split by CLIP's pattern (contractions, letter runs, single
 * digits, punctuation runs), each piece's UTF-8 bytes mapped to BPE symbols, merged by
 * rank, looked up; then <|startoftext|> ... <|endoftext|>, truncated to `ctx` with the
 * end token kept last, and padded with 0. ftfy's mojibake repair is not applied.
 * ids gets exactly ctx ids, *n_real (may be NULL) the count before padding.
 * Invalid UTF-8 is an error (-1 with err); text longer than CLIP_MAX_TEXT bytes is
 * read up to that length (it is truncated to ctx tokens anyway). */
int clip_tokenize(const clip_tokenizer *t, int32_t *ids, int ctx, int *n_real, const char *text, size_t len,
                  char *err, size_t errlen);

/* ---- the rolling scene baseline ------------------------------------------------------------ */

/* A camera's usual view: an exponential moving average of normalised scene
 * embeddings, renormalised after each update; `count` samples so far. It is warm
 * once count >= warm_after. */
typedef struct {
  int dim;
  int64_t count;
  float *mean; /* dim floats, owned */
} clip_baseline;

int clip_baseline_init(clip_baseline *b, int dim);
void clip_baseline_free(clip_baseline *b);
/* mean = normalize((1 - alpha) * mean + alpha * e), with alpha = max(1 / (count + 1),
 * min_alpha) so the first samples average evenly and later ones decay. */
void clip_baseline_update(clip_baseline *b, const float *e, float min_alpha);

/* The per-camera baselines as stored (src/models/clip_baselines.c): one SQLite file,
 * VIGIL_CLIP_BASELINES (unset: $VIGIL_HOME/clip-baselines.sqlite), shared by the CLIP
 * service and the pipeline. Thread-safe. A file that cannot be opened is logged and
 * the baselines then do not persist (every camera starts cold on every call). */
typedef struct clip_baselines clip_baselines;
int clip_baselines_open(clip_baselines **out, const char *path); /* path NULL: the config's */
void clip_baselines_close(clip_baselines *b);

typedef struct {
  bool have_baseline; /* the camera had samples before this one */
  float similarity;   /* cosine to the baseline (1 without one) */
  float anomaly_score;/* 1 - similarity (0 without a baseline) */
  bool warm;          /* the baseline had warm_after samples before this one */
  int64_t samples;    /* samples after the update */
} clip_anomaly;

/* Scores the normalised scene embedding e against the camera's baseline and, when
 * update, folds e into it, in one transaction. 0 or -1 (out of memory). */
int clip_baselines_score(clip_baselines *b, const char *camera, const float *e, int dim, bool update,
                         float min_alpha, long warm_after, clip_anomaly *out);

/* ---- model (vision.onnx, text.onnx, vocab.json, merges.txt, logit_scale.txt) ------------------- */

typedef struct clip_model clip_model;

/* Loads a CLIP export folder (tools/export/clip_vit_large_patch14.py writes it):
 *   vision.onnx   pixel_values [N,3,S,S] f32 -> image_embeds [N,D]
 *   text.onnx     input_ids [N,77] int64 (+ attention_mask [N,77] int64 when declared)
 *                 -> text_embeds [N,D]
 *   vocab.json, merges.txt, logit_scale.txt (the learned log scale; absent: log(100))
 * S and D are read from the models (224 and 768 for ViT-L/14). */
int clip_load(clip_model **out, const char *dir, int threads, char *err, size_t errlen);
/* The text tower only: text.onnx, vocab.json, merges.txt (no vision.onnx; then
 * clip_embed_image fails). YOLO-World's export folder holds such a tower. */
int clip_load_text(clip_model **out, const char *dir, int threads, char *err, size_t errlen);
void clip_free(clip_model *m);
/* One loaded export per folder per process (the CLIP service, the events API's
 * search and the pipeline share it); each acquire is paired with a release. */
int clip_shared_acquire(clip_model **out, const char *dir, char *err, size_t errlen);
void clip_shared_release(clip_model *m);
int clip_embed_dim(const clip_model *m);
float clip_logit_scale(const clip_model *m); /* exp(logit_scale) */
size_t clip_memory_bytes(const clip_model *m);
const clip_tokenizer *clip_model_tokenizer(const clip_model *m);

/* Image -> L2-normalised embedding (dim floats). CLIP preprocessing: shortest side
 * to S (bicubic-like: bilinear with area downscale), centre crop S x S, RGB / 255,
 * OpenAI's mean and std. */
int clip_embed_image(const clip_model *m, float *out, const vigil_image *im, char *err, size_t errlen);
/* n texts -> n L2-normalised embeddings (n * dim floats). */
int clip_embed_texts(const clip_model *m, float *out, const char *const *texts, const size_t *lens, int n,
                     char *err, size_t errlen);

#endif
