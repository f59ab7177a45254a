/* JSON for the zoo endpoints: the /models/status document and the
 * preload/unload results, from the C snapshot structs. */
#include "zoo/zoo_json.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

const char *zoo_iso8601_ms(int64_t unix_ms, char *buf, size_t len) {
  time_t secs = (time_t)(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char day[32];
  strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%s.%03dZ", day, (int)(unix_ms % 1000));
  return buf;
}

/* Round to 0.1 MB so that 6.8 GB shows as 6963.2, not 6963.200000000001. */
static json_t *mb(double v) { return json_real(round(v * 10.0) / 10.0); }

json_t *zoo_snapshot_to_json(const zoo_snapshot *s) {
  json_t *loaded = json_array(), *reg = json_array(), *pending = json_array();
  for (int i = 0; i < s->nmodels; i++) {
    const zoo_model_status *m = &s->models[i];
    const char *prio = zoo_priority_name(m->priority);
    if (m->loaded) {
      char when[40];
      json_array_append_new(
          loaded, json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:i}", "name", m->name, "vram_mb",
                            mb(m->vram_mb), "declared_mb", mb(m->declared_mb), "measured_mb",
                            mb(m->measured_mb), "priority", prio, "last_used",
                            zoo_iso8601_ms(m->last_used_unix_ms, when, sizeof when), "leases",
                            m->leases));
    }
    json_array_append_new(reg, json_pack("{s:s, s:o, s:s, s:b, s:s, s:o}", "name", m->name,
                                         "vram_mb", mb(m->vram_mb), "priority", prio, "loaded",
                                         m->loaded, "state", zoo_state_name(m->state), "error",
                                         m->error[0] ? json_string(m->error) : json_null()));
    if (m->state == ZOO_STATE_LOADING) json_array_append_new(pending, json_string(m->name));
  }
  return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "status", s->health,
                   "vram_total_mb", mb(s->vram_total_mb), "vram_used_mb", mb(s->vram_used_mb),
                   "vram_available_mb", mb(s->vram_available_mb), "vram_budget_mb",
                   mb(s->vram_budget_mb), "vram_utilization_percent",
                   json_real(round(s->vram_utilization_percent * 10.0) / 10.0), "loaded_models",
                   loaded, "registered_models", reg, "pending_loads", pending, "uptime_seconds",
                   json_real(round(s->uptime_seconds * 10.0) / 10.0));
}

json_t *zoo_result_to_json(const zoo_result *r) {
  return json_pack("{s:s, s:s, s:s}", "status", r->status ? r->status : "error", "model",
                   r->model, "message", r->message);
}
