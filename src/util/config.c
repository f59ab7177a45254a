/* Configuration keys in one table, a KEY=VALUE file reader, and typed getters
 * with the precedence environment > file > default. */
#include "vigil/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"
#include "vigil/status.h"

#define NORANGE 1, 0 /* min > max: no range check */

/* Keep this table and docs/configuration.md in step. */
static const vigil_config_key keys[] = {
    /* Services */
    {"PORT", VIGIL_CFG_INT, NULL, 1, 65535,
     "Port of the one service named on `vigil serve` (default: the service's own port)"},
    {"VIGIL_HOME", VIGIL_CFG_STRING, "~/.cache/vigil", NORANGE,
     "Cache of models, media, reference runtimes and golden outputs (`make deps`)"},
    {"VIGIL_LOG", VIGIL_CFG_STRING, "info", NORANGE, "Log level: error, warn, info, debug"},
    {"VIGIL_CONFIG", VIGIL_CFG_STRING, NULL, NORANGE,
     "Path of an optional KEY=VALUE config file (same keys; the environment wins)"},
    {"VIGIL_SOURCE_DIR", VIGIL_CFG_STRING, NULL, NORANGE,
     "Source tree for `vigil models` (tools/setup/deps.sh), tests and benches (unset: found from the binary)"},
    /* Detection (YOLO26 service, 8095) */
    {"YOLO26_MODEL_PATH", VIGIL_CFG_STRING, "/models/yolo26/exports/yolo26m_fp16.engine", NORANGE,
     "Detector weights (.onnx or TF.js model.json); vigil's default detector is used when absent"},
    {"YOLO26_CONFIDENCE", VIGIL_CFG_FLOAT, "0.5", 0, 1, "Minimum detection confidence"},
    /* Enrichment (8094 heavy, 8096 light) */
    {"VRAM_BUDGET_GB", VIGIL_CFG_FLOAT, "6.0", 0, 4096,
     "Memory budget of on-demand models, GB (x1024 = MB)"},
    {"VEHICLE_MODEL_PATH", VIGIL_CFG_STRING, "/models/vehicle-segment-classification", NORANGE,
     "Vehicle classifier"},
    {"VEHICLE_DAMAGE_MODEL_PATH", VIGIL_CFG_STRING, "/models/vehicle-damage-detection", NORANGE,
     "Vehicle damage model (YOLOv11-seg export)"},
    {"WEATHER_MODEL_PATH", VIGIL_CFG_STRING, "/models/weather-classification", NORANGE,
     "Weather classifier (image classifier export with id2label)"},
    {"VIOLENCE_MODEL_PATH", VIGIL_CFG_STRING, "/models/violence-detection", NORANGE,
     "Violence classifier (ViT export with id2label), run on frames with two or more people"},
    {"SEGFORMER_MODEL_PATH", VIGIL_CFG_STRING, "/models/segformer-b2-clothes", NORANGE,
     "SegFormer-b2 clothes export: clothing items, areas and colours beside FashionSigLIP"},
    {"PET_MODEL_PATH", VIGIL_CFG_STRING, "/models/pet-classifier", NORANGE, "Pet classifier"},
    {"CLOTHING_MODEL_PATH", VIGIL_CFG_STRING, "/models/fashion-clip", NORANGE,
     "Clothing model (FashionCLIP/SigLIP)"},
    {"DEPTH_MODEL_PATH", VIGIL_CFG_STRING, "/models/depth-anything-v2-small", NORANGE,
     "Depth estimator"},
    {"VITPOSE_MODEL_PATH", VIGIL_CFG_STRING, "/models/vitpose-plus-small", NORANGE,
     "Pose model (ViTPose+)"},
    {"ACTION_MODEL_PATH", VIGIL_CFG_STRING, "microsoft/xclip-base-patch32", NORANGE,
     "Action recognition model (X-CLIP)"},
    {"ENRICHMENT_PRELOAD_MODELS", VIGIL_CFG_LIST, "", NORANGE,
     "Comma list of on-demand models loaded at start-up"},
    {"ENRICHMENT_VEHICLE_SERVICE", VIGIL_CFG_STRING, "heavy", NORANGE, "Where vehicle runs: heavy|light"},
    {"ENRICHMENT_CLOTHING_SERVICE", VIGIL_CFG_STRING, "heavy", NORANGE, "Where clothing runs: heavy|light"},
    {"ENRICHMENT_DEMOGRAPHICS_SERVICE", VIGIL_CFG_STRING, "heavy", NORANGE,
     "Where age/gender run: heavy|light"},
    {"ENRICHMENT_ACTION_SERVICE", VIGIL_CFG_STRING, "heavy", NORANGE, "Where action runs: heavy|light"},
    {"ENRICHMENT_POSE_SERVICE", VIGIL_CFG_STRING, "light", NORANGE, "Where pose runs: heavy|light"},
    {"ENRICHMENT_THREAT_SERVICE", VIGIL_CFG_STRING, "light", NORANGE, "Where threat runs: heavy|light"},
    {"ENRICHMENT_REID_SERVICE", VIGIL_CFG_STRING, "light", NORANGE, "Where re-id runs: heavy|light"},
    {"ENRICHMENT_PET_SERVICE", VIGIL_CFG_STRING, "light", NORANGE, "Where pet runs: heavy|light"},
    {"ENRICHMENT_DAMAGE_SERVICE", VIGIL_CFG_STRING, "heavy", NORANGE, "Where vehicle damage runs: heavy|light"},
    {"ENRICHMENT_WEATHER_SERVICE", VIGIL_CFG_STRING, "heavy", NORANGE, "Where weather runs: heavy|light"},
    {"ENRICHMENT_DEPTH_SERVICE", VIGIL_CFG_STRING, "light", NORANGE, "Where depth runs: heavy|light"},
    {"ENRICHMENT_*_SERVICE", VIGIL_CFG_STRING, NULL, NORANGE,
     "Routing of any other model: heavy|light"},
    /* Text in the scene: PP-OCRv4 (Florence-2 port 8092 /ocr, licence plates) */
    {"PPOCR_DET_MODEL_PATH", VIGIL_CFG_STRING, NULL, NORANGE,
     "PP-OCRv4 text detector (unset: $VIGIL_HOME/models/ocr/ch_PP-OCRv4_det_infer.onnx)"},
    {"PPOCR_REC_MODEL_PATH", VIGIL_CFG_STRING, NULL, NORANGE,
     "PP-OCRv4 recogniser (unset: $VIGIL_HOME/models/ocr/ch_PP-OCRv4_rec_infer.onnx)"},
    {"PPOCR_CLS_MODEL_PATH", VIGIL_CFG_STRING, NULL, NORANGE,
     "PP-OCR angle classifier (unset: $VIGIL_HOME/models/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx)"},
    {"PPOCR_KEYS_PATH", VIGIL_CFG_STRING, NULL, NORANGE,
     "Recogniser dictionary (unset: $VIGIL_HOME/models/ocr/ppocr_keys_v1.txt)"},
    {"OCR_MAX_SIDE", VIGIL_CFG_INT, "960", 32, 4096, "Longest side of the OCR detector's input, pixels"},
    {"OCR_MODEL_PATH", VIGIL_CFG_STRING, NULL, NORANGE,
     "Folder with the four PP-OCR files for the enrichment zoo's `paddleocr` row (unset: $VIGIL_HOME/models/ocr)"},
    {"LICENSE_PLATE_MODEL_PATH", VIGIL_CFG_STRING, "/models/yolo11-license-plate", NORANGE,
     "Plate detector export (ONNX); unset or missing: the OCR detector finds plates"},
    {"PLATE_PATTERN", VIGIL_CFG_STRING, "^([A-Z0-9][ -]?){3,9}[A-Z0-9]$", NORANGE,
     "POSIX extended regex a plate read must match, upper case with its spaces/dashes (default: 4-10 letters/digits)"},
    {"KNOWN_PLATES", VIGIL_CFG_LIST, "", NORANGE,
     "Comma list of household plates (normalised: KX21ABC); others are unknown to the risk rules"},
    /* Florence-2 (8092) */
    {"FLORENCE_MODEL_PATH", VIGIL_CFG_STRING, "/models/florence-2-large", NORANGE,
     "Florence-2 export folder (five ONNX graphs, vocab.json, merges.txt); without it 8092 answers OCR by PP-OCRv4"},
    {"FLORENCE_NUM_BEAMS", VIGIL_CFG_INT, "3", 1, 8, "Beams of Florence-2's search (1 = greedy)"},
    {"FLORENCE_MAX_NEW_TOKENS", VIGIL_CFG_INT, "1024", 1, 4096,
     "Most tokens one Florence-2 answer may have; a longer one is cut and marked truncated"},
    /* CLIP (8093) */
    {"CLIP_MODEL_PATH", VIGIL_CFG_STRING, "/models/clip-vit-large-patch14", NORANGE,
     "CLIP export folder: vision.onnx, text.onnx, vocab.json, merges.txt, logit_scale.txt"},
    {"CLIP_ANOMALY_THRESHOLD", VIGIL_CFG_FLOAT, "0.25", 0, 2,
     "Anomaly score (1 - cosine to the camera's baseline) above which a warm baseline flags a scene"},
    {"CLIP_BASELINE_WARM", VIGIL_CFG_INT, "20", 1, 1000000, "Scene embeddings a camera's baseline needs to be warm"},
    {"CLIP_BASELINE_ALPHA", VIGIL_CFG_FLOAT, "0.05", 0.0001, 1,
     "Smallest weight of a new scene in the rolling baseline (EMA; the first samples average evenly)"},
    {"VIGIL_CLIP_BASELINES", VIGIL_CFG_STRING, NULL, NORANGE,
     "SQLite file of the per-camera CLIP baselines (unset: $VIGIL_HOME/clip-baselines.sqlite)"},
    {"CLIP_SEARCH_MAX_CROPS", VIGIL_CFG_INT, "8", 0, 8,
     "Person/vehicle crops of an event's snapshot the pipeline embeds for semantic search (besides the snapshot)"},
    {"PIPELINE_SCENE", VIGIL_CFG_BOOL, "true", NORANGE,
     "Caption (Florence-2) and CLIP anomaly of each batch's snapshot, and search embeddings, when the models are installed"},
    /* YOLO-World (open vocabulary on 8095) */
    {"YOLO_WORLD_MODEL_PATH", VIGIL_CFG_STRING, "/models/yolo-world-s", NORANGE,
     "YOLO-World export folder (yolo_world.onnx, text.onnx, vocab.json, merges.txt); without it /detect refuses 'classes'"},
    {"YOLO_WORLD_CONFIDENCE", VIGIL_CFG_FLOAT, "0.25", 0, 1, "Minimum score of an open-vocabulary detection"},
    /* Risk analysis (Nemotron / llama.cpp, 8091) */
    {"VRAM_BUDGET_LIGHT_GB", VIGIL_CFG_FLOAT, NULL, 0, 4096,
     "On-demand budget of the light enrichment service, GB (unset: VRAM_BUDGET_GB when set, else 1.2)"},
    {"ZOO_IDLE_TIMEOUT_S", VIGIL_CFG_FLOAT, "300", 0, 1e9, "Unload a model idle this long, seconds (0 = never)"},
    {"ZOO_REAPER_INTERVAL_S", VIGIL_CFG_FLOAT, "30", 0, 86400,
     "How often a service's reaper looks for idle models, seconds (only while ZOO_IDLE_TIMEOUT_S > 0)"},
    {"ZOO_ACQUIRE_TIMEOUT_MS", VIGIL_CFG_FLOAT, "5000", 0, 3600000,
     "How long a request waits for memory held by models in use before 503, milliseconds"},
    {"*_MODEL_PATH", VIGIL_CFG_STRING, NULL, NORANGE,
     "Weights of the model registry row that names this variable (`vigil models list`, docs/zoo.md)"},
    {"VIGIL_ZOO_CONFIG", VIGIL_CFG_STRING, NULL, NORANGE, "File that adds or overrides model registry rows (docs/zoo.md)"},
    {"VIGIL_POSE_MODEL", VIGIL_CFG_STRING, "movenet-lightning", NORANGE,
     "Pose model: movenet-lightning, movenet-thunder, vitpose-small, yolov8n-pose"},
    {"VIGIL_FACE_MODEL", VIGIL_CFG_STRING, "blazeface", NORANGE, "Face finder for demographics: blazeface, yolo11-face"},
    {"VIGIL_DEMOGRAPHICS_MODEL", VIGIL_CFG_STRING, "faceres", NORANGE,
     "Age/gender model: faceres, vit (vit-age-classifier + vit-gender-classifier)"},
    {"VIGIL_REID_GALLERY", VIGIL_CFG_STRING, NULL, NORANGE,
     "SQLite file of the re-id gallery (unset: $VIGIL_HOME/reid-gallery.sqlite)"},
    {"VIGIL_REID_THRESHOLD", VIGIL_CFG_FLOAT, "0.7", 0, 1, "Cosine similarity at which re-id reuses a person_id"},
    {"VIGIL_HOUSEHOLD_PETS", VIGIL_CFG_STRING, NULL, NORANGE,
     "Known household pets, e.g. `dog:golden retriever,cat` (type[:ImageNet breed]); the rules discount them"},
    {"VIGIL_DETECT_MAX_BATCH", VIGIL_CFG_INT, "8", 1, 256, "Images per detector inference call (bounds memory)"},
    {"VIGIL_DB", VIGIL_CFG_STRING, NULL, NORANGE,
     "Event store URL: sqlite:///path or postgresql://... (unset: sqlite in $VIGIL_HOME/vigil.db)"},
    {"NEMOTRON_URL", VIGIL_CFG_STRING, "http://localhost:8091", NORANGE,
     "LLM server base URL (llama.cpp /completion or OpenAI-compatible)"},
    {"NEMOTRON_API", VIGIL_CFG_STRING, "completion", NORANGE,
     "`completion` (llama.cpp) or `chat` (/v1/chat/completions)"},
    {"NEMOTRON_MODEL", VIGIL_CFG_STRING, "nemotron", NORANGE, "Model name sent to a chat API"},
    {"NEMOTRON_TIMEOUT_S", VIGIL_CFG_FLOAT, "60", 1, 3600, "LLM request timeout, seconds"},
    {"NEMOTRON_TEMPERATURE", VIGIL_CFG_FLOAT, "0.7", 0, 2, "Sampling temperature"},
    {"NEMOTRON_TOP_P", VIGIL_CFG_FLOAT, "0.95", 0, 1, "Nucleus sampling"},
    {"NEMOTRON_N_PREDICT", VIGIL_CFG_INT, "1536", 1, 131072, "Maximum generated tokens"},
    /* Notifications (src/notify) and the dashboard */
    {"MQTT_URL", VIGIL_CFG_STRING, NULL, NORANGE,
     "MQTT broker, mqtt://user:pass@host:1883 (unset: MQTT off)"},
    {"MQTT_CLIENT_ID", VIGIL_CFG_STRING, "vigil", NORANGE, "MQTT client id"},
    {"MQTT_DISCOVERY_PREFIX", VIGIL_CFG_STRING, "homeassistant", NORANGE, "Home Assistant discovery prefix"},
    {"MQTT_LABELS", VIGIL_CFG_LIST, "person,car,truck,bicycle,motorcycle,dog,cat", NORANGE,
     "Watched labels: one binary sensor and count topic each per camera"},
    {"MQTT_CLEAR_S", VIGIL_CFG_FLOAT, "60", 1, 86400,
     "A label's count returns to 0 this long after the last event that showed it, seconds"},
    {"MQTT_BUFFER", VIGIL_CFG_INT, "1000", 1, 1000000,
     "Messages kept while the broker is down (oldest dropped first, counted)"},
    {"VIGIL_CAMERAS", VIGIL_CFG_STRING, NULL, NORANGE,
     "Camera registry file (as `vigil analyze --cameras`): the cameras MQTT announces (unset: the store's)"},
    {"WEBHOOK_URL", VIGIL_CFG_STRING, NULL, NORANGE, "POST every new event's JSON here (unset: off)"},
    {"WEBHOOK_MIN_LEVEL", VIGIL_CFG_STRING, "low", NORANGE, "Only events at or above: low, medium, high, critical"},
    {"WEBHOOK_SECRET", VIGIL_CFG_STRING, NULL, NORANGE,
     "HMAC-SHA256 key of the X-Vigil-Signature header (unset: no signature)"},
    {"WEBHOOK_TIMEOUT_S", VIGIL_CFG_FLOAT, "10", 0.1, 600, "Timeout of one webhook POST, seconds"},
    {"NOTIFY_BACKOFF_S", VIGIL_CFG_FLOAT, "1", 0.01, 3600,
     "First retry delay of a failed delivery, doubled per attempt up to NOTIFY_BACKOFF_MAX_S"},
    {"NOTIFY_BACKOFF_MAX_S", VIGIL_CFG_FLOAT, "300", 0.01, 86400, "Longest delay between delivery attempts"},
    {"DASHBOARD_SERVICES", VIGIL_CFG_LIST,
     "detect=http://127.0.0.1:8095,enrich=http://127.0.0.1:8094,enrich-light=http://127.0.0.1:8096", NORANGE,
     "Services the dashboard proxies (name=URL): their /models/* and /metrics through 8090"},
    /* HTTP edge */
    {"NEMOTRON_API_KEY", VIGIL_CFG_STRING, NULL, NORANGE, "Bearer token for an OpenAI-compatible server"},
    {"NEMOTRON_RETRIES", VIGIL_CFG_INT, "2", 0, 20, "Extra LLM attempts on connect errors, timeouts and 5xx"},
    {"NEMOTRON_BACKOFF_S", VIGIL_CFG_FLOAT, "0.5", 0, 60, "First retry delay, doubled per retry, seconds"},
    {"NEMOTRON_COOLDOWN_S", VIGIL_CFG_FLOAT, "30", 0, 86400, "After an LLM failure, score with rules for this long"},
    {"RISK_LOITER_S", VIGIL_CFG_FLOAT, "300", 1, 86400, "A person tracked (dwell) or re-identified longer than this is loitering"},
    /* Real-time pipeline: motion gating and tracks (docs/architecture.md) */
    {"TAMPER_DETECT", VIGIL_CFG_BOOL, "true", NORANGE,
     "Raise a camera_tampering event when a camera is covered, defocused, blinded or turned (docs/risk.md)"},
    {"TAMPER_FPS", VIGIL_CFG_FLOAT, "2", 0, 1000, "Frames per second the tampering check looks at (0 = every frame)"},
    {"LIVE_INTERVAL_S", VIGIL_CFG_FLOAT, "1", 0, 3600,
     "Each camera's live frame and tracks (dashboard tiles) are stored at most this often, seconds (0 = never)"},
    {"LIVE_MAX_WIDTH", VIGIL_CFG_INT, "640", 64, 4096, "The live frame is scaled down to this width, pixels"},
    {"MOTION_GATING", VIGIL_CFG_BOOL, "true", NORANGE,
     "Detect only frames with motion, on crops around it (false: every frame, whole)"},
    {"MOTION_THRESHOLD", VIGIL_CFG_INT, "20", 1, 255,
     "Grey-level change that counts as motion; lower = more sensitive"},
    {"MOTION_MIN_AREA", VIGIL_CFG_FLOAT, "0.001", 0, 1, "Smallest moving region, as a fraction of the frame"},
    {"MOTION_DETECT_FPS", VIGIL_CFG_FLOAT, "4", 0, 120,
     "While all motion lies on known tracks, detect at most this often per second (0 = every frame)"},
    {"MOTION_RECHECK_S", VIGIL_CFG_FLOAT, "5", 0.1, 3600,
     "Still objects (no motion) are re-checked on the whole frame this often, seconds"},
    {"TRACK_CONFIRM_SCORE", VIGIL_CFG_FLOAT, "0.35", 0, 1,
     "A track is a real object when the median score of its detections reaches this"},
    {"TRACK_MIN_FIRST_SCORE", VIGIL_CFG_FLOAT, "0.3", 0, 1, "... and its first sighting scored at least this"},
    {"TRACK_MIN_HITS", VIGIL_CFG_INT, "3", 1, 100, "... and it was detected in at least this many frames"},
    {"TRACK_CLASSES", VIGIL_CFG_STRING, "person:0.3:0.45", NORANGE,
     "Per-class overrides, label:min_first:median comma list (person calibrated on vtest, docs/models.md)"},
    {"ENRICHMENT_URL", VIGIL_CFG_STRING, NULL, NORANGE,
     "Heavy enrichment service URL(s), comma-separated, tried in order, for the pipeline's HTTP routing (unset: in-process)"},
    {"ENRICHMENT_TIMEOUT_S", VIGIL_CFG_FLOAT, "30", 0.001, 3600, "Timeout of one HTTP enrichment call, seconds"},
    {"ENRICHMENT_LIGHT_URL", VIGIL_CFG_STRING, NULL, NORANGE,
     "Light enrichment service URL(s), comma-separated, tried in order; parts whose model is light go there"},
    {"VIGIL_HTTP_THREADS", VIGIL_CFG_INT, "4", 1, 256,
     "Worker threads per service (handlers run there; at most twice as many requests wait)"},
    {"VIGIL_HTTP_MAX_CONNECTIONS", VIGIL_CFG_INT, "64", 1, 100000,
     "Concurrent connections per service; past it the oldest connection still waiting for its headers is "
     "closed, or (none) requests get 503; /health and /metrics always answer"},
    {"VIGIL_HTTP_MAX_BODY_MB", VIGIL_CFG_FLOAT, "16", 0.001, 4096,
     "Largest request body; larger bodies get 413 without being buffered"},
    {"VIGIL_HTTP_MAX_HEADER_KB", VIGIL_CFG_INT, "32", 4, 1024, "Request line + headers limit"},
    {"VIGIL_HTTP_IDLE_TIMEOUT_S", VIGIL_CFG_INT, "15", 1, 3600,
     "An idle connection is closed after this long"},
    {"VIGIL_HTTP_REQUEST_TIMEOUT_S", VIGIL_CFG_INT, "30", 1, 3600,
     "A request (headers and body) must arrive within this; slow clients are cut off"},
    {"VIGIL_HTTP_HEADER_TIMEOUT_S", VIGIL_CFG_INT, "5", 1, 3600,
     "The request line and headers must arrive within this (also bounds an idle keep-alive connection)"},
    {"VIGIL_HTTP_MAX_CONNECTIONS_PER_IP", VIGIL_CFG_INT, "32", 0, 100000,
     "Connections per client address; past it the client's oldest waiting connection is closed, or 503 "
     "(0 = no limit)"},
    {"VIGIL_HTTP_MAX_REQUEST_PIXELS", VIGIL_CFG_INT, "100000000", 0, 1e12,
     "Decoded pixels one request may hold, summed over its images; past it 413 (0 = no limit)"},
    {"VIGIL_HTTP_MAX_INFLIGHT_PIXELS", VIGIL_CFG_INT, "200000000", 0, 1e12,
     "Decoded pixels all requests of one service may hold at once; a request waits up to 2 s for room, "
     "then 503 (0 = no limit)"},
    {"VIGIL_HTTP_MAX_QUEUE_WAIT_S", VIGIL_CFG_FLOAT, "0", 0, 3600,
     "Shed a request (503 + Retry-After) when its expected wait for a worker is over this; 0 = twice the "
     "measured handling time"},
    {"VIGIL_HTTP_BIND", VIGIL_CFG_STRING, NULL, NORANGE,
     "IPv4 address services listen on (unset: 127.0.0.1 without an API key, 0.0.0.0 with one)"},
    {"VIGIL_HTTP_INSECURE", VIGIL_CFG_BOOL, "false", NORANGE,
     "Allow listening beyond loopback without an API key (anyone who reaches the port may use it)"},
    {"VIGIL_API_KEY", VIGIL_CFG_STRING, NULL, NORANGE,
     "Admin API key (16-256 printable characters); set, every route but /health needs a key"},
    {"VIGIL_API_KEYS_FILE", VIGIL_CFG_STRING, NULL, NORANGE,
     "File of API keys, one `admin KEY` or `read KEY` per line (read keys may only GET)"},
    {"VIGIL_HTTP_ALLOWED_HOSTS", VIGIL_CFG_LIST, NULL, NORANGE,
     "Host names requests may address besides IP literals and localhost (`*` = any; defeats DNS rebinding)"},
    {"VIGIL_HTTP_CORS_ORIGINS", VIGIL_CFG_LIST, NULL, NORANGE,
     "Origins allowed to call the API from a browser (CORS), e.g. https://dash.example:8443 (unset: none)"},
    {"VIGIL_CA_FILE", VIGIL_CFG_STRING, NULL, NORANGE,
     "CA bundle (PEM) that verifies HTTPS LLM and enrichment servers (unset: the system's)"},
    {"ENRICHMENT_API_KEY", VIGIL_CFG_STRING, NULL, NORANGE,
     "API key sent (Bearer) to the enrichment services' URLs"},
    {"VIGIL_MAX_IMAGE_MB", VIGIL_CFG_FLOAT, "10", 0.001, 1024,
     "Largest encoded image; larger images get 413"},
    {"VIGIL_MAX_IMAGE_PIXELS", VIGIL_CFG_INT, "50000000", 1, 1e9,
     "Largest decoded image, pixels (also at most 16384 per side)"},
};

