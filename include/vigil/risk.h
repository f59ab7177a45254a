/* Risk analysis of a batch: a ChatML prompt for an LLM (llama.cpp /completion
 * or an OpenAI-compatible /v1/chat/completions, through libcurl), handling of
 * its untrusted reply, and a deterministic rule-based scorer used when no LLM
 * is configured or the LLM fails. docs/risk.md describes the rule table.
 *
 * Threads: risk_analyze may be called from several threads on one analyzer
 * (the circuit-breaker state is behind a mutex). Everything else is pure and
 * re-entrant. Strings returned through char ** are malloc'ed and owned by the
 * caller. Fallible calls return 0 or a negative RISK_E* and write a readable
 * message into err[errlen] (err may be NULL). */
#ifndef VIGIL_RISK_H
#define VIGIL_RISK_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/config.h"
#include "vigil/event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes, defined once: X(name, code, message). */
#define RISK_STATUS_MAP(X)                                                          \
  X(OK, 0, "ok")                                                                    \
  X(EINVAL, -1, "bad argument or configuration")                                    \
  X(ENOMEM, -2, "out of memory")                                                    \
  X(EHTTP, -3, "LLM unreachable: connect error, timeout or non-2xx after retries")  \
  X(EREPLY, -4, "the LLM's reply is not usable")                                    \
  X(ETOOBIG, -5, "the LLM's reply exceeded max_reply_bytes")                        \
  X(ENOLLM, -6, "no LLM configured (or circuit open)")

enum {
#define RISK_X_(name, code, msg) RISK_##name = code,
  RISK_STATUS_MAP(RISK_X_)
#undef RISK_X_
};

const char *risk_strerror(int status);

typedef enum {
  RISK_API_NONE = 0,  /* rules only */
  RISK_API_LLAMACPP,  /* POST {url}/completion */
  RISK_API_OPENAI,    /* POST {url}/v1/chat/completions */
} risk_api;

typedef struct {
  char url[256];          /* base URL, e.g. http://127.0.0.1:8091; "" = no LLM */
  risk_api api;
  char model[96];         /* "model" of the OpenAI request */
  char api_key[256];      /* Bearer token for OpenAI-compatible servers; "" = none */
  char ca_file[512];      /* PEM bundle that verifies an https:// server; "" = the system's */
  double timeout_s;       /* whole request; default 60 */
  double connect_timeout_s; /* default 5 */
  int max_retries;        /* extra attempts on connect errors, timeouts and 5xx; default 2 */
  double backoff_s;       /* first retry delay, doubled per retry; default 0.5 */
  double cooldown_s;      /* after an LLM failure, use rules for this long; default 30 */
  double temperature;     /* 0.7 */
  double top_p;           /* 0.95 */
  int n_predict;          /* 1536 (max_tokens for OpenAI) */
  size_t max_reply_bytes; /* HTTP body cap; default 1 MiB */
  size_t max_prompt_bytes;/* prompt cap; default 16 KiB */
  int max_prompt_detections; /* detections listed in the prompt; default 40 */
  double loiter_s;        /* re-id seen longer than this = loitering; default 300 */
} risk_params;

risk_params risk_default_params(void);

/* Reads NEMOTRON_URL, NEMOTRON_API (completion|llamacpp or chat|openai),
 * NEMOTRON_MODEL, NEMOTRON_API_KEY, NEMOTRON_TIMEOUT_S, NEMOTRON_RETRIES,
 * NEMOTRON_TEMPERATURE, NEMOTRON_TOP_P, NEMOTRON_N_PREDICT, RISK_LOITER_S
 * through vigil_config (cfg NULL = the global config). An empty
 * NEMOTRON_URL, or NEMOTRON_API=none, selects rules only. */
int risk_params_from_config(risk_params *p, const vigil_config *cfg, char *err, size_t errlen);

/* ---- prompt ----------------------------------------------------------------- */

/* Builds the ChatML prompt for a batch (system + user + open assistant turn).
 * Bounded by p->max_prompt_bytes; long detection lists are cut with a note. */
