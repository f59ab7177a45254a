/* Enrichment: what the specialised models say about one detection. The
 * engine owns the two zoo managers (heavy and light, model-zoo.md's split),
 * leases every model it uses, and runs the parts of one request in parallel.
 * Thread-safe: many requests may run at once on one engine. */
#ifndef VIGIL_ENRICH_H
#define VIGIL_ENRICH_H

#include <stdbool.h>

#include "vigil/classes.h"
#include "vigil/config.h"
#include "vigil/event.h"
#include "vigil/hub.h"
#include "vigil/img.h"
#include "vigil/person.h"
#include "vigil/plate.h"
#include "vigil/pose.h"
#include "vigil/scene_models.h"
#include "vigil/zoo.h"

typedef struct {
  bool detected;
  char type[16];       /* knife, gun, weapon, none */
  float confidence;
  char severity[12];   /* low, medium, high, critical */
  float x1, y1, x2, y2;
  char label[48];      /* the model's own class name */
} threat_result;

typedef struct {
  bool include_pose, include_depth, action_recognition;
  bool include_weather; /* the frame's weather (cached per camera for ENRICH_WEATHER_TTL_S) */
  bool include_violence; /* violence detection on the whole frame (the pipeline asks when >= 2 people are in it) */
} enrich_options;

#define ENRICH_WEATHER_TTL_S 300

/* What enrichment runs on a detection: its class's kind in the vocabulary
 * (vigil/classes.h: vigil_class_kind, vigil_kind_name, vigil_kind_parse). */
typedef vigil_kind enrich_kind;
#define ENRICH_PERSON VIGIL_KIND_PERSON
#define ENRICH_VEHICLE VIGIL_KIND_VEHICLE
#define ENRICH_ANIMAL VIGIL_KIND_ANIMAL
#define ENRICH_OBJECT VIGIL_KIND_OBJECT

typedef struct {
  const vigil_image *frame;
  float x1, y1, x2, y2;               /* detection box in frame pixels (clipped by enrich_run) */
  const vigil_image *const *frames;   /* extra frames for action, may be NULL */
  int nframes;
  enrich_kind kind;
  const char *detection_id;           /* key of the demographics/embedding maps */
  const char *camera_id;
  double ts;                          /* unix seconds of the frame */
  enrich_options opt;
  unsigned parts;                     /* ENRICH_PART_* mask to run; 0 = by kind */
  const char *det_class;              /* the detector's class (fallbacks for vehicle and pet), may be NULL */
  float det_score;                    /* the detector's confidence (the fallbacks' confidence) */
  const char *timezone;               /* the camera's IANA zone for time of day; NULL/"" = local */
  float depth_px_per_m;               /* the camera's depth calibration; 0 = the default */
} enrich_request;

enum {
  ENRICH_PART_THREAT = 1u << 0,
  ENRICH_PART_POSE = 1u << 1,
  ENRICH_PART_DEMOGRAPHICS = 1u << 2,
  ENRICH_PART_CLOTHING = 1u << 3,
  ENRICH_PART_REID = 1u << 4,
  ENRICH_PART_ACTION = 1u << 5,
  ENRICH_PART_DEPTH = 1u << 6,
  ENRICH_PART_VEHICLE = 1u << 7,
  ENRICH_PART_PET = 1u << 8,
  ENRICH_PART_DAMAGE = 1u << 9,
  ENRICH_PART_WEATHER = 1u << 10,
  ENRICH_PART_VIOLENCE = 1u << 11,
};

/* The parts a request runs when rq->parts is 0 (CONTRACTS.md by kind). */
unsigned enrich_default_parts(enrich_kind kind, const enrich_options *opt, int nframes);
/* Part names as the reply and the "parts" request field spell them
 * (threat, pose, demographics, clothing, reid, action, depth, vehicle, pet,
 * damage, weather, violence); 0 / NULL when unknown. */
unsigned enrich_part_bit(const char *name);
const char *enrich_part_name(unsigned bit);
/* The service (heavy or light) that hosts the model of a part, after
 * ENRICHMENT_<FUNCTION>_SERVICE and ENRICHMENT_<MODEL>_SERVICE (env). The
 * pipeline's HTTP client routes with it. */
zoo_service enrich_part_service(unsigned bit);

#define ENRICH_MAX_MODELS 16
#define ENRICH_MAX_ERRORS 12

typedef struct {
  bool has_threat, has_pose, has_demographics, has_clothing, has_reid, has_action;
  bool face_found;                 /* demographics ran and found (or not) a face */
  threat_result threat;
  pose_result pose;
  char pose_model[ZOO_NAME_MAX];
  demographics_result demo;
  face_box face;
  char demo_model[ZOO_NAME_MAX];
  clothing_result clothing;
  float embedding[REID_DIM];
  reid_match reid;
  bool reid_matched;               /* the gallery gave a person_id */
  action_result action;
  bool plate_ran;                  /* the licence-plate reader ran (vehicles) */
  plate_read plate;                /* .found when a plate was read */
  bool has_vehicle, has_damage, has_pet, has_depth, has_weather;
  vehicle_result vehicle;
  damage_result damage;
  int local_hour, local_minute;    /* of rq->ts in rq->timezone (damage patterns) */
  pet_result pet;
  depth_result depth;
  weather_result weather;
  bool has_violence;               /* violence-detection ran on the frame */
  violence_result violence;
  int n_segments;                  /* segformer-b2-clothes items of the person (beside FashionSigLIP) */
  segformer_item segments[SEGFORMER_MAX_ITEMS];
  int seg_mask_w, seg_mask_h;      /* the label map over the person box (0 x 0: none) */
  uint8_t seg_mask[SEGFORMER_MASK_SIDE * SEGFORMER_MASK_SIDE]; /* label ids (segformer_labels), row-major */
  int n_models;
  char models_used[ENRICH_MAX_MODELS][ZOO_NAME_MAX];
  int n_errors;
  char error_part[ENRICH_MAX_ERRORS][16];
  char error_reason[ENRICH_MAX_ERRORS][256];
  double inference_ms;
} enrich_result;

typedef struct enrich_engine enrich_engine;

/* Builds the registry, both managers (budgets: VRAM_BUDGET_GB for heavy,
 * VRAM_BUDGET_LIGHT_GB for light, see docs/configuration.md), routing
 * (ENRICHMENT_<MODEL|FUNCTION>_SERVICE), the re-id gallery, and preloads
 * ENRICHMENT_PRELOAD_MODELS. Missing models are not an error here. */
int enrich_engine_init(enrich_engine **out, const vigil_config *cfg, char *err, size_t errlen);
void enrich_engine_free(enrich_engine *e);
zoo_manager *enrich_engine_manager(enrich_engine *e, zoo_service svc);

/* Runs the parts for rq->kind (CONTRACTS.md): person -> threat, pose,
 * demographics when a face is visible, clothing, reid, depth if asked, action
 * when the pose is suspicious and more than one frame is given. A part whose
 * model is missing or fails is left out with its reason in errors; that is
 * not a failure of the call. Returns <0 only for a bad request (empty box). */
int enrich_run(enrich_engine *e, enrich_result *out, const enrich_request *rq, char *err, size_t errlen);

/* The risk stage's flat summary of a result. */
void enrich_result_summary(const enrich_result *r, const char *detection_id, vigil_enrichment *out);

#endif
