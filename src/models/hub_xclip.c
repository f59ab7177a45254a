/* Action recognition with X-CLIP (microsoft/xclip-base-patch32): 8 frames of
 * the person region against security action prompts, one ONNX graph (video
 * and text together, since X-CLIP's prompt generator conditions the text on
 * the video), prompts pre-tokenised by tools/export/xclip.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "models/runner.h"
#include "vigil/hub.h"
#include "vigil/status.h"

/* X(action name, prompt). tools/testmodels/hub_prompts.py reads this block:
 * keep one X per line. At most 16 (action_result holds 16). */
#define ACTION_PROMPTS(X)                                      \
  X("running", "a video of a person running")                  \
  X("walking", "a video of a person walking")                  \
  X("fighting", "a video of people fighting")                  \
  X("falling", "a video of a person falling down")             \
  X("loitering", "a video of a person loitering around")       \
  X("climbing", "a video of a person climbing a fence or wall") \
  X("sneaking", "a video of a person sneaking or creeping")    \
  X("breaking_in", "a video of a person breaking into a door or window") \
  X("hiding", "a video of a person crouching and hiding")      \
  X("standing", "a video of a person standing still")          \
  X("carrying_object", "a video of a person carrying a large object") \
  X("throwing", "a video of a person throwing something")      \
  X("kicking", "a video of a person kicking a door")           \
  X("vandalizing", "a video of a person vandalizing property") \
  X("peeking", "a video of a person looking into windows")     \
  X("delivering", "a video of a person delivering a package")

#define ACTION_NAME(n, p) n,
#define ACTION_TEXT(n, p) p,
static const char *const action_names[] = {ACTION_PROMPTS(ACTION_NAME)};
static const char *const action_texts[] = {ACTION_PROMPTS(ACTION_TEXT)};
#define NACTIONS ((int)(sizeof action_names / sizeof *action_names))
_Static_assert(NACTIONS <= 16, "action_result holds 16 actions");

/* The X-CLIP processor (preprocessor_config.json, VideoMAEImageProcessor):
 * shortest edge 224, bilinear, centre crop 224, rescale 1/255, OpenAI CLIP
 * mean/std; 8 frames sampled uniformly over the clip. */
#define XCLIP_SIZE 224
#define XCLIP_FRAMES 8
#define XCLIP_MAX_INPUT_FRAMES 32

struct xclip_model {
  model_runner run;
  int len;       /* ids per prompt */
  int64_t *ids;  /* NACTIONS x len */
  int64_t *mask; /* NACTIONS x len */
  int in_pix, in_ids, in_mask;
};

static int input_index(const vrt_model_t *m, const char *name, int fallback) {
  for (int i = 0; i < vrt_model_num_inputs(m); i++)
    if (!strcmp(vrt_model_input(m, i)->name, name)) return i;
  return fallback;
}

int xclip_load(xclip_model **out, const char *dir, char *err, size_t errlen) {
  *out = NULL;
  xclip_model *m = calloc(1, sizeof *m);
  if (!m) return vigil_err(err, errlen, -1, "out of memory");
  char path[4096];
  hub_prompt_ids ids = {0};
  snprintf(path, sizeof path, "%s/xclip.onnx", dir);
  int rc = runner_load(&m->run, path, 1, err, errlen);
  if (!rc) {
    snprintf(path, sizeof path, "%s/prompt_ids.txt", dir);
    rc = hub_prompt_ids_load(&ids, path, err, errlen);
  }
  if (!rc && vrt_model_num_inputs(m->run.m) != 3)
    rc = vigil_err(err, errlen, -1, "xclip: expected inputs pixel_values, input_ids, attention_mask");
  if (!rc) {
    m->in_pix = input_index(m->run.m, "pixel_values", 0);
    m->in_ids = input_index(m->run.m, "input_ids", 1);
    m->in_mask = input_index(m->run.m, "attention_mask", 2);
    const vrt_tensor *p = vrt_model_input(m->run.m, m->in_pix);
    if (m->in_pix == m->in_ids || m->in_ids == m->in_mask || m->in_pix == m->in_mask || p->ndim != 5 ||
        p->dtype != VRT_F32 || (p->dims[1] > 0 && p->dims[1] != XCLIP_FRAMES) || (p->dims[2] > 0 && p->dims[2] != 3))
      rc = vigil_err(err, errlen, -1, "xclip: expected pixel_values [B,8,3,224,224] float32");
  }
  if (!rc) {
    m->len = ids.len;
    m->ids = malloc(sizeof *m->ids * (size_t)NACTIONS * (size_t)ids.len);
    m->mask = malloc(sizeof *m->mask * (size_t)NACTIONS * (size_t)ids.len);
    if (!m->ids || !m->mask) rc = vigil_err(err, errlen, -1, "out of memory");
  }
  for (int i = 0; !rc && i < NACTIONS; i++) {
    int r = hub_prompt_ids_find(&ids, action_texts[i]);
    if (r < 0) {
      rc = vigil_err(err, errlen, -1, "xclip: prompt \"%s\" is not in prompt_ids.txt (rerun tools/export/xclip.py)",
                    action_texts[i]);
      break;
    }
    memcpy(m->ids + (size_t)i * m->len, ids.ids + (size_t)r * m->len, sizeof *m->ids * (size_t)m->len);
    for (int k = 0; k < m->len; k++) m->mask[(size_t)i * m->len + k] = ids.mask ? ids.mask[(size_t)r * m->len + k] : 1;
  }
  hub_prompt_ids_free(&ids);
  if (rc) {
    xclip_free(m);
    return -1;
  }
  *out = m;
  return 0;
}

void xclip_free(xclip_model *m) {
  if (!m) return;
  runner_free(&m->run);
  free(m->ids);
  free(m->mask);
  free(m);
}

