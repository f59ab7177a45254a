/* The plain C records that flow from the pipeline into risk analysis and the
 * event store: a detection, its enrichment summary, a per-camera batch, and the
 * scored event that comes out.
 *
 * Ownership: vigil_detection and vigil_enrichment are flat values (fixed-size
 * strings, no pointers), so they may be copied with `=`. A vigil_batch owns its
 * arrays (vigil_batch_free). A vigil_event owns its strings (vigil_event_free).
 * Threads: none of these objects is shared; callers synchronise. */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VIGIL_ID_LEN 64    /* ids: detection, camera, person, batch key */
#define VIGIL_NAME_LEN 48  /* short labels: class, posture, clothing type ... */
#define VIGIL_MAX_WATCH 16 /* classes on a camera's watch list */
#define VIGIL_MAX_ALERTS 6
#define VIGIL_MAX_REID_CAMERAS 8
#define VIGIL_MAX_DAMAGE 6 /* the six damage classes of model-zoo.md */
#define VIGIL_MAX_ZONES 16
#define VIGIL_MAX_PLATES 8 /* distinct licence plates per event */
#define VIGIL_MAX_RULES 48 /* risk rules that fired for an event (src/risk/rules.c has 37) */
#define VIGIL_RULE_LEN 32  /* a rule id, e.g. "weapon_firearm" */

typedef struct {
  float x1, y1, x2, y2; /* pixels of the original frame */
} vigil_bbox;

typedef struct {
  char id[VIGIL_ID_LEN];        /* unique across the store, e.g. "cam1-1732690000123-3" */
  char camera_id[VIGIL_ID_LEN];
  char cls[VIGIL_NAME_LEN];     /* detector class: person, car, dog, knife ... */
  float confidence;             /* 0..1 */
  vigil_bbox bbox;
  double ts;                    /* unix seconds (UTC) of the frame */
  /* The tracked object this entry stands for (pipeline batches hold one entry
   * per confirmed track; track_id 0 = a lone detection, the fields below are
   * then unset). The box, confidence and ts are those of its best sighting. */
  uint32_t track_id;
  double first_seen, last_seen; /* unix seconds: dwell = last_seen - first_seen */
  bool stationary;              /* it has not moved for a few seconds (parked, standing) */
  int frames;                   /* frames it was detected in */
  char entry_zone[VIGIL_NAME_LEN]; /* zone of its first confirmed sighting, "" = none */
  char exit_zone[VIGIL_NAME_LEN];  /* zone of its latest sighting, "" = none */
  /* JPEG of the object's best sighting (pipeline.c: best_crop_offer), "" = none */
  char snapshot_path[512];
} vigil_detection;

/* Each part is valid only when its `present` flag is set (the part ran). */
typedef struct {
  bool present;
  char type[VIGIL_NAME_LEN];    /* knife, gun, rifle, pistol, bat, crowbar, weapon, none */
  float confidence;
  char severity[16];            /* low, medium, high, critical */
  vigil_bbox bbox;
} vigil_threat;

typedef struct {
  bool present;
  char posture[VIGIL_NAME_LEN]; /* standing, walking, running, sitting, crouching, lying_down, unknown */
  int n_alerts;
  char alerts[VIGIL_MAX_ALERTS][VIGIL_NAME_LEN]; /* hands_raised, fighting_stance, crouching, lying_down */
} vigil_pose;

typedef struct {
  bool present;
  char type[VIGIL_NAME_LEN];    /* e.g. "hoodie", "face mask", "balaclava", "delivery uniform" */
  char color[VIGIL_NAME_LEN];   /* e.g. "dark" */
  bool is_suspicious;
  bool is_service_uniform;
  char items[160];              /* SegFormer clothes: "upper_clothes red 45%, pants blue 50%"; "" = not run */
} vigil_clothing;

