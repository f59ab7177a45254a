/* The risk analyzer: configuration, then LLM scoring with a fallback to the
 * rules (and a cool-down after an LLM failure so a dead server does not add
 * its timeout to every batch). */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/sbuf.h"
#include "vigil/risk.h"
#include "vigil/status.h"

struct risk_analyzer {
  risk_params p;
  pthread_mutex_t mu;
  double llm_down_until; /* monotonic seconds; rules only until then */
};

const char *risk_strerror(int status) {
  switch (status) { RISK_STATUS_MAP(VIGIL_MSG_CASE_3) }
  return "unknown risk error";
}

risk_params risk_default_params(void) {
  risk_params p;
  memset(&p, 0, sizeof p);
  p.api = RISK_API_NONE;
  vigil_strlcpy(p.model, "nemotron", sizeof p.model);
  p.timeout_s = 60;
  p.connect_timeout_s = 5;
  p.max_retries = 2;
  p.backoff_s = 0.5;
  p.cooldown_s = 30;
  p.temperature = 0.7;
  p.top_p = 0.95;
  p.n_predict = 1536;
  p.max_reply_bytes = 1u << 20;
  p.max_prompt_bytes = 16384;
  p.max_prompt_detections = 40;
  p.loiter_s = 300;
  return p;
}

int risk_params_from_config(risk_params *p, const vigil_config *cfg, char *err, size_t errlen) {
  *p = risk_default_params();
  const char *url = vigil_config_str(cfg, "NEMOTRON_URL");
  const char *api = vigil_config_str(cfg, "NEMOTRON_API");
  if (url && strlen(url) >= sizeof p->url) {
    return vigil_err(err, errlen, RISK_EINVAL, "NEMOTRON_URL is too long");
  }
  vigil_strlcpy(p->url, url, sizeof p->url);
  if (!api || !*api || !strcasecmp(api, "completion") || !strcasecmp(api, "llamacpp") ||
      !strcasecmp(api, "llama.cpp"))
    p->api = RISK_API_LLAMACPP;
  else if (!strcasecmp(api, "chat") || !strcasecmp(api, "openai"))
    p->api = RISK_API_OPENAI;
  else if (!strcasecmp(api, "none") || !strcasecmp(api, "rules"))
    p->api = RISK_API_NONE;
  else {
    return vigil_err(err, errlen, RISK_EINVAL, "NEMOTRON_API='%s': expected completion|llamacpp, chat|openai or none", api);
  }
  if (!p->url[0]) p->api = RISK_API_NONE;
  const char *s;
  if ((s = vigil_config_str(cfg, "NEMOTRON_MODEL"))) vigil_strlcpy(p->model, s, sizeof p->model);
  if ((s = vigil_config_str(cfg, "NEMOTRON_API_KEY"))) vigil_strlcpy(p->api_key, s, sizeof p->api_key);
  if ((s = vigil_config_str(cfg, "VIGIL_CA_FILE"))) vigil_strlcpy(p->ca_file, s, sizeof p->ca_file);
  struct {
    const char *key;
    double *dst;
    double lo, hi;
  } dk[] = {{"NEMOTRON_TIMEOUT_S", &p->timeout_s, 0.1, 3600},
            {"NEMOTRON_TEMPERATURE", &p->temperature, 0, 2},
            {"NEMOTRON_TOP_P", &p->top_p, 0, 1},
            {"NEMOTRON_BACKOFF_S", &p->backoff_s, 0, 60},
            {"NEMOTRON_COOLDOWN_S", &p->cooldown_s, 0, 86400},
            {"RISK_LOITER_S", &p->loiter_s, 1, 86400}};
  for (size_t i = 0; i < sizeof dk / sizeof dk[0]; i++) {
    if (!vigil_config_str(cfg, dk[i].key)) continue;
    double v;
    int rc = vigil_config_float(cfg, dk[i].key, &v, err, errlen);
    if (rc) return RISK_EINVAL;
    if (v < dk[i].lo || v > dk[i].hi) {
      return vigil_err(err, errlen, RISK_EINVAL, "%s=%g is out of range [%g, %g]", dk[i].key, v, dk[i].lo, dk[i].hi);
    }
    *dk[i].dst = v;
  }
  struct {
    const char *key;
    int *dst;
    long lo, hi;
  } ik[] = {{"NEMOTRON_N_PREDICT", &p->n_predict, 1, 131072}, {"NEMOTRON_RETRIES", &p->max_retries, 0, 10}};
  for (size_t i = 0; i < sizeof ik / sizeof ik[0]; i++) {
    if (!vigil_config_str(cfg, ik[i].key)) continue;
    long v;
    if (vigil_config_int(cfg, ik[i].key, &v, err, errlen)) return RISK_EINVAL;
    if (v < ik[i].lo || v > ik[i].hi) {
      return vigil_err(err, errlen, RISK_EINVAL, "%s=%ld is out of range [%ld, %ld]", ik[i].key, v, ik[i].lo, ik[i].hi);
    }
    *ik[i].dst = (int)v;
  }
  return 0;
}

int risk_analyzer_init(risk_analyzer **out, const risk_params *p, char *err, size_t errlen) {
  *out = NULL;
  risk_analyzer *a = calloc(1, sizeof *a);
  if (!a) {
    return vigil_err(err, errlen, RISK_ENOMEM, "out of memory");
  }
  a->p = p ? *p : risk_default_params();
  pthread_mutex_init(&a->mu, NULL);
  *out = a;
  return 0;
}

void risk_analyzer_free(risk_analyzer *a) {
  if (!a) return;
  pthread_mutex_destroy(&a->mu);
  free(a);
}

