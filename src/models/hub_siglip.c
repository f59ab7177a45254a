/* Clothing by zero-shot Marqo-FashionSigLIP over SECURITY_CLOTHING_PROMPTS:
 * the text tower runs once at load over pre-tokenised prompts and is freed,
 * the image tower per person; colour from the torso when the prompt has none. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "models/runner.h"
#include "vigil/hub.h"
#include "vigil/scene_models.h"
#include "vigil/status.h"

/* Every prompt model-zoo.md names, then the security ones it elides.
 * X(prompt, clothing_type, colour ("" = from the torso), style, suspicious,
 * service uniform). tools/testmodels/hub_prompts.py reads this block, so the
 * export script tokenises exactly these strings: keep one X per line. */
#define CLOTHING_PROMPTS(X)                                                               \
  X("person wearing dark hoodie", "hoodie", "dark", "suspicious", 1, 0)                   \
  X("person wearing face mask", "face_mask", "", "suspicious", 1, 0)                      \
  X("person wearing ski mask or balaclava", "balaclava", "", "suspicious", 1, 0)          \
  X("delivery uniform", "delivery_uniform", "", "service_uniform", 0, 1)                  \
  X("Amazon delivery vest", "delivery_vest", "blue", "service_uniform", 0, 1)             \
  X("FedEx uniform", "fedex_uniform", "", "service_uniform", 0, 1)                        \
  X("UPS uniform", "ups_uniform", "brown", "service_uniform", 0, 1)                       \
  X("USPS postal worker uniform", "postal_uniform", "", "service_uniform", 0, 1)          \
  X("casual clothing", "casual", "", "casual", 0, 0)                                      \
  X("business attire or suit", "suit", "", "formal", 0, 0)                                \
  X("person with hood up covering their head", "hood_up", "", "suspicious", 1, 0)        \
  X("person wearing gloves", "gloves", "", "suspicious", 1, 0)                            \
  X("person wearing all black clothing", "dark_clothing", "black", "suspicious", 1, 0)    \
  X("person with face covered by scarf or bandana", "face_covering", "", "suspicious", 1, 0) \
  X("person wearing sunglasses and cap pulled low", "cap_and_sunglasses", "", "suspicious", 1, 0) \
  X("person wearing camouflage clothing", "camouflage", "", "suspicious", 1, 0)           \
  X("person wearing high-visibility safety vest", "hi_vis_vest", "", "service_uniform", 0, 1) \
  X("police officer uniform", "police_uniform", "", "service_uniform", 0, 1)              \
  X("security guard uniform", "security_uniform", "", "service_uniform", 0, 1)            \
  X("medical scrubs", "scrubs", "", "service_uniform", 0, 1)                              \
  X("firefighter uniform", "firefighter_uniform", "", "service_uniform", 0, 1)            \
  X("utility worker or technician uniform", "utility_uniform", "", "service_uniform", 0, 1) \
  X("construction worker with hard hat", "construction_gear", "", "service_uniform", 0, 1) \
  X("DHL delivery uniform", "dhl_uniform", "yellow", "service_uniform", 0, 1)             \
  X("food delivery courier with insulated backpack", "courier", "", "service_uniform", 0, 1) \
  X("person wearing t-shirt and jeans", "t_shirt", "", "casual", 0, 0)                    \
  X("person wearing winter coat or jacket", "jacket", "", "casual", 0, 0)                 \
  X("person wearing raincoat", "raincoat", "", "casual", 0, 0)                            \
  X("person wearing athletic sportswear", "sportswear", "", "athletic", 0, 0)             \
  X("person wearing shorts", "shorts", "", "casual", 0, 0)                                \
  X("person wearing a dress", "dress", "", "casual", 0, 0)                                \
  X("person wearing pajamas or sleepwear", "sleepwear", "", "casual", 0, 0)               \
  X("person wearing a backpack", "backpack", "", "casual", 0, 0)                          \
  X("person wearing baseball cap", "cap", "", "casual", 0, 0)

#define PROMPT_TEXT(p, t, c, s, sus, uni) p,
const char *const security_clothing_prompts[] = {CLOTHING_PROMPTS(PROMPT_TEXT) NULL};

