/* Weather from an image classifier export run on the whole frame (the heavy
 * service's weather-classification row); labels from its id2label. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hub_common.h"
#include "models/runner.h"
#include "vigil/hub.h"
#include "vigil/status.h"

#define WX_SIZE 224
#define WX_MAX_CLASSES 64

int weather_check(model_runner *r, char *err, size_t errlen) {
  const vrt_tensor *in = vrt_model_input(r->m, 0);
  if (!in || in->ndim != 4 || in->dtype != VRT_F32 || (in->dims[1] >= 0 && in->dims[1] != 3))
    return vigil_err(err, errlen, -1, "weather-classification: expected pixel_values [B,3,224,224] float32");
  char labels[WX_MAX_CLASSES][48];
  int named = hub_id2label(vrt_model_metadata(r->m, "id2label"), labels, WX_MAX_CLASSES);
  if (named < 2)
    return vigil_err(err, errlen, -1, "weather-classification: the export has no id2label metadata (write it with "
                                 "tools/export/weather_classifier.py)");
  return 0;
}

int weather_classify(model_runner *r, weather_result *out, const vigil_image *frame, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (weather_check(r, err, errlen)) return -1;
  vrt_tensor *o;
  int n;
  int rc = hub_run_box(r, "weather-classification", frame, 0, 0, (float)frame->w, (float)frame->h, WX_SIZE, WX_SIZE,
                       hub_half_mean, hub_half_std, "cannot resize the frame", &o, &n, err, errlen);
  if (rc) return rc;
  char labels[WX_MAX_CLASSES][48];
  hub_id2label(vrt_model_metadata(r->m, "id2label"), labels, WX_MAX_CLASSES);
  int64_t nc = n ? vrt_tensor_numel(&o[0]) : 0;
  if (n < 1 || o[0].dtype != VRT_F32 || nc < 2 || nc > WX_MAX_CLASSES) {
    runner_outputs_free(o, n);
    return vigil_err(err, errlen, -1, "weather-classification: expected logits [1,n] with 2..%d classes", WX_MAX_CLASSES);
  }
  float p[WX_MAX_CLASSES];
  hub_softmax(p, o[0].data, (int)nc);
  runner_outputs_free(o, n);
  int best = 0;
  for (int k = 1; k < nc; k++)
    if (p[k] > p[best]) best = k;
  if (labels[best][0]) snprintf(out->label, sizeof out->label, "%s", labels[best]);
  else snprintf(out->label, sizeof out->label, "class %d", best);
  out->confidence = p[best];
  return 0;
}
