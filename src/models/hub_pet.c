/* Pets from the microsoft/resnet-18 ImageNet export: dog or cat with the
 * breed from the ImageNet labels, other animals with their top label; the
 * detector-class fallback; and the household pet list. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "models/hub_common.h"
#include "models/runner.h"
#include "vigil/hub.h"
#include "vigil/status.h"

#define IMAGENET_N 1000
#define DOG_FIRST 151
#define DOG_LAST 268
#define CAT_FIRST 281
#define CAT_LAST 285
/* ConvNextImageProcessor of microsoft/resnet-18: shortest edge 224 with
 * crop_pct 0.875 (resize to 256, centre crop 224), ImageNet mean/std. */
#define PET_SIZE 224
#define PET_CROP_PCT 0.875f

static void label_of(char *dst, size_t cap, int k) {
  if (k >= 0 && k < imagenet_labels_n) snprintf(dst, cap, "%s", imagenet_labels[k]);
  else snprintf(dst, cap, "imagenet class %d", k);
}

int pet_from_detector(pet_result *out, const char *det_class, float det_score) {
  memset(out, 0, sizeof *out);
  if (!det_class || !*det_class) return -1;
  bool pet = !strcmp(det_class, "dog") || !strcmp(det_class, "cat");
  snprintf(out->pet_type, sizeof out->pet_type, "%s", pet ? det_class : "other");
  snprintf(out->top_label, sizeof out->top_label, "%s", det_class);
  out->confidence = det_score;
  out->from_detector = true;
  return 0;
}

int pet_classify(model_runner *r, pet_result *out, const vigil_image *frame, float x1, float y1, float x2, float y2,
                 char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!hub_rgb_input(r->m, 0, 0, NULL, NULL))
    return vigil_err(err, errlen, -1, "pet-classifier: expected pixel_values [B,3,224,224] float32");
  if (hub_clip_box(&x1, &y1, &x2, &y2, frame)) return vigil_err(err, errlen, -1, "animal box is empty or outside the image");
  hub_center_square(&x1, &y1, &x2, &y2, PET_CROP_PCT);
  float *p = malloc(sizeof(float) * IMAGENET_N); /* ImageNet-1k */
  if (!p) return vigil_err(err, errlen, -1, "out of memory");
  int rc = hub_classify_box(r, "pet-classifier", frame, x1, y1, x2, y2, PET_SIZE, PET_SIZE, hub_imagenet_mean,
                            hub_imagenet_std, "animal box is too small", p, IMAGENET_N, err, errlen);
  if (rc) {
    free(p);
    return rc;
  }
  float dog = 0, cat = 0;
  int top = 0, best_dog = DOG_FIRST, best_cat = CAT_FIRST, best_other = -1;
  for (int k = 0; k < IMAGENET_N; k++) {
    if (p[k] > p[top]) top = k;
    if (k >= DOG_FIRST && k <= DOG_LAST) {
      dog += p[k];
      if (p[k] > p[best_dog]) best_dog = k;
    } else if (k >= CAT_FIRST && k <= CAT_LAST) {
      cat += p[k];
      if (p[k] > p[best_cat]) best_cat = k;
    } else if (best_other < 0 || p[k] > p[best_other]) {
      best_other = k;
    }
  }
  label_of(out->top_label, sizeof out->top_label, top);
  if (dog >= cat && dog >= p[best_other]) {
    snprintf(out->pet_type, sizeof out->pet_type, "dog");
    label_of(out->breed, sizeof out->breed, best_dog);
    out->confidence = dog;
  } else if (cat > dog && cat >= p[best_other]) {
    snprintf(out->pet_type, sizeof out->pet_type, "cat");
    label_of(out->breed, sizeof out->breed, best_cat);
    out->confidence = cat;
  } else {
    snprintf(out->pet_type, sizeof out->pet_type, "other");
    out->confidence = p[best_other];
  }
  free(p);
  return 0;
}

static void trim(char *s) {
  size_t n = strlen(s), a = 0;
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
  while (s[a] && isspace((unsigned char)s[a])) a++;
  memmove(s, s + a, n - a + 1);
}

bool pet_household_match(const char *list, const pet_result *p) {
  if (!list || !p || (strcmp(p->pet_type, "dog") && strcmp(p->pet_type, "cat"))) return false;
  const char *s = list;
  while (*s) {
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    char item[128];
    snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), s);
    char *colon = strchr(item, ':');
    char *breed = NULL;
    if (colon) *colon = 0, breed = colon + 1, trim(breed);
    trim(item);
    if (!strcasecmp(item, p->pet_type) && (!breed || !*breed || p->from_detector || !strcasecmp(breed, p->breed)))
      return true;
    if (!e) break;
    s = e + 1;
  }
  return false;
}