typedef struct {
  const char *type, *color, *style;
  bool suspicious, uniform;
} prompt_info;
#define PROMPT_INFO(p, t, c, s, sus, uni) {t, c, s, sus, uni},
static const prompt_info prompt_infos[] = {CLOTHING_PROMPTS(PROMPT_INFO)};
#define NPROMPTS ((int)(sizeof prompt_infos / sizeof *prompt_infos))

/* Marqo-FashionSigLIP (open_clip ViT-B-16-SigLIP, its preprocess config):
 * 224 x 224, resize mode "squash", mean 0.5, std 0.5, RGB, text context 64.
 * open_clip resizes bicubic; vrt's toolkit has area/bilinear, so the box is
 * area-averaged (docs/models.md notes it). Zero-shot probabilities as the
 * model card computes them: softmax(100 * cosine). */
#define SIGLIP_SIZE 224
#define SIGLIP_SCALE 100.0f

struct siglip_model {
  model_runner vision;
  int dim;
  float *text_emb; /* NPROMPTS x dim, L2-normalised */
  size_t text_bytes;
};

static const vrt_tensor *output_named(vrt_tensor *o, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (o[i].name && !strcmp(o[i].name, name)) return &o[i];
  return n ? &o[0] : NULL;
}

/* Runs the text tower over the prompt set in batches the model accepts. */
static int embed_prompts(siglip_model *m, model_runner *text, const hub_prompt_ids *ids, char *err, size_t errlen) {
  int rows[NPROMPTS];
  for (int i = 0; i < NPROMPTS; i++) {
    rows[i] = hub_prompt_ids_find(ids, security_clothing_prompts[i]);
    if (rows[i] < 0)
      return vigil_err(err, errlen, -1, "fashion-clip: prompt \"%s\" is not in prompt_ids.txt (rerun tools/export/fashion_siglip.py)",
                      security_clothing_prompts[i]);
  }
  int nin = vrt_model_num_inputs(text->m);
  const vrt_tensor *d0 = vrt_model_input(text->m, 0);
  if (!d0 || d0->ndim != 2 || (nin != 1 && nin != 2) || (d0->dims[1] > 0 && d0->dims[1] != ids->len))
    return vigil_err(err, errlen, -1, "fashion-clip: text tower wants input_ids [B,%lld]; prompt_ids.txt has %d ids a row",
                    d0 && d0->ndim == 2 ? (long long)d0->dims[1] : -1LL, ids->len);
  int batch = d0->dims[0] > 0 ? (int)d0->dims[0] : NPROMPTS;
  int64_t *tok = malloc(sizeof *tok * (size_t)batch * (size_t)ids->len * 2);
  if (!tok) return vigil_err(err, errlen, -1, "out of memory");
  int64_t *mask = tok + (size_t)batch * (size_t)ids->len;
  int rc = 0;
  for (int b0 = 0; !rc && b0 < NPROMPTS; b0 += batch) {
    for (int j = 0; j < batch; j++) {
      int r = rows[b0 + j < NPROMPTS ? b0 + j : NPROMPTS - 1]; /* a static batch is filled with the last row */
      memcpy(tok + (size_t)j * ids->len, ids->ids + (size_t)r * ids->len, sizeof *tok * (size_t)ids->len);
      for (int k = 0; k < ids->len; k++)
        mask[(size_t)j * ids->len + k] = ids->mask ? ids->mask[(size_t)r * ids->len + k] : 1;
    }
    vrt_tensor in[2] = {
        {.name = d0->name, .dtype = VRT_I64, .ndim = 2, .dims = {batch, ids->len}, .data = tok,
         .nbytes = sizeof *tok * (size_t)batch * (size_t)ids->len},
        {.name = nin == 2 ? vrt_model_input(text->m, 1)->name : NULL, .dtype = VRT_I64, .ndim = 2,
         .dims = {batch, ids->len}, .data = mask, .nbytes = sizeof *tok * (size_t)batch * (size_t)ids->len}};
    vrt_tensor *o;
    int n;
    rc = hub_run(text, "fashion-clip-text", in, nin, &o, &n, err, errlen);
    if (rc) break;
    const vrt_tensor *t = output_named(o, n, "text_embeds");
    if (!t || t->dtype != VRT_F32 || t->ndim != 2 || t->dims[0] != batch || t->dims[1] < 1 ||
        (m->dim && t->dims[1] != m->dim) || t->dims[1] > 8192) {
      rc = vigil_err(err, errlen, -1, "fashion-clip: expected text_embeds [B,D]");
    } else {
      if (!m->dim) {
        m->dim = (int)t->dims[1];
        m->text_bytes = sizeof(float) * (size_t)NPROMPTS * (size_t)m->dim;
        if (!(m->text_emb = malloc(m->text_bytes))) rc = vigil_err(err, errlen, -1, "out of memory");
      }
      for (int j = 0; !rc && j < batch && b0 + j < NPROMPTS; j++) {
        float *e = m->text_emb + (size_t)(b0 + j) * (size_t)m->dim;
        memcpy(e, (const float *)t->data + (size_t)j * (size_t)m->dim, sizeof(float) * (size_t)m->dim);
        hub_l2_normalize(e, m->dim);
      }
    }
    runner_outputs_free(o, n);
  }
  free(tok);
  return rc;
}