const char *vigil_config_strerror(int status) {
  switch (status) { VIGIL_CFG_STATUS_MAP(VIGIL_MSG_CASE_3) }
  return "unknown config error";
}

const vigil_config_key *vigil_config_keys(size_t *n) {
  *n = sizeof keys / sizeof keys[0];
  return keys;
}

/* Matches `key` against a pattern whose '*' stands for [A-Z0-9_]+. */
static bool key_match(const char *pat, const char *key) {
  const char *star = strchr(pat, '*');
  if (!star) return !strcmp(pat, key);
  size_t pre = (size_t)(star - pat), suf = strlen(star + 1), klen = strlen(key);
  if (klen < pre + suf + 1) return false;
  if (strncmp(pat, key, pre) || strcmp(key + klen - suf, star + 1)) return false;
  for (size_t i = pre; i < klen - suf; i++)
    if (!isupper((unsigned char)key[i]) && !isdigit((unsigned char)key[i]) && key[i] != '_') return false;
  return true;
}

const vigil_config_key *vigil_config_find(const char *key) {
  const vigil_config_key *pattern = NULL;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    if (!strchr(keys[i].key, '*')) {
      if (!strcmp(keys[i].key, key)) return &keys[i];
    } else if (!pattern && key_match(keys[i].key, key)) {
      pattern = &keys[i];
    }
  }
  return pattern;
}

