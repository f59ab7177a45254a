/* Adapters for the models whose weights only the model hubs have (the user
 * exports them with tools/export/; tests use small generated models with the
 * same inputs and outputs). Each takes a model_runner (a zoo lease in the
 * services), the full frame and a region, and returns typed results in the
 * frame's pixels. (YOLO-family models — threat, yolo11-face — run
 * through the detector adapter, include/vigil/detect.h.) Preprocessing follows each model's published config
 * (docs/models.md gives size, resize, crop, mean and std per model). */
#ifndef VIGIL_HUB_H
#define VIGIL_HUB_H

#include <stdbool.h>

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

/* ---- the vehicle and animal path ------------------------------------------------ */

/* Vehicle type: lxyuan/vit-base-patch16-224-vehicle-segment-classification,
 * 224 x 224, mean/std 0.5, logits [B,11] over VEHICLE_SEGMENT_CLASSES (the
 * order of model-zoo.md, unless the export's id2label says otherwise).
 * "background" and "pedestrian" are never reported; the top 3 of the other
 * nine are kept (softmax over all eleven). */
#define VEHICLE_NCLASSES 11
#define VEHICLE_TOP 3
#define VEHICLE_MIN_BOX 8 /* px: a smaller vehicle box is a bad request */
extern const char *const vehicle_segment_classes[VEHICLE_NCLASSES];
typedef struct {
  char vehicle_type[32];
  char display_name[40];  /* "pickup truck" */
  float confidence;
  bool is_commercial;     /* articulated_truck, single_unit_truck, work_van */
  int n_top;
  char top_type[VEHICLE_TOP][32];
  float top_score[VEHICLE_TOP];
  bool from_detector;     /* "source": "detector" (no classifier installed) */
} vehicle_result;
int vehicle_classify(model_runner *r, vehicle_result *out, const vigil_image *frame, float x1, float y1, float x2,
                     float y2, char *err, size_t errlen);
/* The fallback: the detector's own class (car, truck, bus, motorcycle,
 * bicycle). -1 when the class is not a vehicle. */
int vehicle_from_detector(vehicle_result *out, const char *det_class, float det_score);
/* display_name and is_commercial of a type (both set from the type). */
void vehicle_set_type(vehicle_result *out, const char *type, float confidence);

/* Vehicle damage: a YOLOv11-seg export (harpreetsahota/car-dd-segmentation-
 * yolov11): images [1,3,640,640] letterboxed (114), x/255 -> output0
 * [1,4+nc+32,N] (cx,cy,w,h, class scores, 32 mask coefficients) and output1
 * [1,32,H/4,W/4] mask prototypes. Boxes over DAMAGE_CONF, class-aware NMS,
 * at most DAMAGE_MAX_CANDIDATES candidates into NMS and DAMAGE_MAX_DETECTIONS
 * kept (a model that returns thousands is capped; docs/models.md). */
#define DAMAGE_CONF 0.25f
#define DAMAGE_MAX_CANDIDATES 300
#define DAMAGE_MAX_DETECTIONS 32
#define DAMAGE_NTYPES 6
extern const char *const damage_classes[DAMAGE_NTYPES]; /* model-zoo.md DAMAGE_CLASSES */
typedef struct {
  char damage_type[24];
  float confidence;
  float x1, y1, x2, y2;   /* frame pixels */
  bool has_mask;
  int mask_area;          /* mask pixels, in frame pixels */
} damage_det;
typedef struct {
  int n;
  damage_det dets[DAMAGE_MAX_DETECTIONS];
  bool capped;            /* more than DAMAGE_MAX_DETECTIONS survived NMS */
  int n_types;
  char types[DAMAGE_NTYPES][24];
  int type_count[DAMAGE_NTYPES];
  float type_conf_sum[DAMAGE_NTYPES];
  bool has_high_security_damage; /* glass_shatter or lamp_broken */
  float highest_confidence;
} damage_result;
/* Checks the export's outputs at load time (a clear error naming the shapes). */
int damage_check(model_runner *r, char *err, size_t errlen);
int damage_detect(model_runner *r, damage_result *out, const vigil_image *frame, float x1, float y1, float x2,
                  float y2, char *err, size_t errlen);