int siglip_load(siglip_model **out, const char *dir, char *err, size_t errlen) {
  *out = NULL;
  siglip_model *m = calloc(1, sizeof *m);
  if (!m) return vigil_err(err, errlen, -1, "out of memory");
  char path[4096];
  model_runner text = {0};
  hub_prompt_ids ids = {0};
  snprintf(path, sizeof path, "%s/vision.onnx", dir);
  int rc = runner_load(&m->vision, path, 1, err, errlen);
  if (!rc) {
    snprintf(path, sizeof path, "%s/text.onnx", dir);
    rc = runner_load(&text, path, 1, err, errlen);
  }
  if (!rc) {
    snprintf(path, sizeof path, "%s/prompt_ids.txt", dir);
    rc = hub_prompt_ids_load(&ids, path, err, errlen);
  }
  if (!rc) rc = embed_prompts(m, &text, &ids, err, errlen);
  hub_prompt_ids_free(&ids);
  runner_free(&text); /* the prompt set is fixed: its embeddings are all we need */
  if (rc) {
    siglip_free(m);
    return -1;
  }
  *out = m;
  return 0;
}

void siglip_free(siglip_model *m) {
  if (!m) return;
  runner_free(&m->vision);
  free(m->text_emb);
  free(m);
}

size_t siglip_memory_bytes(const siglip_model *m) { return m ? runner_memory_bytes(&m->vision) + m->text_bytes : 0; }

int clothing_classify(siglip_model *m, clothing_result *out, const vigil_image *frame, float x1, float y1, float x2,
                      float y2, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int ih, iw;
  const vrt_tensor *decl = hub_rgb_input(m->vision.m, SIGLIP_SIZE, SIGLIP_SIZE, &ih, &iw);
  if (!decl) return vigil_err(err, errlen, -1, "fashion-clip: expected pixel_values [B,3,224,224] float32");
  if (ih > 2048 || iw > 2048) return vigil_err(err, errlen, -1, "fashion-clip: input too large");
  vrt_tensor *o;
  int n;
  int rc = hub_run_box(&m->vision, "fashion-clip", frame, x1, y1, x2, y2, iw, ih, hub_half_mean, hub_half_std,
                       "person box is empty or outside the image", &o, &n, err, errlen);
  if (rc) return rc;
  const vrt_tensor *t = output_named(o, n, "image_embeds");
  if (!t || t->dtype != VRT_F32 || vrt_tensor_numel(t) != m->dim) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "fashion-clip: expected image_embeds [1,%d]", m->dim);
  }
  float *e = malloc(sizeof(float) * (size_t)m->dim);
  float logits[NPROMPTS], p[NPROMPTS];
  if (e) memcpy(e, t->data, sizeof(float) * (size_t)m->dim);
  runner_outputs_free(o, n);
  if (!e) return vigil_err(err, errlen, -1, "out of memory");
  hub_l2_normalize(e, m->dim);
  for (int i = 0; i < NPROMPTS; i++) logits[i] = SIGLIP_SCALE * hub_dot(e, m->text_emb + (size_t)i * m->dim, m->dim);
  free(e);
  hub_softmax(p, logits, NPROMPTS);
  int best = 0;
  for (int i = 1; i < NPROMPTS; i++)
    if (p[i] > p[best]) best = i;
  const prompt_info *pi = &prompt_infos[best];
  snprintf(out->clothing_type, sizeof out->clothing_type, "%s", pi->type);
  snprintf(out->color, sizeof out->color, "%s", pi->color[0] ? pi->color : torso_color_name(frame, x1, y1, x2, y2));
  snprintf(out->style, sizeof out->style, "%s", pi->style);
  snprintf(out->top_prompt, sizeof out->top_prompt, "%s", security_clothing_prompts[best]);
  out->confidence = p[best];
  out->is_suspicious = pi->suspicious;
  out->is_service_uniform = pi->uniform;
  return 0;
}