typedef struct {
  bool present;
  char age_range[16];           /* 0-12, 13-17, 18-24, 25-35, 36-50, 51-65, 65+ */
  char gender[16];              /* male, female, unknown */
  float confidence;
} vigil_demographics;

typedef struct {
  bool present;
  char person_id[VIGIL_ID_LEN]; /* track id from re-identification */
  double first_seen, last_seen; /* unix seconds, over all cameras */
  int n_cameras;
  char cameras[VIGIL_MAX_REID_CAMERAS][VIGIL_ID_LEN];
} vigil_reid;

typedef struct {
  char type[24];                /* crack, dent, glass_shatter, lamp_broken, scratch, tire_flat */
  int count;                    /* instances of this type */
  float avg_confidence;         /* 0..1 */
} vigil_damage;

typedef struct {
  bool present;
  char type[VIGIL_NAME_LEN];    /* vehicle classifier label, e.g. pickup_truck */
  bool is_commercial;
  int n_damage;                 /* distinct damage types in `damage` */
  vigil_damage damage[VIGIL_MAX_DAMAGE];
} vigil_vehicle;

/* A licence plate read on a vehicle (docs/models.md, "Licence plates"). */
typedef struct {
  bool present;
  char text[16];                /* normalised: KX21ABC */
  char raw[64];                 /* as read: "KX21 ABC" */
  float confidence;
  int votes;                    /* frames of the track that read this text (1 = this frame only) */
  bool known;                   /* in KNOWN_PLATES */
  vigil_bbox bbox;
} vigil_plate;

typedef struct {
  bool present;
  char type[16];                /* dog, cat */
  char breed[VIGIL_NAME_LEN];
  float confidence;
  bool is_household;            /* matches the household pet list (VIGIL_HOUSEHOLD_PETS) */
} vigil_pet;

typedef struct {
  bool present;
  float distance_m;
  char proximity[16];           /* very_close, close, medium, far */
} vigil_depth;

typedef struct {
  bool present;                 /* the violence classifier ran on the frame (>= 2 people in it) */
  bool violent;                 /* its violence probability >= 0.5 */
  float confidence;             /* that probability */
} vigil_violence;

typedef struct {
  bool present;
  char label[32];               /* the weather classifier's label, e.g. "rain" */
  float confidence;
} vigil_weather;

typedef struct {
  bool present;
  char action[VIGIL_NAME_LEN];
  float confidence;
} vigil_action;

typedef struct {
  bool present;                 /* a face was matched against known faces */
  bool known;
  char name[VIGIL_NAME_LEN];    /* the known person's label, when known */
} vigil_face;

typedef struct {
  char detection_id[VIGIL_ID_LEN]; /* the detection this summary belongs to */
  vigil_threat threat;
  vigil_pose pose;
  vigil_clothing clothing;
  vigil_demographics demographics;
  vigil_reid reid;
  vigil_vehicle vehicle;
  vigil_pet pet;
  vigil_depth depth;
  vigil_action action;
  vigil_face face;
  vigil_plate plate;
  vigil_weather weather;
  vigil_violence violence;
} vigil_enrichment;

/* What the scene models said of the batch's best snapshot (src/pipeline/scene.c):
 * Florence-2's <DETAILED_CAPTION> and CLIP's distance from the camera's usual
 * view. Each part is valid only when its flag is set (the model is installed). */
#define VIGIL_CAPTION_LEN 512
typedef struct {
  bool has_caption;
  char caption[VIGIL_CAPTION_LEN];
  bool has_anomaly;
  float anomaly_score;     /* 1 - cosine to the rolling baseline; 0 for the camera's first view */
  float similarity;        /* cosine to the baseline before this view joined it */
  bool baseline_warm;      /* the baseline had CLIP_BASELINE_WARM samples */
  int64_t baseline_samples;
  bool is_anomaly;         /* warm and anomaly_score > CLIP_ANOMALY_THRESHOLD */
} vigil_scene;

