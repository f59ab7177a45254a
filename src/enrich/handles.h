/* What the enrichment zoo loader hands out: one loaded model behind its
 * adapter, whatever its kind (a plain vrt model with a session pool, a
 * detector, or a multi-file model such as SigLIP or X-CLIP). */
#ifndef VIGIL_ENRICH_HANDLES_H
#define VIGIL_ENRICH_HANDLES_H

#include "models/runner.h"
#include "vigil/detect.h"
#include "vigil/hub.h"
#include "vigil/ocr.h"
#include "vigil/quality.h"
#include "vigil/scene_models.h"
#include "vigil/zoo.h"

typedef enum { EH_RUNNER, EH_DETECTOR, EH_SIGLIP, EH_XCLIP, EH_OCR, EH_BRISQUE } enrich_handle_kind;

typedef struct {
  enrich_handle_kind kind;
  char adapter[32];
  char name[ZOO_NAME_MAX];
  model_runner run;   /* EH_RUNNER */
  detector_t *det;    /* EH_DETECTOR (YOLO-family adapters) */
  siglip_model *sig;  /* EH_SIGLIP */
  xclip_model *xc;    /* EH_XCLIP */
  ocr_engine *ocr;    /* EH_OCR: the PP-OCR folder (det, rec, cls, keys) of the paddleocr row */
  vigil_brisque *bq;  /* EH_BRISQUE: the folder holds brisque_{model,range}_live.yml */
} enrich_handle;

/* The zoo_loader that builds enrich_handles from registry rows by adapter,
 * with a warm-up run so the measured bytes include the activation arena. */
zoo_loader enrich_zoo_loader(int threads);

#endif
