/* YOLO-World: open-vocabulary detection from an Ultralytics YOLO-World ONNX export
 * whose class vocabulary is an input (tools/export/yolo_world.py writes the folder):
 *   yolo_world.onnx  images [1,3,640,640] f32 (letterbox, RGB / 255)
 *                    + txt_feats [1,N,512] f32 (L2-normalised CLIP ViT-B/32 text embeddings)
 *                    -> output0 [1,4+N,8400] (cx,cy,w,h in letterbox pixels, N class scores)
 *   text.onnx, vocab.json, merges.txt   CLIP ViT-B/32's text tower and tokenizer
 * N is fixed by the export (80 by default); fewer classes are padded with zero vectors
 * whose scores are ignored. A dynamic N takes exactly the classes asked for.
 *
 * A yolo_world is shareable between threads: the models run through session pools and
 * the per-class-string text embedding cache is guarded by a mutex. */
#ifndef VIGIL_YOLO_WORLD_H
#define VIGIL_YOLO_WORLD_H

#include <stddef.h>

#include "vigil/detect.h"
#include "vigil/img.h"

#define YOLO_WORLD_MAX_CLASSES 256   /* per request, whatever the export allows */
#define YOLO_WORLD_MAX_CLASS_LEN 64  /* bytes of one class string */
#define YOLO_WORLD_CACHE_MAX 4096    /* cached text embeddings (cleared when full) */

typedef struct yolo_world yolo_world;

int yolo_world_load(yolo_world **out, const char *dir, int threads, char *err, size_t errlen);
void yolo_world_free(yolo_world *w); /* NULL: no-op */
/* Classes one call may ask for: the export's N when fixed, capped by YOLO_WORLD_MAX_CLASSES. */
int yolo_world_max_classes(const yolo_world *w);
size_t yolo_world_memory_bytes(const yolo_world *w);
const char *yolo_world_model_name(const yolo_world *w);
/* Text embeddings computed so far and cache hits (tests, /metrics). */
void yolo_world_cache_stats(yolo_world *w, int *entries, long *hits, long *misses);

/* Checks a vocabulary from an untrusted request: 1..max classes, each non-empty
 * (not only whitespace), at most YOLO_WORLD_MAX_CLASS_LEN bytes. -1 with err. */
int yolo_world_check_classes(const char *const *classes, int n, int max, char *err, size_t errlen);

/* Detects the n classes in img; out->dets[i].label points into classes[] (valid as
 * long as they are) and .cls is the index into them. Scores >= conf, class-aware
 * NMS at IoU 0.45, sorted by score. Call yolo_world_check_classes first. */
int yolo_world_detect(yolo_world *w, vigil_det_list *out, const vigil_image *img, const char *const *classes,
                      int n, float conf, char *err, size_t errlen);

/* The decoding alone: pred is output0 of one image, rows x anchors (rows = 4 + slots);
 * only the first n class rows count. Boxes map back through lb to a w x h image. */
int yolo_world_decode(vigil_det_list *out, const float *pred, int rows, int anchors, int n,
                      const char *const *classes, float conf, float iou, const vigil_letterbox *lb, int w, int h);

#endif