struct vigil_config {
  size_t n;
  char **k, **v;
};

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

static int cfg_put(vigil_config *c, const char *k, const char *v) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->k[i], k)) { /* a later line wins */
      char *nv = strdup(v);
      if (!nv) return VIGIL_CFG_ENOMEM;
      free(c->v[i]);
      c->v[i] = nv;
      return 0;
    }
  char **nk = realloc(c->k, (c->n + 1) * sizeof *nk);
  if (!nk) return VIGIL_CFG_ENOMEM;
  c->k = nk;
  char **nv = realloc(c->v, (c->n + 1) * sizeof *nv);
  if (!nv) return VIGIL_CFG_ENOMEM;
  c->v = nv;
  c->k[c->n] = strdup(k);
  c->v[c->n] = strdup(v);
  if (!c->k[c->n] || !c->v[c->n]) {
    free(c->k[c->n]);
    free(c->v[c->n]);
    return VIGIL_CFG_ENOMEM;
  }
  c->n++;
  return 0;
}

int vigil_config_load(vigil_config **out, const char *path, char *err, size_t errlen) {
  *out = NULL;
  vigil_config *c = calloc(1, sizeof *c);
  if (!c) return VIGIL_CFG_ENOMEM;
  if (!path) path = getenv("VIGIL_CONFIG");
  if (!path || !*path) {
    *out = c;
    return 0;
  }
  FILE *f = fopen(path, "r");
  if (!f) {
    vigil_err(err, errlen, -1, "config %s: %s", path, strerror(errno));
    free(c);
    return VIGIL_CFG_EIO;
  }
  char line[4096];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
      vigil_err(err, errlen, -1, "%s:%d: line too long", path, lineno);
      rc = VIGIL_CFG_ESYNTAX;
      break;
    }
    char *s = trim(line);
    if (!*s || *s == '#') continue;
    if (!strncmp(s, "export ", 7)) s = trim(s + 7);
    char *eq = strchr(s, '=');
    if (!eq) {
      vigil_err(err, errlen, -1, "%s:%d: expected KEY=VALUE", path, lineno);
      rc = VIGIL_CFG_ESYNTAX;
      break;
    }
    *eq = '\0';
    char *k = trim(s), *v = trim(eq + 1);
    bool ok = *k != '\0';
    for (char *p = k; *p && ok; p++)
      ok = isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_';
    if (!ok) {
      vigil_err(err, errlen, -1, "%s:%d: bad key '%s' (upper case, digits, '_')", path, lineno, k);
      rc = VIGIL_CFG_ESYNTAX;
      break;
    }
    size_t vl = strlen(v);
    if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
      v[vl - 1] = '\0';
      v++;
    }
    if (!vigil_config_find(k)) vlog_warn("config %s:%d: unknown key %s (kept)", path, lineno, k);
    if ((rc = cfg_put(c, k, v))) {
      vigil_err(err, errlen, -1, "out of memory");
      break;
    }
  }
  fclose(f);
  if (rc) {
    vigil_config_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void vigil_config_free(vigil_config *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < cfg->n; i++) {
    free(cfg->k[i]);
    free(cfg->v[i]);
  }
  free(cfg->k);
  free(cfg->v);
  free(cfg);
}