/* The canonical damage type of a model class name ("Glass shatter" ->
 * "glass_shatter"); NULL when it is none of the six. */
const char *damage_canonical(const char *name);
/* Ultralytics' names metadata (untrusted: it comes from the model file), a
 * Python dict literal {0: 'crack', 1: 'dent'}: names[i] gets the canonical
 * damage type of class i (NULL = not a damage type). Returns 1 + the largest
 * class id named (below cap). */
int damage_parse_names(const char *meta, const char **names, int cap);

/* Pets: microsoft/resnet-18 (ImageNet-1k): 224 centre crop (crop_pct 0.875),
 * ImageNet mean/std, logits [B,1000]. Dogs are ImageNet 151-268, cats
 * 281-285; whichever of the dog mass, the cat mass and the best other class
 * is largest decides; other animals are "other" with the top ImageNet label. */
typedef struct {
  char pet_type[16];      /* dog, cat, other */
  char breed[48];         /* ImageNet label of the best class in the group; "" from the detector */
  char top_label[48];     /* the best ImageNet label overall */
  float confidence;       /* the winning group's probability mass */
  bool from_detector;
  bool is_household;      /* matches VIGIL_HOUSEHOLD_PETS */
} pet_result;
int pet_classify(model_runner *r, pet_result *out, const vigil_image *frame, float x1, float y1, float x2,
                 float y2, char *err, size_t errlen);
int pet_from_detector(pet_result *out, const char *det_class, float det_score);
/* The ImageNet-1k class names (generated at build time from Debian's
 * python3-torchvision, tools/setup/gen_imagenet_labels.py); n is 0 when the
 * build could not find them, and breeds are then "imagenet class N". */
extern const char *const imagenet_labels[];
extern const int imagenet_labels_n;
/* VIGIL_HOUSEHOLD_PETS: "dog:golden retriever,cat" -- a type, optionally
 * with a breed (ImageNet label, case-insensitive). True when p matches. */
bool pet_household_match(const char *list, const pet_result *p);

/* Depth: Depth-Anything-V2-Small: pixel_values [B,3,518,518] (the whole
 * frame stretched, ImageNet mean/std) -> predicted_depth [B,518,518] (or
 * [B,1,518,518]), relative inverse depth (larger = nearer). */
#define DEPTH_MAP_MAX 256 /* side of the depth map kept for the PNG */
typedef struct {
  float relative_depth;   /* 0 = the nearest point of the frame, 1 = the farthest (median in the box) */
  float distance_m;       /* pinhole estimate from the box height and the calibration */
  char proximity[16];     /* very_close < 2 m, close < 5 m, medium < 10 m, far */
  bool has_map;           /* the model ran (else distance only, from the box) */
  float px_per_m;         /* the calibration used */
  bool default_calibration;
  int map_w, map_h;
  uint8_t map[DEPTH_MAP_MAX * DEPTH_MAP_MAX]; /* 255 = nearest */
} depth_result;
/* Checks the export's input and output shapes at load time. */
int depth_check(model_runner *r, char *err, size_t errlen);
int depth_estimate(model_runner *r, depth_result *out, const vigil_image *frame, float x1, float y1, float x2,
                   float y2, char *err, size_t errlen);
/* The distance part without the model: a 1.7 m person whose box is
 * px_per_m px tall stands 1 m away; other kinds use nominal heights
 * (docs/models.md). px_per_m <= 0 uses the default, 0.85 x frame width. */
void depth_distance(depth_result *out, const char *kind, float box_h, float px_per_m, int frame_w);
const char *depth_proximity(float distance_m);

/* Weather: an image classifier on the whole frame (pixel_values
 * [B,3,224,224], mean/std 0.5) with id2label metadata; the label as given,
 * lower case. */
typedef struct {
  char label[32];
  float confidence;
} weather_result;
int weather_check(model_runner *r, char *err, size_t errlen);
int weather_classify(model_runner *r, weather_result *out, const vigil_image *frame, char *err, size_t errlen);

#endif