/* ---- torso colour ----------------------------------------------------------------
 * The torso is the middle half of the box across and 20-55% of it down. Each
 * sampled pixel votes for one palette name by HSV (dark or unsaturated pixels
 * are black/gray/white, the rest by hue, dark oranges are brown); the most
 * votes win. */
enum { C_BLACK, C_GRAY, C_WHITE, C_RED, C_ORANGE, C_BROWN, C_YELLOW, C_GREEN, C_BLUE, C_PURPLE, C_PINK, C_N };
static const char *const color_names[C_N] = {"black", "gray", "white", "red", "orange", "brown",
                                             "yellow", "green", "blue", "purple", "pink"};

static int palette(int r, int g, int b) {
  int mx = r > g ? (r > b ? r : b) : (g > b ? g : b), mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
  float v = (float)mx / 255.0f, s = mx ? (float)(mx - mn) / (float)mx : 0;
  if (v < 0.22f) return C_BLACK;
  if (s < 0.2f) return v > 0.78f ? C_WHITE : v < 0.35f ? C_BLACK : C_GRAY;
  float d = (float)(mx - mn), h;
  if (mx == r) h = 60.0f * fmodf(((float)(g - b) / d) + 6.0f, 6.0f);
  else if (mx == g) h = 60.0f * (((float)(b - r) / d) + 2.0f);
  else h = 60.0f * (((float)(r - g) / d) + 4.0f);
  if (h < 15 || h >= 345) return C_RED;
  if (h < 45) return v < 0.6f ? C_BROWN : C_ORANGE;
  if (h < 70) return v < 0.5f ? C_BROWN : C_YELLOW;
  if (h < 165) return C_GREEN;
  if (h < 255) return C_BLUE;
  if (h < 290) return C_PURPLE;
  return C_PINK;
}

const char *hub_palette_name(uint8_t r, uint8_t g, uint8_t b) { return color_names[palette(r, g, b)]; }

const char *torso_color_name(const vigil_image *frame, float x1, float y1, float x2, float y2) {
  if (!frame || !frame->data || frame->c != 3) return "unknown";
  float w = x2 - x1, h = y2 - y1;
  float tx1 = x1 + 0.25f * w, tx2 = x2 - 0.25f * w, ty1 = y1 + 0.2f * h, ty2 = y1 + 0.55f * h;
  if (hub_clip_box(&tx1, &ty1, &tx2, &ty2, frame)) return "unknown";
  int ix1 = (int)tx1, iy1 = (int)ty1, ix2 = (int)ceilf(tx2), iy2 = (int)ceilf(ty2);
  int step = 1;
  while ((long)((ix2 - ix1) / step) * ((iy2 - iy1) / step) > 4096) step++;
  int votes[C_N] = {0};
  for (int y = iy1; y < iy2; y += step)
    for (int x = ix1; x < ix2; x += step) {
      const uint8_t *p = frame->data + (size_t)y * frame->stride + (size_t)x * 3;
      votes[palette(p[0], p[1], p[2])]++;
    }
  int best = 0;
  for (int i = 1; i < C_N; i++)
    if (votes[i] > votes[best]) best = i;
  return votes[best] ? color_names[best] : "unknown";
}