static vigil_config *global_cfg;

void vigil_config_set_global(vigil_config *cfg) {
  vigil_config_free(global_cfg);
  global_cfg = cfg;
}

const vigil_config *vigil_config_global(void) { return global_cfg; }

static const char *lookup(const vigil_config *cfg, const char *key, const char **source) {
  if (!cfg) cfg = global_cfg;
  const char *e = getenv(key);
  if (e) {
    *source = "env";
    return e;
  }
  if (cfg)
    for (size_t i = 0; i < cfg->n; i++)
      if (!strcmp(cfg->k[i], key)) {
        *source = "file";
        return cfg->v[i];
      }
  const vigil_config_key *row = vigil_config_find(key);
  if (row && row->def) {
    *source = "default";
    return row->def;
  }
  *source = "unset";
  return NULL;
}

const char *vigil_config_str(const vigil_config *cfg, const char *key) {
  const char *src;
  return lookup(cfg, key, &src);
}

const char *vigil_config_source(const vigil_config *cfg, const char *key) {
  const char *src;
  lookup(cfg, key, &src);
  return src;
}

const char *vigil_config_given(const vigil_config *cfg, const char *key) {
  const char *src, *v = lookup(cfg, key, &src);
  return !strcmp(src, "env") || !strcmp(src, "file") ? v : NULL;
}