int risk_build_prompt(char **out, const vigil_batch *b, const risk_params *p);
/* The system and user texts alone (for chat APIs). */
int risk_build_messages(char **system, char **user, const vigil_batch *b, const risk_params *p);
/* model-zoo.md's damage context string for one vehicle, "" when it has no damage:
 * "Vehicle Damage Detected (N instances):\n- TYPE: K instance(s) (avg conf: P%)\n..."
 * plus "**HIGH SECURITY ALERT**: Suspicious damage types detected" when glass_shatter
 * or lamp_broken is present. Returns the length that was needed (snprintf style). */
int risk_damage_context(char *buf, size_t len, const vigil_vehicle *v);
/* CONTRACTS.md's damage patterns for one vehicle at local hour `hour` (-1 =
 * unknown: no night patterns): glass_shatter + lamp_broken = break-in;
 * 22:00-06:00 + any damage = elevated; >= 2 types = likely incident;
 * high-security damage at night = critical. Returns the number of types. */
int risk_damage_patterns(const vigil_vehicle *v, int hour, bool *breakin, bool *night_damage, bool *multi,
                         bool *high_night);

/* ---- reply ------------------------------------------------------------------ */

typedef struct {
  int risk_score;         /* clamped to 0..100 */
  char risk_level[16];    /* valid band */
  char *summary;          /* owned */
  char *reasoning;        /* owned */
  bool score_clamped;     /* the model's score was out of range */
  bool level_derived;     /* level was missing/invalid/inconsistent and came from the score */
  bool filled_defaults;   /* summary or reasoning was missing */
} risk_reply;

void risk_reply_free(risk_reply *r); /* NULL is a no-op */
/* Parses a model's text: strips <think>...</think> (and an unclosed leading
 * <think>), finds the first balanced JSON object (also inside prose or code
 * fences), validates and normalises it. Never crashes on any bytes; memory
 * bounded by len. RISK_EREPLY when no usable object (needs risk_score). */
int risk_parse_reply(risk_reply *out, const char *text, size_t len, char *err, size_t errlen);

/* ---- LLM client ------------------------------------------------------------- */

/* Sends the prompt (llama.cpp) or the messages (OpenAI) and returns the
 * model's text in *text. Retries with exponential backoff on connect errors,
 * timeouts and 5xx; does not retry 4xx or oversized replies. */
int risk_llm_complete(char **text, const risk_params *p, const char *prompt, const char *system,
                      const char *user, char *err, size_t errlen);

/* ---- rules ------------------------------------------------------------------ */

typedef struct {
  const char *id;         /* e.g. "weapon_firearm" */
  const char *description;
  int kind;               /* RISK_RULE_BASE, RISK_RULE_ADD, RISK_RULE_FLOOR */
  int value;              /* base score, points added (may be negative), or minimum score */
} risk_rule;

enum { RISK_RULE_BASE = 0, RISK_RULE_ADD = 1, RISK_RULE_FLOOR = 2 };

const risk_rule *risk_rules_table(size_t *n);

typedef struct {
  int score;
  char level[16];
  char *summary;          /* owned */
  char *reasoning;        /* owned: one line per fired rule */
  int n_fired;
  const char *fired[64];  /* ids of fired rules, in table order (static strings) */
  int floor;              /* the highest fired FLOOR rule's minimum, 0 if none */
  const char *floor_rule; /* its id, NULL if none */
} risk_rules_result;

void risk_rules_result_free(risk_rules_result *r);
int risk_rules_score(risk_rules_result *out, const vigil_batch *b, const risk_params *p);
bool risk_rules_fired(const risk_rules_result *r, const char *id);

/* ---- analyzer --------------------------------------------------------------- */

typedef struct risk_analyzer risk_analyzer;

int risk_analyzer_init(risk_analyzer **out, const risk_params *p, char *err, size_t errlen);
void risk_analyzer_free(risk_analyzer *a);

/* Scores a batch into *ev (camera, window, detection ids, score, level,
 * summary, reasoning, scorer). Uses the LLM when configured and healthy,
 * else (or when the LLM fails) the rules; the event says which in ev->scorer
 * and, for a fallback, why at the end of its reasoning. Fails only on
 * RISK_ENOMEM or bad arguments. ev must be initialised (vigil_event_init). */
int risk_analyze(risk_analyzer *a, const vigil_batch *b, vigil_event *ev, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
