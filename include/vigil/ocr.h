/* Reading text in a photo: the PP-OCRv4 pipeline (text detector with DB
 * post-processing, angle classifier, CTC recogniser) on vrt, with the
 * published PaddleOCR defaults (docs/models.md, "PP-OCRv4").
 *
 * Ownership and threads: an ocr_engine is loaded once and shared; ocr_run may
 * be called from many threads at once (each run borrows its own sessions). An
 * ocr_result owns its lines (ocr_result_free). The DB, unclip, ordering and
 * CTC pieces are exposed for unit tests and are pure functions. */
#ifndef VIGIL_OCR_H
#define VIGIL_OCR_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/config.h"
#include "vigil/img.h"

#define OCR_TEXT_MAX 256 /* bytes of UTF-8 per line, NUL included; longer text is cut at a character */

typedef struct {
  float x, y;
} ocr_point;

typedef struct {
  int max_side;       /* det input: longest side at most this (multiple of 32), default 960 */
  float thresh;       /* binarisation of the probability map, 0.3 */
  float box_thresh;   /* minimum mean probability inside a box, 0.6 */
  float unclip_ratio; /* box growth: distance = area * ratio / perimeter, 1.5 */
  int min_size;       /* shortest side of a box in map pixels, 3 */
  int max_candidates; /* connected regions examined per image, 1000 */
  int max_lines;      /* lines recognised per image (after ordering), 200 */
  bool use_cls;       /* run the 0/180 degree classifier (when loaded), true */
  float cls_thresh;   /* flip a line when "180" scores above this, 0.9 */
  float drop_score;   /* lines whose recognition confidence is below this are dropped, 0.5 */
  int rec_batch;      /* lines per recogniser call, 6 */
} ocr_params;

ocr_params ocr_default_params(void);

typedef struct {
  char text[OCR_TEXT_MAX];
  float confidence; /* mean of the kept characters' probabilities */
  float box_score;  /* mean detector probability inside the box */
  ocr_point quad[4]; /* top-left, top-right, bottom-right, bottom-left, original-image pixels */
} ocr_line;

typedef struct {
  int n;
  ocr_line *lines;   /* reading order: top-to-bottom, then left-to-right */
  int candidates;    /* connected regions the detector's map had */
  bool capped;       /* candidates or lines were cut at max_candidates / max_lines */
  double det_ms, cls_ms, rec_ms; /* model time of each stage */
  double total_ms;
} ocr_result;

void ocr_result_free(ocr_result *r);
/* The lines' text joined by '\n' (malloc'ed; "" when there are none). */
char *ocr_result_text(const ocr_result *r);

typedef struct ocr_engine ocr_engine;

/* Loads the three models and the dictionary. cls may be NULL (no angle
 * classification). threads: per session. */
int ocr_load(ocr_engine **out, const char *det_path, const char *rec_path, const char *cls_path,
             const char *keys_path, int threads, char *err, size_t errlen);
/* The same from PPOCR_DET/REC/CLS_MODEL_PATH and PPOCR_KEYS_PATH (defaults:
 * $VIGIL_HOME/models/ocr/...); OCR_MAX_SIDE goes into *params when non-NULL. */
int ocr_load_config(ocr_engine **out, ocr_params *params, const vigil_config *cfg, char *err, size_t errlen);
void ocr_free(ocr_engine *e);
size_t ocr_memory_bytes(const ocr_engine *e);

/* Reads the text of `im` (RGB). An image without text gives n = 0, not an
 * error. Errors: a model failing, out of memory. */
int ocr_run(ocr_engine *e, ocr_result *out, const vigil_image *im, const ocr_params *p, char *err, size_t errlen);

/* Test and bench hook: sees every model call (stage "det", "cls" or "rec",
 * its input and vrt's output). One process-wide hook; NULL removes it. */
typedef struct vrt_tensor vrt_tensor;
typedef void (*ocr_stage_hook_fn)(void *ud, const char *stage, const vrt_tensor *in, const vrt_tensor *out);
void ocr_set_stage_hook(ocr_stage_hook_fn fn, void *ud);

/* ---- pieces, exposed for tests ------------------------------------------------- */

typedef struct {
  ocr_point quad[4]; /* map pixels */
  float score;
} ocr_box;

/* DB post-processing of a w x h probability map: binarise at p->thresh,
 * 8-connected regions (at most p->max_candidates), minimum-area rectangle,
 * box score, unclip, size filter. Writes at most `cap` boxes; returns how many,
 * -1 out of memory. *ncand (may be NULL) gets the number of regions. */
int ocr_db_boxes(ocr_box *out, int cap, const float *prob, int w, int h, const ocr_params *p, int *ncand);

/* Minimum-area enclosing rectangle of n points (rotating calipers over the
 * convex hull), as a quad ordered like ocr_line.quad. Returns its shorter side. */
float ocr_min_area_rect(ocr_point quad[4], const ocr_point *pts, int n);
/* Grows a rectangle quad outward by area * ratio / perimeter on every side
 * (the rounded offset of the published unclip, then its minimum-area box). */
void ocr_unclip(ocr_point quad[4], float ratio);
/* Mean of prob over the pixels inside the quad (pixel centres, edges included). */
float ocr_box_score(const float *prob, int w, int h, const ocr_point quad[4]);
/* Sorts quads top-to-bottom, then left-to-right for lines within 10 px. */
void ocr_sort_lines(ocr_line *lines, int n);

/* The recogniser's dictionary: index 0 is the CTC blank, 1..n the key file's
 * lines, n + 1 a space. */
typedef struct {
  int n;       /* entries including blank and space */
  char **sym;  /* UTF-8, sym[0] = "" (blank) */
  char *pool;
} ocr_dict;

int ocr_dict_load(ocr_dict *d, const char *path, char *err, size_t errlen);
void ocr_dict_free(ocr_dict *d);
/* CTC greedy decoding of T steps of C class probabilities: argmax per step,
 * repeats merged, blanks removed; indices outside the dictionary are dropped.
 * *conf = mean probability of the kept characters (0 if none). */
void ocr_ctc_decode(char *out, size_t cap, float *conf, const float *probs, int T, int C, const ocr_dict *d);

#endif
