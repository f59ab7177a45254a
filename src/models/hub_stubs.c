/* Placeholders for hub-model adapters not written yet: each says so plainly.
 * Every function moves out of this file into src/models/hub_<model>.c as it
 * is implemented; the file is deleted when empty. */
#include <stdio.h>

#include "vigil/hub.h"

#define NOT_YET(what)                                                  \
  do {                                                                 \
    if (err && errlen) snprintf(err, errlen, "%s: not implemented yet", what); \
    return -1;                                                         \
  } while (0)

int vitpose_pose(model_runner *r, pose_result *out, const vigil_image *frame, float x1, float y1, float x2,
                 float y2, char *err, size_t errlen) { NOT_YET("vitpose"); }
int yolopose_pose(model_runner *r, pose_result *out, const vigil_image *frame, float x1, float y1, float x2,
                  float y2, char *err, size_t errlen) { NOT_YET("yolov8n-pose"); }
int vit_age(model_runner *r, demographics_result *out, const vigil_image *frame, const face_box *face, char *err,
            size_t errlen) { NOT_YET("vit-age-classifier"); }
int vit_gender(model_runner *r, demographics_result *out, const vigil_image *frame, const face_box *face,
               char *err, size_t errlen) { NOT_YET("vit-gender-classifier"); }
const char *const security_clothing_prompts[] = {NULL};
int siglip_load(siglip_model **out, const char *dir, char *err, size_t errlen) { NOT_YET("fashion-clip"); }
void siglip_free(siglip_model *m) { (void)m; }
size_t siglip_memory_bytes(const siglip_model *m) { return 0; }
int clothing_classify(siglip_model *m, clothing_result *out, const vigil_image *frame, float x1, float y1, float x2,
                      float y2, char *err, size_t errlen) { NOT_YET("fashion-clip"); }
const char *torso_color_name(const vigil_image *frame, float x1, float y1, float x2, float y2) { return "unknown"; }
int osnet_embed(model_runner *r, float *emb, const vigil_image *frame, float x1, float y1, float x2, float y2,
                char *err, size_t errlen) { NOT_YET("osnet-x0-25"); }
int reid_gallery_open(reid_gallery **out, const char *path, float threshold, char *err, size_t errlen) {
  NOT_YET("reid gallery");
}
void reid_gallery_close(reid_gallery *g) { (void)g; }
int reid_gallery_match(reid_gallery *g, reid_match *out, const float *emb, const char *camera_id, double ts,
                       char *err, size_t errlen) { NOT_YET("reid gallery"); }
int xclip_load(xclip_model **out, const char *dir, char *err, size_t errlen) { NOT_YET("xclip-base"); }
void xclip_free(xclip_model *m) { (void)m; }
size_t xclip_memory_bytes(const xclip_model *m) { return 0; }
int xclip_action(xclip_model *m, action_result *out, const vigil_image *const *frames, int nframes, float x1,
                 float y1, float x2, float y2, char *err, size_t errlen) { NOT_YET("xclip-base"); }
