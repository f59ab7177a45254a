/* Violence detection from a ViT image classifier export (the zoo's violence-detection
 * row, include/vigil/scene_models.h): the class order comes from the export's id2label. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "vigil/status.h"
#include "vigil/scene_models.h"

#define VIO_SIZE 224

/* The ids of the violence and non-violence classes; -1 when id2label lacks them. */
static int class_ids(model_runner *r, char (*labels)[48], int *vio, int *non) {
  *vio = *non = -1;
  if (hub_id2label(vrt_model_metadata(r->m, "id2label"), labels, 2) != 2) return -1;
  for (int i = 0; i < 2; i++) {
    if (strstr(labels[i], "non") || strstr(labels[i], "no ") || !strcmp(labels[i], "normal")) *non = i;
    else if (strstr(labels[i], "violen") || strstr(labels[i], "fight")) *vio = i;
  }
  return *vio >= 0 && *non >= 0 ? 0 : -1;
}

int violence_check(model_runner *r, char *err, size_t errlen) {
  const vrt_tensor *in = vrt_model_input(r->m, 0);
  if (!in || in->ndim != 4 || in->dtype != VRT_F32 || (in->dims[1] >= 0 && in->dims[1] != 3) ||
      (in->dims[2] >= 0 && in->dims[2] != VIO_SIZE) || (in->dims[3] >= 0 && in->dims[3] != VIO_SIZE))
    return vigil_err(err, errlen, -1, "violence-detection: expected pixel_values [B,3,224,224] float32");
  char labels[2][48];
  int vio, non;
  if (class_ids(r, labels, &vio, &non))
    return vigil_err(err, errlen, -1, "violence-detection: the export's id2label must name a violence and a "
                                 "non-violence class (write it with tools/export/violence_detection.py)");
  return 0;
}

int violence_classify(model_runner *r, violence_result *out, const vigil_image *frame, float x1, float y1, float x2,
                      float y2, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  char labels[2][48];
  int vio, non;
  if (violence_check(r, err, errlen) || class_ids(r, labels, &vio, &non)) return -1;
  if (!(x2 > x1 && y2 > y1)) x1 = 0, y1 = 0, x2 = (float)frame->w, y2 = (float)frame->h;
  float p[2];
  int rc = hub_classify_box(r, "violence-detection", frame, x1, y1, x2, y2, VIO_SIZE, VIO_SIZE, hub_half_mean,
                            hub_half_std, "violence-detection: the region is outside the frame", p, 2, err, errlen);
  if (rc) return rc;
  out->violence = p[vio];
  out->violent = p[vio] >= 0.5f;
  snprintf(out->label, sizeof out->label, "%s", labels[out->violent ? vio : non]);
  return 0;
}