/* Tries the LLM; 0 and a parsed reply, or an error in why[]. */
static int try_llm(risk_analyzer *a, const vigil_batch *b, risk_reply *rep, char *why, size_t whylen) {
  const risk_params *p = &a->p;
  if (p->api == RISK_API_NONE || !p->url[0]) {
    snprintf(why, whylen, "no LLM configured");
    return RISK_ENOLLM;
  }
  pthread_mutex_lock(&a->mu);
  double until = a->llm_down_until;
  pthread_mutex_unlock(&a->mu);
  if (until > vigil_mono_s()) {
    snprintf(why, whylen, "LLM unavailable after a recent failure (retried in %.0f s)", until - vigil_mono_s());
    return RISK_ENOLLM;
  }
  char *prompt = NULL, *sys = NULL, *user = NULL, *text = NULL;
  int rc = p->api == RISK_API_OPENAI ? risk_build_messages(&sys, &user, b, p) : risk_build_prompt(&prompt, b, p);
  if (rc) {
    snprintf(why, whylen, "out of memory building the prompt");
    return rc;
  }
  rc = risk_llm_complete(&text, p, prompt, sys, user, why, whylen);
  if (!rc) rc = risk_parse_reply(rep, text, strlen(text), why, whylen);
  free(prompt);
  free(sys);
  free(user);
  free(text);
  if (rc == RISK_EHTTP || rc == RISK_ETOOBIG) {
    pthread_mutex_lock(&a->mu);
    a->llm_down_until = vigil_mono_s() + p->cooldown_s;
    pthread_mutex_unlock(&a->mu);
  }
  return rc;
}

int risk_analyze(risk_analyzer *a, const vigil_batch *b, vigil_event *ev, char *err, size_t errlen) {
  if (!a || !b || !ev) {
    return vigil_err(err, errlen, RISK_EINVAL, "risk_analyze: NULL argument");
  }
  if (vigil_event_from_batch(ev, b)) {
    return vigil_err(err, errlen, RISK_ENOMEM, "out of memory");
  }
  ev->created_at = vigil_wall_s();
  free(ev->summary);
  free(ev->reasoning);
  ev->summary = ev->reasoning = NULL;

  /* The rules always run: their floors (weapons, break-in patterns) bind
   * whatever scorer produced the score, an LLM reply included. */
  risk_rules_result rr;
  if (risk_rules_score(&rr, b, &a->p)) goto oom;
  ev->n_rules = 0; /* stored with the event whichever scorer wins */
  for (int i = 0; i < rr.n_fired && ev->n_rules < VIGIL_MAX_RULES; i++)
    vigil_strlcpy(ev->rules[ev->n_rules++], rr.fired[i], VIGIL_RULE_LEN);
  char why[512] = "";
  risk_reply rep;
  int rc = try_llm(a, b, &rep, why, sizeof why);
  if (rc == 0) {
    ev->risk_score = rep.risk_score;
    vigil_strlcpy(ev->risk_level, rep.risk_level, sizeof ev->risk_level);
    vigil_strlcpy(ev->scorer, "llm", sizeof ev->scorer);
    ev->summary = rep.summary;
    rep.summary = NULL;
    int floored_from = -1;
    if (rr.floor > ev->risk_score) {
      floored_from = ev->risk_score;
      ev->risk_score = rr.floor;
      vigil_strlcpy(ev->risk_level, vigil_risk_level(rr.floor), sizeof ev->risk_level);
    }
    if (rep.score_clamped || rep.level_derived || rep.filled_defaults || floored_from >= 0) {
      sbuf s;
      sbuf_init(&s, 0);
      sbuf_add(&s, rep.reasoning);
      sbuf_add(&s, "\n[vigil:");
      if (rep.score_clamped) sbuf_add(&s, " score clamped to 0..100;");
      if (rep.level_derived) sbuf_add(&s, " level derived from the score;");
      if (rep.filled_defaults) sbuf_add(&s, " missing summary/reasoning filled;");
      if (floored_from >= 0)
        sbuf_addf(&s, " safety floor %s raised the score from %d to %d;", rr.floor_rule, floored_from, rr.floor);
      sbuf_add(&s, "]");
      ev->reasoning = sbuf_take(&s);
    } else {
      ev->reasoning = rep.reasoning;
      rep.reasoning = NULL;
    }
    if (floored_from >= 0)
      vlog_info("risk: camera %s: the LLM scored %d; safety floor %s raised it to %d", b->camera_id, floored_from,
                rr.floor_rule, rr.floor);
    risk_reply_free(&rep);
    risk_rules_result_free(&rr);
    if (!ev->reasoning) goto oom;
    return 0;
  }
  if (rc == RISK_ENOMEM) {
    risk_rules_result_free(&rr);
    goto oom;
  }
  if (rc != RISK_ENOLLM) vlog_warn("risk: camera %s: LLM failed (%s); using the rules", b->camera_id, why);

  ev->risk_score = rr.score; /* the rules' own score already respects their floors */
  vigil_strlcpy(ev->risk_level, rr.level, sizeof ev->risk_level);
  vigil_strlcpy(ev->scorer, "rules", sizeof ev->scorer);
  ev->summary = rr.summary;
  rr.summary = NULL;
  sbuf s;
  sbuf_init(&s, 0);
  sbuf_add(&s, rr.reasoning);
  sbuf_addf(&s, "\n(Scored by the rules: %s.)", why);
  ev->reasoning = sbuf_take(&s);
  risk_rules_result_free(&rr);
  if (!ev->reasoning) goto oom;
  return 0;
oom:
  return vigil_err(err, errlen, RISK_ENOMEM, "out of memory");
}