/* One camera's detections over one window; the unit the risk stage scores and
 * the store writes in one transaction. dets[i] and enr[i] belong together
 * (enr[i].detection_id == dets[i].id; an all-absent enrichment when none ran). */
typedef struct {
  char camera_id[VIGIL_ID_LEN];
  char camera_name[VIGIL_NAME_LEN];
  double window_start, window_end; /* unix seconds */
  int local_hour, local_minute;    /* camera-local time of day of window_end; hour -1 = unknown */
  bool fast_path;
  char batch_key[VIGIL_ID_LEN];    /* idempotency key; "" = derived from the detection ids */
  char snapshot_path[512];         /* annotated JPEG of the batch, "" if none */
  int n_zones;
  char zones[VIGIL_MAX_ZONES][VIGIL_NAME_LEN]; /* zones the detections fell in */
  bool zone_entrance[VIGIL_MAX_ZONES];         /* zones[i] is marked as an entrance */
  vigil_scene scene;                           /* caption and scene anomaly of the snapshot */
  int n_watch;                                 /* the camera's watch list (registry "watch"): */
  char watch[VIGIL_MAX_WATCH][VIGIL_NAME_LEN]; /* classes whose sighting the rules raise */
  size_t n, cap;
  vigil_detection *dets;
  vigil_enrichment *enr;
} vigil_batch;

void vigil_batch_init(vigil_batch *b, const char *camera_id);
void vigil_batch_free(vigil_batch *b); /* frees the arrays; NULL is a no-op */
/* Appends a detection and its enrichment (NULL: none ran). 0 or -ENOMEM. */
int vigil_batch_add(vigil_batch *b, const vigil_detection *d, const vigil_enrichment *e);
/* Adds a zone name once (duplicates and overflow are ignored). */
void vigil_batch_add_zone(vigil_batch *b, const char *zone);
/* Marks a zone already added as an entrance (the camera registry's "entrance": true). */
void vigil_batch_mark_entrance(vigil_batch *b, const char *zone);

typedef struct {
  int64_t id;                   /* store id; 0 before it is stored */
  char camera_id[VIGIL_ID_LEN];
  int risk_score;               /* 0..100 */
  char risk_level[16];          /* low, medium, high, critical */
  char *summary;                /* owned */
  char *reasoning;              /* owned */
  size_t n_detection_ids;
  char (*detection_ids)[VIGIL_ID_LEN]; /* owned */
  double window_start, window_end;
  bool fast_path;
  char scorer[8];               /* "llm" or "rules" */
  bool reviewed;
  char *notes;                  /* owned; NULL = none */
  char *snapshot_path;          /* owned; NULL = none */
  double created_at;            /* unix seconds */
  int n_plates;                 /* licence plates read in the batch (normalised, distinct) */
  char plates[VIGIL_MAX_PLATES][16];
  vigil_scene scene;            /* caption and scene anomaly, as stored (flags clear: none) */
  /* Ids of the risk rules that fired on the batch (docs/risk.md), in table
   * order. The rules run for every event, LLM-scored ones too (their floors
   * bind any scorer), so this lists the rules' findings whichever scorer won. */
  int n_rules;
  char rules[VIGIL_MAX_RULES][VIGIL_RULE_LEN];
} vigil_event;

void vigil_event_init(vigil_event *ev);
void vigil_event_free(vigil_event *ev); /* frees the members and re-inits; NULL is a no-op */
/* Fills camera, window, fast_path, detection ids and snapshot from a batch. 0 or -ENOMEM. */
int vigil_event_from_batch(vigil_event *ev, const vigil_batch *b);

/* Risk level band of a score: low 0-29, medium 30-59, high 60-84, critical 85-100. */
const char *vigil_risk_level(int score);
/* True for "low", "medium", "high", "critical". */
bool vigil_risk_level_valid(const char *level);

/* Copies src into dst[n] always NUL-terminated (truncating). */
void vigil_strlcpy(char *dst, const char *src, size_t n);

#ifdef __cplusplus
}
#endif
#endif