static int range_check(const char *key, double v, char *err, size_t errlen) {
  const vigil_config_key *row = vigil_config_find(key);
  if (row && row->min <= row->max && (v < row->min || v > row->max)) {
    return vigil_err(err, errlen, VIGIL_CFG_EINVAL, "%s=%g is out of range [%g, %g]", key, v, row->min, row->max);
  }
  return 0;
}

/* The text of a key that must be set. */
static int need(const vigil_config *cfg, const char *key, const char **s, char *err, size_t errlen) {
  *s = vigil_config_str(cfg, key);
  return *s ? 0 : vigil_err(err, errlen, VIGIL_CFG_ENOTFOUND, "%s is not set", key);
}

/* A key's number: an integer (is_int, into *l) or a finite float (into *d),
 * within the row's range. */
static int number(const vigil_config *cfg, const char *key, bool is_int, double *d, long *l, char *err,
                  size_t errlen) {
  const char *s;
  int rc = need(cfg, key, &s, err, errlen);
  if (rc) return rc;
  char *end;
  errno = 0;
  if (is_int) *d = (double)(*l = strtol(s, &end, 10));
  else *d = strtod(s, &end);
  while (end && isspace((unsigned char)*end)) end++;
  if (end == s || *end || errno || !isfinite(*d))
    return vigil_err(err, errlen, VIGIL_CFG_EINVAL, "%s='%s' is not %s", key, s, is_int ? "an integer" : "a number");
  return range_check(key, *d, err, errlen);
}

