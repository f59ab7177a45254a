/* Florence-2 for vigil (microsoft/Florence-2-large as ONNX exports the user supplies):
 * the task prompts of model-zoo.md, the BART tokenizer, the encoder-decoder generation
 * loop (greedy or beam search with a key/value cache), and the post-processing that
 * turns generated text with <loc_N> tokens into captions, boxes and text regions in
 * image pixels.
 *
 * Ownership and threads: a florence_model is immutable once loaded and may be shared
 * by any number of threads (its five graphs run through session pools). */
#ifndef VIGIL_FLORENCE_H
#define VIGIL_FLORENCE_H

#include <stddef.h>

#include "vigil/img.h"

typedef enum {
  FLORENCE_CAPTION,
  FLORENCE_DETAILED_CAPTION,
  FLORENCE_MORE_DETAILED_CAPTION,
  FLORENCE_OD,
  FLORENCE_DENSE_REGION_CAPTION,
  FLORENCE_REGION_PROPOSAL,
  FLORENCE_OCR,
  FLORENCE_OCR_WITH_REGION,
  FLORENCE_NTASKS
} florence_task;

/* "<CAPTION>" -> FLORENCE_CAPTION, ...; -1 for an unknown prompt. */
int florence_task_parse(const char *prompt);
const char *florence_task_prompt(florence_task t);   /* "<OD>" */
const char *florence_task_question(florence_task t); /* the text the model is asked */

#define FLORENCE_MAX_ITEMS 256 /* boxes or regions kept from one answer */

typedef struct {
  char label[128];
  float x1, y1, x2, y2;
} florence_box;

typedef struct {
  char text[256];
  float quad[8]; /* x1,y1 .. x4,y4 clockwise from top-left, pixels */
} florence_region;

typedef struct {
  florence_task task;
  char *text; /* the answer without special or location tokens (captions, OCR) */
  florence_box *boxes;
  int n_boxes; /* OD, DENSE_REGION_CAPTION, REGION_PROPOSAL */
  florence_region *regions;
  int n_regions; /* OCR_WITH_REGION */
  int n_tokens;  /* tokens generated */
  int truncated; /* cut at max_new_tokens before the model ended */
} florence_result;

/* Generated text -> result for the task, locations scaled to a w x h image
 * (bin N of 1000 is the pixel coordinate (N + 0.5) * size / 1000). 0 or -1 (OOM). */
int florence_parse(florence_result *out, florence_task t, const char *generated, int w, int h);
void florence_result_free(florence_result *r);

/* ---- the model ------------------------------------------------------------------------- */

typedef struct florence_model florence_model;

/* An export folder (tools/export/florence_2_large.py): vision_encoder.onnx,
 * embed_tokens.onnx, encoder_model.onnx, decoder_model.onnx,
 * decoder_with_past_model.onnx, vocab.json, merges.txt. */
int florence_load(florence_model **out, const char *dir, int threads, char *err, size_t errlen);
void florence_free(florence_model *m);
size_t florence_memory_bytes(const florence_model *m);

typedef struct {
  int num_beams;      /* 3 (Florence's generation config); 1 = greedy */
  int max_new_tokens; /* 1024; an answer that never ends is cut here */
} florence_params;

florence_params florence_default_params(void);

int florence_run(const florence_model *m, florence_result *out, florence_task t, const vigil_image *im,
                 florence_params p, char *err, size_t errlen);

/* What florence_run feeds the graphs, for a reference runtime driven with the same
 * input (`vigil bench clip`): the question's ids (<s> ... </s>, malloc'ed, *n of
 * them; NULL when out of memory), the vision encoder's square side, <s> and </s>. */
int32_t *florence_question_ids(const florence_model *m, florence_task t, int *n);
int florence_image_size(const florence_model *m);
void florence_special_ids(const florence_model *m, int32_t *bos, int32_t *eos);

#endif
