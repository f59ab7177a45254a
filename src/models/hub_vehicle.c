/* Vehicle type from the lxyuan/vit-base-patch16-224-vehicle-segment-
 * classification export (11 classes of model-zoo.md), and the fallback to
 * the detector's own class when the export is not installed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "models/runner.h"
#include "vigil/classes.h"
#include "vigil/hub.h"
#include "vigil/status.h"

const char *const vehicle_segment_classes[VEHICLE_NCLASSES] = {
    "articulated_truck", "background",    "bicycle",           "bus",      "car",     "motorcycle",
    "non_motorized_vehicle", "pedestrian", "pickup_truck", "single_unit_truck", "work_van"};

static bool never_reported(const char *t) { return !strcmp(t, "background") || !strcmp(t, "pedestrian"); }

void vehicle_set_type(vehicle_result *out, const char *type, float confidence) {
  snprintf(out->vehicle_type, sizeof out->vehicle_type, "%s", type);
  size_t i = 0;
  for (; type[i] && i < sizeof out->display_name - 1; i++) out->display_name[i] = type[i] == '_' ? ' ' : type[i];
  out->display_name[i] = 0;
  out->confidence = confidence;
  out->is_commercial =
      !strcmp(type, "articulated_truck") || !strcmp(type, "single_unit_truck") || !strcmp(type, "work_van");
}

int vehicle_from_detector(vehicle_result *out, const char *det_class, float det_score) {
  memset(out, 0, sizeof *out);
  const vigil_class *c = vigil_class_find(det_class);
  if (!c || c->kind != VIGIL_KIND_VEHICLE) return -1;
  vehicle_set_type(out, c->label, det_score);
  out->from_detector = true;
  out->n_top = 1;
  snprintf(out->top_type[0], sizeof out->top_type[0], "%s", c->label);
  out->top_score[0] = det_score;
  return 0;
}

/* ViTImageProcessor of the model (google/vit-base-patch16-224-in21k's): the
 * box resized to 224 x 224 without a crop, x/255, mean 0.5, std 0.5. */
#define VEH_SIZE 224

int vehicle_classify(model_runner *r, vehicle_result *out, const vigil_image *frame, float x1, float y1, float x2,
                     float y2, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!hub_rgb_input(r->m, 0, 0, NULL, NULL))
    return vigil_err(err, errlen, -1, "vehicle-segment-classification: expected pixel_values [B,3,224,224] float32");
  float p[VEHICLE_NCLASSES];
  int rc = hub_classify_box(r, "vehicle-segment-classification", frame, x1, y1, x2, y2, VEH_SIZE, VEH_SIZE,
                            hub_half_mean, hub_half_std, "vehicle box is empty or outside the image", p,
                            VEHICLE_NCLASSES, err, errlen);
  if (rc) return rc;
  /* the label order from the export's id2label when it names all 11 known classes */
  char labels[VEHICLE_NCLASSES][48];
  int named = hub_id2label(vrt_model_metadata(r->m, "id2label"), labels, VEHICLE_NCLASSES);
  const char *name[VEHICLE_NCLASSES];
  for (int k = 0; k < VEHICLE_NCLASSES; k++) {
    name[k] = vehicle_segment_classes[k];
    for (int j = 0; named == VEHICLE_NCLASSES && j < VEHICLE_NCLASSES; j++)
      if (!strcmp(labels[k], vehicle_segment_classes[j])) name[k] = vehicle_segment_classes[j];
  }
  bool used[VEHICLE_NCLASSES] = {0};
  for (int t = 0; t < VEHICLE_TOP; t++) {
    int best = -1;
    for (int k = 0; k < VEHICLE_NCLASSES; k++)
      if (!used[k] && !never_reported(name[k]) && (best < 0 || p[k] > p[best])) best = k;
    if (best < 0) break;
    used[best] = true;
    snprintf(out->top_type[t], sizeof out->top_type[t], "%s", name[best]);
    out->top_score[t] = p[best];
    out->n_top = t + 1;
  }
  vehicle_set_type(out, out->top_type[0], out->top_score[0]);
  return 0;
}