int vigil_config_float(const vigil_config *cfg, const char *key, double *out, char *err, size_t errlen) {
  double d;
  long l;
  int rc = number(cfg, key, false, &d, &l, err, errlen);
  if (!rc) *out = d;
  return rc;
}

int vigil_config_int(const vigil_config *cfg, const char *key, long *out, char *err, size_t errlen) {
  double d;
  long l;
  int rc = number(cfg, key, true, &d, &l, err, errlen);
  if (!rc) *out = l;
  return rc;
}

int vigil_config_bool(const vigil_config *cfg, const char *key, bool *out, char *err, size_t errlen) {
  const char *s;
  int rc = need(cfg, key, &s, err, errlen);
  if (rc) return rc;
  static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
  for (int i = 0; i < 4; i++) {
    if (!strcasecmp(s, yes[i])) {
      *out = true;
      return 0;
    }
    if (!strcasecmp(s, no[i])) {
      *out = false;
      return 0;
    }
  }
  return vigil_err(err, errlen, VIGIL_CFG_EINVAL, "%s='%s' is not a boolean (true/false, 1/0, yes/no, on/off)", key, s);
}

void vigil_config_list_free(char **items, size_t n) {
  if (!items) return;
  for (size_t i = 0; i < n; i++) free(items[i]);
  free(items);
}

int vigil_config_list(const vigil_config *cfg, const char *key, char ***items, size_t *n,
                      char *err, size_t errlen) {
  *items = NULL;
  *n = 0;
  const char *s;
  int rc = need(cfg, key, &s, err, errlen);
  if (rc) return rc;
  char **v = NULL;
  size_t cnt = 0;
  while (*s) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    const char *a = s, *b = s + len;
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    if (b > a) {
      char **nv = realloc(v, (cnt + 1) * sizeof *nv);
      char *item = nv ? strndup(a, (size_t)(b - a)) : NULL;
      if (!item) {
        vigil_config_list_free(nv ? nv : v, cnt);
        return vigil_err(err, errlen, VIGIL_CFG_ENOMEM, "out of memory");
      }
      v = nv;
      v[cnt++] = item;
    }
    s += len;
    if (*s == ',') s++;
  }
  *items = v;
  *n = cnt;
  return 0;
}
