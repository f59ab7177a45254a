/* Adapters for the models whose weights only the model hubs have (the user
 * exports them with tools/export/; tests use small generated models with the
 * same inputs and outputs). Each takes a model_runner (a zoo lease in the
 * services), the full frame and a region, and returns typed results in the
 * frame's pixels. (YOLO-family models — threat, yolo11-face, damage — run
 * through the detector adapter, include/vigil/detect.h.) Preprocessing follows each model's published config
 * (docs/models.md gives size, resize, crop, mean and std per model). */
#ifndef VIGIL_HUB_H
#define VIGIL_HUB_H

#include <stdbool.h>

#include "models/runner.h"
#include "vigil/img.h"
#include "vigil/person.h"
#include "vigil/pose.h"

/* ViTPose+ small: 256x192 crop, ImageNet mean/std, heatmaps [1,17,64,48] ->
 * keypoints (argmax + quarter-offset refinement). Classifies posture. */
int vitpose_pose(model_runner *r, pose_result *out, const vigil_image *frame, float x1, float y1, float x2,
                 float y2, char *err, size_t errlen);

/* YOLOv8n-pose: letterboxed 640 frame region, [1,56,N] -> the best person's
 * 17 keypoints inside the region. Classifies posture. */
int yolopose_pose(model_runner *r, pose_result *out, const vigil_image *frame, float x1, float y1, float x2,
                  float y2, char *err, size_t errlen);

/* ViT age classifier (nateraw/vit-age-classifier: 9 bins 0-2 ... 70+):
 * fills age (expected value over the bins), age_range, age_confidence. */
int vit_age(model_runner *r, demographics_result *out, const vigil_image *frame, const face_box *face, char *err,
            size_t errlen);
/* ViT gender classifier (2 classes): fills gender and gender_confidence. */
int vit_gender(model_runner *r, demographics_result *out, const vigil_image *frame, const face_box *face,
               char *err, size_t errlen);

/* Clothing by zero-shot FashionSigLIP over SECURITY_CLOTHING_PROMPTS. */
typedef struct {
  char clothing_type[48];
  char color[32];      /* from the model's prompt, else the torso's dominant colour */
  char style[24];      /* suspicious, service_uniform, casual, formal, ... */
  float confidence;
  bool is_suspicious;
  bool is_service_uniform;
  char top_prompt[96];
} clothing_result;

/* The prompt list (every prompt model-zoo.md names plus the obvious security
 * ones it elides), NULL-terminated. */
extern const char *const security_clothing_prompts[];

/* State of a loaded FashionSigLIP: the image tower, the text tower, and the
 * cached text embeddings of the prompt set (computed once). */
typedef struct siglip_model siglip_model;
int siglip_load(siglip_model **out, const char *dir, char *err, size_t errlen);
void siglip_free(siglip_model *m);
size_t siglip_memory_bytes(const siglip_model *m);
int clothing_classify(siglip_model *m, clothing_result *out, const vigil_image *frame, float x1, float y1, float x2,
                      float y2, char *err, size_t errlen);

/* Dominant colour name of the torso region of a person box (used when the
 * model gives no colour). */
const char *torso_color_name(const vigil_image *frame, float x1, float y1, float x2, float y2);

/* OSNet x0.25: 256x128 crop, ImageNet mean/std -> 512-d L2-normalised. */
#define REID_DIM 512
int osnet_embed(model_runner *r, float *emb, const vigil_image *frame, float x1, float y1, float x2, float y2,
                char *err, size_t errlen);

/* The re-id gallery: cosine matching across cameras and time, so one
 * person_id is reused for the same person; stored in SQLite so it survives a
 * restart. Thread-safe. */
typedef struct reid_gallery reid_gallery;
typedef struct {
  char person_id[64];
  float similarity;   /* to the matched person (1 for a new one) */
  bool is_new;
  double first_seen, last_seen; /* unix seconds over all cameras */
  int n_cameras;
  char cameras[8][64];
} reid_match;
/* path NULL = in memory only. threshold: cosine similarity to reuse an id. */
int reid_gallery_open(reid_gallery **out, const char *path, float threshold, char *err, size_t errlen);
void reid_gallery_close(reid_gallery *g);
int reid_gallery_match(reid_gallery *g, reid_match *out, const float *emb, const char *camera_id, double ts,
                       char *err, size_t errlen);

/* X-CLIP action over >= 8 frames of the region, with security prompts. */
typedef struct {
  char action[32];
  float confidence;
  int n;
  char names[16][32];
  float scores[16];
} action_result;
typedef struct xclip_model xclip_model;
int xclip_load(xclip_model **out, const char *dir, char *err, size_t errlen);
void xclip_free(xclip_model *m);
size_t xclip_memory_bytes(const xclip_model *m);
int xclip_action(xclip_model *m, action_result *out, const vigil_image *const *frames, int nframes, float x1,
                 float y1, float x2, float y2, char *err, size_t errlen);

#endif
