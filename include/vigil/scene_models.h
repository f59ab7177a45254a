/* Two hub-model adapters of the zoo's person enrichment (docs/models.md):
 *   violence-detection   a ViT image classifier export (jaranohaal/vit-base-violence-detection):
 *                        pixel_values [B,3,224,224] -> logits [B,2], id2label naming a violence
 *                        and a non-violence class; run on multi-person scenes
 *   segformer-b2-clothes mattmdjaga/segformer_b2_clothes: pixel_values [B,3,512,512] ->
 *                        logits [B,18,128,128] over its 18 labels; per-item masks, areas and
 *                        dominant colours of a person box
 * Both run through a model_runner (models/runner.h) the zoo loads. */
#ifndef VIGIL_SCENE_MODELS_H
#define VIGIL_SCENE_MODELS_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/person.h" /* model_runner */
#include "vigil/img.h"

/* ---- violence ---------------------------------------------------------------------- */

typedef struct {
  bool violent;      /* violence >= 0.5 */
  float violence;    /* softmax probability of the violence class */
  char label[48];    /* the winning id2label name */
} violence_result;

/* Checks the export's input and its id2label (one class with "violen" and no "non",
 * one with "non"): a wrong export fails at load with what is wrong. */
int violence_check(model_runner *r, char *err, size_t errlen);
/* Classifies the region x1..x2, y1..y2 of the frame (the whole frame when it is
 * empty): stretched to 224 x 224, x/255, mean/std 0.5 (ViT's processor). */
int violence_classify(model_runner *r, violence_result *out, const vigil_image *frame, float x1, float y1, float x2,
                      float y2, char *err, size_t errlen);

/* ---- SegFormer clothes ------------------------------------------------------------- */

#define SEGFORMER_LABELS 18
#define SEGFORMER_MAX_ITEMS 12
#define SEGFORMER_MASK_SIDE 128 /* the label map kept with a result (the model's own 128 x 128) */

/* The model's 18 labels in id order (its config.json id2label). */
extern const char *const segformer_labels[SEGFORMER_LABELS];

typedef struct {
  char item[24];        /* hat, sunglasses, upper_clothes, skirt, pants, dress, belt, shoes, bag, scarf */
  float area;           /* fraction of the person box */
  char color[16];       /* dominant colour of its pixels (the torso palette) */
  float x1, y1, x2, y2; /* the mask's bounding box, frame pixels */
} segformer_item;

typedef struct {
  int n;
  segformer_item items[SEGFORMER_MAX_ITEMS]; /* largest first, each >= 0.5% of the box */
  int mask_w, mask_h;   /* the label map's size (the logits' 128 x 128) */
  uint8_t *mask;        /* label id per cell over the person box, owned (segformer_result_free) */
  float box[4];         /* the person box the mask covers, frame pixels */
} segformer_result;

int segformer_check(model_runner *r, char *err, size_t errlen);
/* Segments the person box: stretched to 512 x 512, x/255, ImageNet mean/std (the
 * model's processor); per cell the argmax label; clothing items merged (left and
 * right shoe = shoes) with area, colour and extent. */
int segformer_clothes(model_runner *r, segformer_result *out, const vigil_image *frame, float x1, float y1, float x2,
                      float y2, char *err, size_t errlen);
void segformer_result_free(segformer_result *r);

/* The palette name (torso colour's) of one pixel. */
const char *hub_palette_name(uint8_t r, uint8_t g, uint8_t b);

#endif
