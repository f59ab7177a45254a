/* Helpers shared by the hub-model adapters (src/models/hub_*.c): the crops
 * and normalisations of the published preprocessing configs, a test hook that
 * sees every input tensor an adapter builds, softmax and L2 normalisation,
 * and the pre-tokenised prompt files the export scripts write. Internal. */
#ifndef VIGIL_MODELS_HUB_COMMON_H
#define VIGIL_MODELS_HUB_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/runner.h"
#include "vigil/img.h"

/* Published normalisations, as fractions of 255. */
extern const float hub_imagenet_mean[3], hub_imagenet_std[3]; /* (0.485,0.456,0.406)/(0.229,0.224,0.225) */
extern const float hub_half_mean[3], hub_half_std[3];         /* 0.5 / 0.5 */
extern const float hub_clip_mean[3], hub_clip_std[3];         /* OpenAI CLIP */

/* Test hook: called with every input an adapter is about to run (adapter
 * name, tensors). One process-wide hook; set it only from tests, before the
 * adapters run. NULL removes it. */
typedef void (*hub_input_hook_fn)(void *ud, const char *adapter, const vrt_tensor *in, int nin);
void hub_set_input_hook(hub_input_hook_fn fn, void *ud);

/* runner_run after the hook. */
int hub_run(model_runner *r, const char *adapter, const vrt_tensor *in, int nin, vrt_tensor **outs, int *nout,
            char *err, size_t errlen);


/* Clips a box to the frame; -1 when nothing of it is inside or it is empty. */
int hub_clip_box(float *x1, float *y1, float *x2, float *y2, const vigil_image *frame);

/* The box (clipped) resized to ow x oh (area average when shrinking, as the
 * antialiased PIL resize of the HF processors does), written as NCHW floats
 * (x/255 - mean) / std, RGB. */
int hub_box_to_nchw(float *out, const vigil_image *frame, float x1, float y1, float x2, float y2, int ow, int oh,
                    const float mean[3], const float std[3]);

/* The model's first input when it is [B,3,H,W] float32 (NULL otherwise); *ih
 * and *iw (when not NULL) get H and W, or def_h / def_w where the export left
 * them dynamic. */
const vrt_tensor *hub_rgb_input(const vrt_model_t *m, int def_h, int def_w, int *ih, int *iw);

/* hub_box_to_nchw into a [1,3,oh,ow] float tensor named as the model's first
 * input, then hub_run on it. bad_box: the error when the box is empty, outside
 * the image, or the frame is not RGB. */
int hub_run_box(model_runner *r, const char *adapter, const vigil_image *frame, float x1, float y1, float x2, float y2,
                int ow, int oh, const float mean[3], const float std[3], const char *bad_box, vrt_tensor **outs,
                int *nout, char *err, size_t errlen);

/* Runs buf as a [1,3,oh,ow] float tensor named as the model's first input
 * (hub_run), then frees buf. */
int hub_run_nchw(model_runner *r, const char *adapter, float *buf, int ow, int oh, vrt_tensor **outs, int *nout,
                 char *err, size_t errlen);

/* hub_run_box for a classifier: output 0 must be n float logits (else an error
 * "<adapter>: expected logits [1,n] float32"); p gets their softmax. */
int hub_classify_box(model_runner *r, const char *adapter, const vigil_image *frame, float x1, float y1, float x2,
                     float y2, int ow, int oh, const float mean[3], const float std[3], const char *bad_box, float *p,
                     int n, char *err, size_t errlen);

/* Where a letterboxed box came from: the crop's top-left in the frame and the
 * letterbox. A model point maps back by vigil_letterbox_to_original, + x0, y0. */
typedef struct {
  int x0, y0;
  vigil_letterbox lb;
} hub_boxed;

/* Ultralytics' preprocessing of a box: clipped to the frame, cut out,
 * letterboxed to ow x oh with grey 114 (bilinear), RGB x/255 NCHW, then
 * hub_run_nchw. bad_box: the error when the box is empty, outside the image,
 * or the frame is not RGB. */
int hub_run_letterboxed(model_runner *r, const char *adapter, const vigil_image *frame, float x1, float y1, float x2,
                        float y2, int ow, int oh, const char *bad_box, hub_boxed *at, vrt_tensor **outs, int *nout,
                        char *err, size_t errlen);

/* Affine crop without rotation: output pixel (u, v) samples the frame at
 * (x0 + (u + 0.5) * sx - 0.5, y0 + (v + 0.5) * sy - 0.5) bilinearly; outside
 * the frame is black (0), as cv2.warpAffine's constant border. NCHW floats
 * normalised like hub_box_to_nchw. */
void hub_affine_to_nchw(float *out, const vigil_image *frame, float x0, float y0, float sx, float sy, int ow,
                        int oh, const float mean[3], const float std[3]);

void hub_softmax(float *p, const float *logits, int n);
/* Scales v to unit L2 norm; returns the norm before (0 leaves v as it is). */
float hub_l2_normalize(float *v, int n);
float hub_dot(const float *a, const float *b, int n);

/* Pre-tokenised prompts (tools/export writes them; vrt has no tokenizer):
 * lines "prompt<TAB>ids[<TAB>attention mask]", '#' lines are comments.
 * Every row has the same number of ids (len). */
typedef struct {
  int n, len;
  char **prompts;
  int64_t *ids;  /* n * len */
  int64_t *mask; /* n * len, or NULL when the file has none */
} hub_prompt_ids;

/* The labels of a classifier from its "id2label" metadata (a JSON object
 * {"0": "car", ...} the export scripts write): labels[i] for i < n, lower
 * case. Returns how many of the n ids it named (labels not named stay "").
 * 0 when the metadata is absent or not such an object. */
int hub_id2label(const char *meta, char (*labels)[48], int n);

/* The square centre crop of a box that a "shortest edge 256, centre crop
 * 224" processor sees (side = crop_pct * the box's shorter side). */
void hub_center_square(float *x1, float *y1, float *x2, float *y2, float crop_pct);

int hub_prompt_ids_load(hub_prompt_ids *p, const char *path, char *err, size_t errlen);
void hub_prompt_ids_free(hub_prompt_ids *p);
/* Row of a prompt, -1 if absent. */
int hub_prompt_ids_find(const hub_prompt_ids *p, const char *prompt);

#endif