size_t xclip_memory_bytes(const xclip_model *m) { return m ? runner_memory_bytes(&m->run) : 0; }

/* One frame's region: shortest edge to 224, centre crop, CLIP-normalised NCHW. */
static int frame_to_nchw(float *dst, const vigil_image *f, float x1, float y1, float x2, float y2) {
  if (f->c != 3 || hub_clip_box(&x1, &y1, &x2, &y2, f)) return -1;
  int cx = (int)floorf(x1), cy = (int)floorf(y1), cw = (int)ceilf(x2) - cx, ch = (int)ceilf(y2) - cy;
  vigil_image crop = {0}, rs = {0}, cc = {0};
  if (vigil_img_crop(&crop, f, cx, cy, cw, ch)) return -1;
  float s = (float)XCLIP_SIZE / (float)(cw < ch ? cw : ch);
  int rw = cw < ch ? XCLIP_SIZE : (int)lroundf((float)cw * s), rh = cw < ch ? (int)lroundf((float)ch * s) : XCLIP_SIZE;
  if (rw < XCLIP_SIZE) rw = XCLIP_SIZE;
  if (rh < XCLIP_SIZE) rh = XCLIP_SIZE;
  int rc = vigil_img_resize(&rs, &crop, rw, rh, VIGIL_RESIZE_AREA);
  vigil_image_free(&crop);
  if (!rc) rc = vigil_img_crop(&cc, &rs, (rw - XCLIP_SIZE) / 2, (rh - XCLIP_SIZE) / 2, XCLIP_SIZE, XCLIP_SIZE);
  vigil_image_free(&rs);
  if (rc) return -1;
  float m[3], sd[3];
  for (int c = 0; c < 3; c++) m[c] = hub_clip_mean[c] * 255.0f, sd[c] = hub_clip_std[c] * 255.0f;
  vigil_img_to_f32(dst, &cc, VIGIL_LAYOUT_NCHW, m, sd, false);
  vigil_image_free(&cc);
  return 0;
}

int xclip_action(xclip_model *m, action_result *out, const vigil_image *const *frames, int nframes, float x1,
                 float y1, float x2, float y2, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (nframes < 2) return vigil_err(err, errlen, -1, "xclip: action needs at least 2 frames (got %d)", nframes);
  if (nframes > XCLIP_MAX_INPUT_FRAMES)
    return vigil_err(err, errlen, -1, "xclip: at most %d frames (got %d)", XCLIP_MAX_INPUT_FRAMES, nframes);
  for (int i = 0; i < nframes; i++)
    if (!frames[i] || frames[i]->w != frames[0]->w || frames[i]->h != frames[0]->h)
      return vigil_err(err, errlen, -1, "xclip: every frame must have the size of the first");
  size_t per = 3 * (size_t)XCLIP_SIZE * XCLIP_SIZE;
  float *pix = malloc(sizeof(float) * per * XCLIP_FRAMES);
  if (!pix) return vigil_err(err, errlen, -1, "out of memory");
  /* 8 frames spread evenly over the clip; fewer than 8 repeat */
  for (int t = 0; t < XCLIP_FRAMES; t++) {
    int src = (int)((long)t * nframes / XCLIP_FRAMES);
    if (frame_to_nchw(pix + per * (size_t)t, frames[src], x1, y1, x2, y2)) {
      free(pix);
      return vigil_err(err, errlen, -1, "person box is empty or outside the image");
    }
  }
  vrt_tensor in[3];
  memset(in, 0, sizeof in);
  in[m->in_pix] = (vrt_tensor){.name = vrt_model_input(m->run.m, m->in_pix)->name, .dtype = VRT_F32, .ndim = 5,
                               .dims = {1, XCLIP_FRAMES, 3, XCLIP_SIZE, XCLIP_SIZE}, .data = pix,
                               .nbytes = sizeof(float) * per * XCLIP_FRAMES};
  in[m->in_ids] = (vrt_tensor){.name = vrt_model_input(m->run.m, m->in_ids)->name, .dtype = VRT_I64, .ndim = 2,
                               .dims = {NACTIONS, m->len}, .data = m->ids,
                               .nbytes = sizeof(int64_t) * (size_t)NACTIONS * (size_t)m->len};
  in[m->in_mask] = (vrt_tensor){.name = vrt_model_input(m->run.m, m->in_mask)->name, .dtype = VRT_I64, .ndim = 2,
                                .dims = {NACTIONS, m->len}, .data = m->mask,
                                .nbytes = sizeof(int64_t) * (size_t)NACTIONS * (size_t)m->len};
  vrt_tensor *o;
  int n;
  int rc = hub_run(&m->run, "xclip-base", in, 3, &o, &n, err, errlen);
  free(pix);
  if (rc) return rc;
  const vrt_tensor *lv = NULL;
  for (int i = 0; i < n; i++)
    if (o[i].name && !strcmp(o[i].name, "logits_per_video")) lv = &o[i];
  if (!lv && n) lv = &o[0];
  if (!lv || lv->dtype != VRT_F32 || vrt_tensor_numel(lv) != NACTIONS) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "xclip: expected logits_per_video [1,%d]", NACTIONS);
  }
  float p[NACTIONS];
  hub_softmax(p, lv->data, NACTIONS);
  runner_outputs_free(o, n);
  int best = 0;
  out->n = NACTIONS;
  for (int i = 0; i < NACTIONS; i++) {
    snprintf(out->names[i], sizeof out->names[i], "%s", action_names[i]);
    out->scores[i] = p[i];
    if (p[i] > p[best]) best = i;
  }
  snprintf(out->action, sizeof out->action, "%s", action_names[best]);
  out->confidence = p[best];
  return 0;
}
