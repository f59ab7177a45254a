/* Object detection: one interface over the detector families vigil runs
 * (YOLO26 end-to-end, YOLOv8/YOLO11, CenterNet, NanoDet), from image to boxes
 * in the original image's pixels.
 *
 * A detector_t is shareable between threads: it holds the immutable model and
 * a pool of vrt sessions, one lent to each concurrent call. */
#ifndef VIGIL_DETECT_H
#define VIGIL_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/classes.h"
#include "vigil/img.h"

typedef enum {
  DET_FAMILY_AUTO = 0, /* recognise from the model's inputs and outputs */
  DET_FAMILY_YOLO26,   /* [B,300,6]: x1,y1,x2,y2,score,class; no NMS */
  DET_FAMILY_YOLO,     /* YOLOv8 / YOLO11: [B,4+nc,N] cx,cy,w,h + scores; NMS */
  DET_FAMILY_CENTERNET,/* human-models centernet: detections [1,100,6] in 512 px */
  DET_FAMILY_NANODET,  /* human-models nanodet: per-stride scores + distance bins; NMS */
} det_family;

const char *det_family_name(det_family f);

typedef struct {
  int cls;            /* 0-based COCO-80 class (or the model's own list) */
  const char *label;  /* static string */
  float score;
  float x1, y1, x2, y2; /* original image pixels */
} vigil_det;

typedef struct {
  vigil_det *dets;
  int n;
} vigil_det_list;

void vigil_det_list_free(vigil_det_list *l);

typedef struct {
  const char *path;    /* .onnx or TF.js model.json */
  det_family family;   /* AUTO by default */
  float conf;          /* minimum score; < 0 = the family's calibrated default */
  float iou;           /* NMS IoU threshold (0.45) */
  int max_batch;       /* images per inference call (bounds memory), default 8 */
  int threads;         /* vrt threads per session */
  bool security_only;  /* keep only SECURITY_CLASSES (default true) */
} detector_params;

detector_params detector_default_params(void);

typedef struct detector detector_t;

/* Loads the model and recognises its family. A model whose outputs match no
 * known family is an error naming what was found. */
int detector_load(detector_t **out, detector_params p, char *err, size_t errlen);
void detector_free(detector_t *d);

det_family detector_family(const detector_t *d);
const char *detector_model_name(const detector_t *d);
float detector_conf(const detector_t *d);
/* The model's input size in pixels (what one call looks at). */
void detector_input_size(const detector_t *d, int *w, int *h);
size_t detector_memory_bytes(const detector_t *d); /* weights + arenas, measured */

/* Detects objects in n images; out[i] receives image i's detections sorted by
 * score (caller frees each with vigil_det_list_free). Thread-safe. */
int detector_run(detector_t *d, vigil_det_list *out, const vigil_image *const *imgs, int n, char *err,
                 size_t errlen);

/* detector_run on the region x, y, w x h of one frame (cut out first), with
 * the boxes in frame pixels. -1 with err when the region cannot be cut. */
int detector_run_region(detector_t *d, vigil_det_list *out, const vigil_image *frame, int x, int y, int w, int h,
                        char *err, size_t errlen);

/* Decodes model outputs (in the model's output order) computed elsewhere for
 * one image of w x h pixels preprocessed by this detector's family (used to
 * decode a reference runtime's outputs with vigil's own decoder). */
struct vrt_tensor;
int detector_decode_outputs(const detector_t *d, vigil_det_list *out, const struct vrt_tensor *outs, int nout, int w,
                            int h);

/* Detector settings from the configuration, as the detection service and the
 * pipeline both use them: YOLO26_MODEL_PATH when set (env or config file),
 * else the real default centernet under $VIGIL_HOME; YOLO26_CONFIDENCE when
 * set, else the family's calibrated default. path_buf receives the path. */
struct vigil_config;
int detector_params_from_config(detector_params *p, char *path_buf, size_t len, const struct vigil_config *cfg,
                                char *err, size_t errlen);

/* COCO-80 names (the vocabulary of classes is vigil/classes.h). */
const char *coco_label(int cls);
int coco_class_id(const char *label); /* -1 if unknown */

/* Non-maximum suppression in place: keeps the highest-scoring box of every
 * overlapping (IoU > iou) pair of the same class; the vehicle classes (car,
 * truck, bus, motorcycle, bicycle) count as one class here, so one van is
 * not both a car and a truck. Sorts by score; returns the count kept. */
int det_nms(vigil_det *dets, int n, float iou);
/* The same with separate thresholds: iou between boxes of one class,
 * group_iou between different vehicle classes (end-to-end heads that
 * already suppressed within a class pass iou > 1). */
int det_nms_ex(vigil_det *dets, int n, float iou, float group_iou);
/* Same class, or both vehicle classes. */
bool det_same_group(const vigil_det *a, const vigil_det *b);
float det_iou(const vigil_det *a, const vigil_det *b);

/* Anchor j of an Ultralytics detection output laid out [4 + nc (+ more), n]:
 * rows cx, cy, w, h, then one score per class. Returns the class with the
 * highest score of at least conf, or -1 (NaN never passes); classes whose name
 * is NULL are skipped (names NULL: none is). *score gets its score and box the
 * anchor's cx, cy, w, h as they stand. */
int yolo_anchor_best(const float *p, int64_t n, int64_t j, int nc, const char *const *names, float conf, float *score,
                     float box[4]);

#endif
