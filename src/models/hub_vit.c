/* Demographics from the hub ViT classifiers: nateraw/vit-age-classifier (9 age
 * bins -> expected age -> model-zoo.md bracket) and a ViT gender classifier. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "models/runner.h"
#include "vigil/hub.h"
#include "vigil/status.h"

/* Both processors (preprocessor_config.json of nateraw/vit-age-classifier and
 * rizvandwiki/gender-classification, ViTImageProcessor): resize to 224 x 224,
 * bilinear, rescale 1/255, mean 0.5, std 0.5, RGB. The face box is first
 * grown to a square with a margin, as the classifiers were trained on loose
 * face crops (the margin is vigil's choice; docs/models.md). */
#define VIT_SIZE 224
#define VIT_FACE_MARGIN 1.3f

static int run_face(model_runner *r, const char *adapter, vrt_tensor **o, int *n, int want, const vigil_image *frame,
                    const face_box *face, char *err, size_t errlen) {
  int ih, iw;
  const vrt_tensor *decl = hub_rgb_input(r->m, VIT_SIZE, VIT_SIZE, &ih, &iw);
  if (!decl) return vigil_err(err, errlen, -1, "%s: expected pixel_values [B,3,224,224] float32", adapter);
  if (ih > 2048 || iw > 2048) return vigil_err(err, errlen, -1, "%s: input too large", adapter);
  float cx = (face->x1 + face->x2) / 2, cy = (face->y1 + face->y2) / 2;
  float side = fmaxf(face->x2 - face->x1, face->y2 - face->y1) * VIT_FACE_MARGIN;
  if (!(side > 0)) return vigil_err(err, errlen, -1, "face box is empty");
  int rc = hub_run_box(r, adapter, frame, cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2, iw, ih,
                       hub_half_mean, hub_half_std, "face box is empty or outside the image", o, n, err, errlen);
  if (rc) return rc;
  if (*n < 1 || (*o)[0].dtype != VRT_F32 || vrt_tensor_numel(&(*o)[0]) != want) {
    runner_outputs_free(*o, *n);
    return vigil_err(err, errlen, -1, "%s: expected logits [1,%d]", adapter, want);
  }
  return 0;
}

/* nateraw/vit-age-classifier's id2label: 0-2, 3-9, 10-19, 20-29, 30-39,
 * 40-49, 50-59, 60-69, more than 70; as year spans [lo, hi), the last
 * closed at 90 so it has a midpoint. */
#define AGE_BINS 9
static const float age_lo[AGE_BINS] = {0, 3, 10, 20, 30, 40, 50, 60, 70};
static const float age_hi[AGE_BINS] = {3, 10, 20, 30, 40, 50, 60, 70, 90};
/* model-zoo.md brackets as year spans (age_bracket in src/models/person.c) */
static const float bracket_edges[] = {0, 13, 18, 25, 36, 51, 66, 1000};

int vit_age(model_runner *r, demographics_result *out, const vigil_image *frame, const face_box *face, char *err,
            size_t errlen) {
  vrt_tensor *o;
  int n;
  if (run_face(r, "vit-age-classifier", &o, &n, AGE_BINS, frame, face, err, errlen)) return -1;
  float p[AGE_BINS];
  hub_softmax(p, o[0].data, AGE_BINS);
  runner_outputs_free(o, n);
  float age = 0;
  for (int k = 0; k < AGE_BINS; k++) age += p[k] * (age_lo[k] + age_hi[k]) / 2;
  out->age = age;
  out->age_range = age_bracket(age);
  /* confidence: the probability mass inside the bracket, each bin's mass
   * spread evenly over its years */
  float lo = 0, hi = 1000;
  for (int b = 0; b + 1 < (int)(sizeof bracket_edges / sizeof *bracket_edges); b++)
    if (age >= bracket_edges[b] && age < bracket_edges[b + 1]) lo = bracket_edges[b], hi = bracket_edges[b + 1];
  float mass = 0;
  for (int k = 0; k < AGE_BINS; k++) {
    float ov = fminf(hi, age_hi[k]) - fmaxf(lo, age_lo[k]);
    if (ov > 0) mass += p[k] * ov / (age_hi[k] - age_lo[k]);
  }
  out->age_confidence = fminf(mass, 1);
  out->model = "vit-age-classifier";
  return 0;
}

/* Index of the "male" label in an id2label JSON object written by the export
 * script ({"0": "female", "1": "male"}); -1 when it cannot tell. */
static int male_index(const char *meta) {
  if (!meta) return -1;
  for (const char *s = meta; (s = strchr(s, '"'));) {
    char key[16];
    int k = 0;
    s++;
    while (*s && *s != '"' && k < 15) key[k++] = *s++;
    key[k] = 0;
    if (*s != '"') return -1;
    s++;
    while (*s == ' ' || *s == ':') s++;
    if (*s != '"') continue;
    s++;
    char val[32];
    k = 0;
    while (*s && *s != '"' && k < 31) val[k++] = (char)tolower((unsigned char)*s++);
    val[k] = 0;
    if (*s == '"') s++;
    if (!strcmp(val, "male") || !strcmp(val, "man")) return atoi(key);
  }
  return -1;
}

int vit_gender(model_runner *r, demographics_result *out, const vigil_image *frame, const face_box *face,
               char *err, size_t errlen) {
  vrt_tensor *o;
  int n;
  if (run_face(r, "vit-gender-classifier", &o, &n, 2, frame, face, err, errlen)) return -1;
  float p[2];
  hub_softmax(p, o[0].data, 2);
  runner_outputs_free(o, n);
  int mi = male_index(vrt_model_metadata(r->m, "id2label"));
  if (mi != 0 && mi != 1) mi = 1; /* the model card's order: female, male */
  float pm = p[mi];
  /* the same confidence as FaceRes's (src/models/person.c): the margin
   * between the two classes, so "unknown below 0.5" can happen */
  out->gender_confidence = fabsf(2 * pm - 1);
  out->gender = out->gender_confidence < 0.5f ? "unknown" : pm > 0.5f ? "male" : "female";
  out->model = "vit-gender-classifier";
  return 0;
}
