/* The ChatML risk prompt: camera, window, time of day, zones, and every
 * detection with every enrichment result, following model-zoo.md's
 * "Integration with Risk Analysis" notes; bounded in size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "risk/risk_int.h"
#include "util/sbuf.h"
#include "vigil/risk.h"

static const char system_text[] =
    "You are a home security risk analyst. You receive the detections of one camera over a short "
    "time window, each with the results of enrichment models (weapon detection, pose, clothing, "
    "demographics, person re-identification across cameras, vehicle type and damage, licence "
    "plates, pets, "
    "distance, actions), the zones entered and the local time of day.\n"
    "Assess how likely the scene is a security threat to the home and its occupants.\n"
    "Guidance:\n"
    "- A detected weapon (gun, rifle, pistol, knife) raises the risk to critical at once.\n"
    "- Pose alerts (crouching, hands_raised, fighting_stance, lying_down) and suspicious clothing "
    "(face mask, balaclava, dark hoodie at night) describe behaviour; service uniforms (delivery, "
    "postal) usually lower the risk.\n"
    "- The same person tracked for a long time or across several cameras may be loitering or "
    "casing the property.\n"
    "- Vehicle damage matters most when it is glass_shatter or lamp_broken, several damage types "
    "together, or at night.\n"
    "- A licence plate marked known belongs to a household vehicle and usually lowers the risk; an "
    "unknown plate at night deserves attention.\n"
    "- Night hours are 22:00-06:00. Demographics are context only, never a reason for suspicion by "
    "themselves.\n"
    "Risk bands: low 0-29, medium 30-59, high 60-84, critical 85-100.\n"
    "Reply with only one JSON object and nothing else, in this schema:\n"
    "{\"risk_score\": <integer 0-100>, \"risk_level\": \"low|medium|high|critical\", "
    "\"summary\": \"<one sentence for the home owner>\", \"reasoning\": \"<the factors that "
    "decided the score>\"}";

/* Copies untrusted text into the prompt: no control characters, and no
 * ChatML markers that could end the user turn early. */
void risk__add_clean(sbuf *b, const char *s, size_t max) {
  size_t n = 0;
  for (; *s && n < max; s++, n++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c == 0x7f) c = ' ';
    if (c == '<' && s[1] == '|') {
      sbuf_add(b, "< |");
      s++;
      continue;
    }
    char ch = (char)c;
    sbuf_addn(b, &ch, 1);
  }
}

void risk__fmt_time(char *buf, size_t len, double t) {
  if (!(t > 0) || !isfinite(t) || t > 1e11) {
    snprintf(buf, len, "unknown");
    return;
  }
  time_t s = (time_t)t;
  struct tm tm;
  gmtime_r(&s, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool risk__is_night(int hour) { return hour >= 0 && (hour >= 22 || hour < 6); }

bool risk__threat_real(const vigil_threat *t) {
  return t->present && t->type[0] && strcmp(t->type, "none") && t->confidence >= 0.5f;
}

bool risk__is_high_security_damage(const char *type) {
  return !strcmp(type, "glass_shatter") || !strcmp(type, "lamp_broken");
}

int risk_damage_context(char *buf, size_t len, const vigil_vehicle *v) {
  sbuf b;
  sbuf_init(&b, 0);
  int total = 0;
  bool high = false;
  if (v->present)
    for (int i = 0; i < v->n_damage && i < VIGIL_MAX_DAMAGE; i++) {
      if (v->damage[i].count > 0) total += v->damage[i].count;
      high |= risk__is_high_security_damage(v->damage[i].type);
    }
  if (total > 0) {
    sbuf_addf(&b, "Vehicle Damage Detected (%d instances):", total);
    for (int i = 0; i < v->n_damage && i < VIGIL_MAX_DAMAGE; i++) {
      const vigil_damage *d = &v->damage[i];
      if (d->count <= 0) continue;
      sbuf_add(&b, "\n- ");
      risk__add_clean(&b, d->type, sizeof d->type);
      sbuf_addf(&b, ": %d instance(s) (avg conf: %d%%)", d->count,
                (int)lroundf(fminf(fmaxf(d->avg_confidence, 0.f), 1.f) * 100.f));
    }
    if (high) sbuf_add(&b, "\n**HIGH SECURITY ALERT**: Suspicious damage types detected");
  }
  int need = (int)b.len;
  if (len) vigil_strlcpy(buf, b.s ? b.s : "", len);
  sbuf_free(&b);
  return need;
}

/* Damage pattern lines of CONTRACTS.md, shared with the rules. */
int risk_damage_patterns(const vigil_vehicle *v, int hour, bool *breakin, bool *night_damage, bool *multi,
                         bool *high_night) {
  return risk__damage_patterns(v, hour, breakin, night_damage, multi, high_night);
}

int risk__damage_patterns(const vigil_vehicle *v, int hour, bool *breakin, bool *night_damage,
                          bool *multi, bool *high_night) {
  bool glass = false, lamp = false, high = false;
  int types = 0;
  for (int i = 0; v->present && i < v->n_damage && i < VIGIL_MAX_DAMAGE; i++) {
    if (v->damage[i].count <= 0) continue;
    types++;
    glass |= !strcmp(v->damage[i].type, "glass_shatter");
    lamp |= !strcmp(v->damage[i].type, "lamp_broken");
    high |= risk__is_high_security_damage(v->damage[i].type);
  }
  bool night = risk__is_night(hour);
  *breakin = glass && lamp;
  *night_damage = night && types > 0;
  *multi = types >= 2;
  *high_night = night && high;
  return types;
}

/* When v is not empty: before, v cleaned (at most max bytes), after. */
static void add_opt(sbuf *o, const char *before, const char *v, size_t max, const char *after) {
  if (!v[0]) return;
  sbuf_add(o, before);
  risk__add_clean(o, v, max);
  sbuf_add(o, after);
}

/* " a, b, c": the first n (at most max) names of a char[max][stride] table, cleaned. */
static void add_list(sbuf *o, const char *first, size_t stride, int n, int max) {
  for (int i = 0; i < n && i < max; i++) {
    sbuf_add(o, i ? ", " : " ");
    risk__add_clean(o, first + (size_t)i * stride, stride);
  }
}

static void add_detection(sbuf *o, const vigil_batch *b, size_t i, int idx) {
  const vigil_detection *d = &b->dets[i];
  const vigil_enrichment *e = &b->enr[i];
  char tbuf[32];
  sbuf_addf(o, "%d. ", idx);
  risk__add_clean(o, d->cls, sizeof d->cls);
  sbuf_addf(o, " (id ");
  risk__add_clean(o, d->id, sizeof d->id);
  sbuf_addf(o, ") confidence %.2f, box [%.0f, %.0f, %.0f, %.0f]", d->confidence, d->bbox.x1,
            d->bbox.y1, d->bbox.x2, d->bbox.y2);
  if (d->ts > 0 && b->window_start > 0) sbuf_addf(o, ", at +%.1f s", d->ts - b->window_start);
  if (d->track_id) {
    double dwell = d->last_seen - d->first_seen;
    sbuf_addf(o, ", tracked object #%u seen for %.1f s in %d frame(s)%s", (unsigned)d->track_id,
              dwell > 0 ? dwell : 0, d->frames, d->stationary ? ", stationary" : ", moving");
    add_opt(o, ", entered in zone ", d->entry_zone, sizeof d->entry_zone, "");
    add_opt(o, ", last in zone ", d->exit_zone, sizeof d->exit_zone, "");
  }
  sbuf_add(o, "\n");
  if (risk__threat_real(&e->threat)) {
    sbuf_add(o, "   THREAT: weapon detected: ");
    risk__add_clean(o, e->threat.type, sizeof e->threat.type);
    sbuf_addf(o, " (confidence %.2f, severity ", e->threat.confidence);
    risk__add_clean(o, e->threat.severity[0] ? e->threat.severity : "unknown", sizeof e->threat.severity);
    sbuf_add(o, "); a weapon means immediate critical risk\n");
  } else if (e->threat.present) {
    sbuf_add(o, "   Threat check: no weapon\n");
  }
  if (e->pose.present) {
    sbuf_add(o, "   Pose: ");
    risk__add_clean(o, e->pose.posture[0] ? e->pose.posture : "unknown", sizeof e->pose.posture);
    if (e->pose.n_alerts > 0) {
      sbuf_add(o, "; alerts:");
      add_list(o, e->pose.alerts[0], sizeof e->pose.alerts[0], e->pose.n_alerts, VIGIL_MAX_ALERTS);
    }
    sbuf_add(o, "\n");
  }
  if (e->clothing.present) {
    sbuf_add(o, "   Clothing: ");
    risk__add_clean(o, e->clothing.type[0] ? e->clothing.type : "unknown", sizeof e->clothing.type);
    add_opt(o, ", ", e->clothing.color, sizeof e->clothing.color, "");
    if (e->clothing.is_suspicious) sbuf_add(o, " (suspicious attire)");
    if (e->clothing.is_service_uniform) sbuf_add(o, " (service uniform)");
    add_opt(o, "; items: ", e->clothing.items, sizeof e->clothing.items, "");
    sbuf_add(o, "\n");
  }
  if (e->demographics.present) {
    sbuf_add(o, "   Demographics (context only): age ");
    risk__add_clean(o, e->demographics.age_range[0] ? e->demographics.age_range : "unknown", 16);
    sbuf_add(o, ", gender ");
    risk__add_clean(o, e->demographics.gender[0] ? e->demographics.gender : "unknown", 16);
    sbuf_addf(o, " (confidence %.2f)\n", e->demographics.confidence);
  }
  if (e->face.present) {
    if (e->face.known) {
      sbuf_add(o, "   Face: known person");
      add_opt(o, " (", e->face.name, sizeof e->face.name, ")");
      sbuf_add(o, "\n");
    } else {
      sbuf_add(o, "   Face: unknown person\n");
    }
  }
  if (e->reid.present) {
    sbuf_add(o, "   Re-ID track ");
    risk__add_clean(o, e->reid.person_id, sizeof e->reid.person_id);
    double dur = e->reid.last_seen - e->reid.first_seen;
    if (dur > 0 && isfinite(dur)) sbuf_addf(o, ": seen for %.1f min", dur / 60.0);
    if (e->reid.n_cameras > 0) {
      sbuf_addf(o, " across %d camera(s):", e->reid.n_cameras);
      add_list(o, e->reid.cameras[0], sizeof e->reid.cameras[0], e->reid.n_cameras, VIGIL_MAX_REID_CAMERAS);
    }
    risk__fmt_time(tbuf, sizeof tbuf, e->reid.first_seen);
    sbuf_addf(o, " (first seen %s)\n", tbuf);
  }
  if (e->vehicle.present) {
    sbuf_add(o, "   Vehicle: ");
    risk__add_clean(o, e->vehicle.type[0] ? e->vehicle.type : "unknown", sizeof e->vehicle.type);
    sbuf_add(o, e->vehicle.is_commercial ? " (commercial)\n" : "\n");
    char ctx[1024];
    if (risk_damage_context(ctx, sizeof ctx, &e->vehicle) > 0) {
      /* the design's context string, verbatim, indented under the vehicle */
      sbuf_add(o, "   ");
      for (const char *p = ctx; *p; p++) {
        sbuf_addn(o, p, 1);
        if (*p == '\n') sbuf_add(o, "   ");
      }
      sbuf_add(o, "\n");
      bool bi, nd, mu, hn;
      risk__damage_patterns(&e->vehicle, b->local_hour, &bi, &nd, &mu, &hn);
      if (bi) sbuf_add(o, "   Damage pattern: glass_shatter + lamp_broken = break-in pattern\n");
      if (mu) sbuf_add(o, "   Damage pattern: multiple damage types = likely incident\n");
      if (nd) sbuf_add(o, "   Damage pattern: damage at night = elevated risk\n");
      if (hn) sbuf_add(o, "   Damage pattern: high-security damage at night = critical alert\n");
    }
  }
  if (e->plate.present) {
    sbuf_add(o, "   Licence plate: ");
    risk__add_clean(o, e->plate.text, sizeof e->plate.text);
    sbuf_addf(o, " (%s, confidence %.2f", e->plate.known ? "known household vehicle" : "unknown",
              e->plate.confidence);
    if (e->plate.votes > 1) sbuf_addf(o, ", read on %d frames", e->plate.votes);
    sbuf_add(o, ")\n");
  }
  if (e->pet.present) {
    sbuf_add(o, "   Pet: ");
    risk__add_clean(o, e->pet.type[0] ? e->pet.type : "animal", sizeof e->pet.type);
    add_opt(o, " (", e->pet.breed, sizeof e->pet.breed, ")");
    sbuf_addf(o, ", confidence %.2f%s\n", e->pet.confidence, e->pet.is_household ? ", a known household pet" : "");
  }
  if (e->action.present) {
    sbuf_add(o, "   Action: ");
    risk__add_clean(o, e->action.action, sizeof e->action.action);
    sbuf_addf(o, " (confidence %.2f)\n", e->action.confidence);
  }
  if (e->depth.present) {
    sbuf_addf(o, "   Distance from camera: %.1f m", e->depth.distance_m);
    add_opt(o, " (", e->depth.proximity, sizeof e->depth.proximity, ")");
    sbuf_add(o, "\n");
  }
}

/* Detections with a weapon come first so a cut never hides them. */
/* What the scene models said of the snapshot (src/pipeline/scene.c). */
static void add_scene(sbuf *o, const vigil_scene *sc) {
  if (sc->has_caption && sc->caption[0]) {
    sbuf_add(o, "Scene caption (Florence-2, the best snapshot; machine-generated, may be wrong): ");
    risk__add_clean(o, sc->caption, sizeof sc->caption);
    sbuf_add(o, "\n");
  }
  if (sc->has_anomaly) {
    if (!sc->baseline_warm)
      sbuf_addf(o, "Scene anomaly (CLIP): %.2f, but this camera's usual view is still being learnt (%lld views)\n",
                sc->anomaly_score, (long long)sc->baseline_samples);
    else
      sbuf_addf(o, "Scene anomaly (CLIP): %.2f distance from this camera's usual view (0 = as usual)%s\n",
                sc->anomaly_score, sc->is_anomaly ? ": the scene looks unusual" : ", within the usual range");
  }
}

static int interest(const vigil_batch *b, size_t i) {
  const vigil_enrichment *e = &b->enr[i];
  if (risk__threat_real(&e->threat)) return 0;
  if ((e->pose.present && e->pose.n_alerts > 0) || (e->clothing.present && e->clothing.is_suspicious) ||
      (e->vehicle.present && e->vehicle.n_damage > 0))
    return 1;
  return 2;
}

int risk_build_messages(char **system, char **user, const vigil_batch *b, const risk_params *p) {
  *system = *user = NULL;
  size_t cap = p->max_prompt_bytes > sizeof system_text + 1024 ? p->max_prompt_bytes : 16384;
  size_t budget = cap - sizeof system_text - 256; /* ChatML markers and the closing lines */
  sbuf o;
  sbuf_init(&o, budget);
  char t0[32], t1[32];
  sbuf_add(&o, "Camera: ");
  risk__add_clean(&o, b->camera_id, sizeof b->camera_id);
  if (b->camera_name[0]) {
    sbuf_add(&o, " (");
    risk__add_clean(&o, b->camera_name, sizeof b->camera_name);
    sbuf_add(&o, ")");
  }
  risk__fmt_time(t0, sizeof t0, b->window_start);
  risk__fmt_time(t1, sizeof t1, b->window_end);
  sbuf_addf(&o, "\nTime window (UTC): %s to %s", t0, t1);
  if (b->window_end > b->window_start) sbuf_addf(&o, " (%.0f s)", b->window_end - b->window_start);
  sbuf_add(&o, "\n");
  if (b->local_hour >= 0 && b->local_hour < 24) {
    int mm = b->local_minute >= 0 && b->local_minute < 60 ? b->local_minute : 0;
    sbuf_addf(&o, "Local time of day: %02d:%02d (%s)\n", b->local_hour, mm,
              risk__is_night(b->local_hour) ? "night hours, 22:00-06:00" : "daytime");
  } else {
    sbuf_add(&o, "Local time of day: unknown\n");
  }
  if (b->fast_path) sbuf_add(&o, "Fast path: a high-confidence person detection triggered immediate analysis\n");
  for (size_t i = 0; i < b->n; i++) /* the weather of the batch: the first detection that carries it */
    if (b->enr[i].weather.present) {
      sbuf_add(&o, "Weather: ");
      risk__add_clean(&o, b->enr[i].weather.label, sizeof b->enr[i].weather.label);
      sbuf_addf(&o, " (confidence %.2f)\n", b->enr[i].weather.confidence);
      break;
    }
  add_scene(&o, &b->scene);
  for (size_t i = 0; i < b->n; i++) /* violence: a whole-frame result, once per batch */
    if (b->enr[i].violence.present) {
      sbuf_addf(&o, "Violence classifier (multi-person scene): %s (violence probability %.2f)\n",
                b->enr[i].violence.violent ? "violent" : "not violent", b->enr[i].violence.confidence);
      break;
    }
  if (b->n_watch > 0) {
    sbuf_add(&o, "Watched classes on this camera (their presence deserves attention, more so at night):");
    add_list(&o, b->watch[0], sizeof b->watch[0], b->n_watch, VIGIL_MAX_WATCH);
    sbuf_add(&o, "\n");
  }
  for (int i = 0; i < b->n_zones && i < VIGIL_MAX_ZONES; i++)
    if (b->zone_entrance[i]) {
      sbuf_add(&o, "Entrance zone entered: ");
      risk__add_clean(&o, b->zones[i], VIGIL_NAME_LEN);
      sbuf_add(&o, "\n");
      break;
    }
  sbuf_add(&o, "Zones entered:");
  add_list(&o, b->zones[0], sizeof b->zones[0], b->n_zones, VIGIL_MAX_ZONES);
  sbuf_add(&o, b->n_zones > 0 ? "\n" : " none\n");

  /* class counts */
  /* a pipeline batch holds one entry per tracked object: say so, so the
   * counts read as objects, not as detections over frames */
  bool tracked = b->n > 0;
  for (size_t i = 0; i < b->n; i++)
    if (!b->dets[i].track_id) tracked = false;
  sbuf_addf(&o, "%s (%zu total", tracked ? "Tracked objects, one entry per distinct object" : "Detections", b->n);
  {
    char seen[32][VIGIL_NAME_LEN];
    int cnt[32], ns = 0;
    for (size_t i = 0; i < b->n; i++) {
      int k = 0;
      while (k < ns && strcmp(seen[k], b->dets[i].cls)) k++;
      if (k == ns) {
        if (ns == 32) continue;
        vigil_strlcpy(seen[ns], b->dets[i].cls, VIGIL_NAME_LEN);
        cnt[ns++] = 0;
      }
      cnt[k]++;
    }
    for (int k = 0; k < ns; k++) {
      sbuf_addf(&o, "%s%d ", k ? ", " : ": ", cnt[k]);
      risk__add_clean(&o, seen[k], VIGIL_NAME_LEN);
    }
  }
  sbuf_add(&o, "):\n");

  /* detections, most telling first, until the count or byte budget runs out */
  int max_n = p->max_prompt_detections > 0 ? p->max_prompt_detections : 40;
  size_t listed = 0;
  size_t reserve = 200;
  bool stop = false;
  for (int pass = 0; pass < 3 && !stop; pass++)
    for (size_t i = 0; i < b->n && !stop; i++) {
      if (interest(b, i) != pass) continue;
      if ((int)listed >= max_n) {
        stop = true;
        break;
      }
      sbuf one;
      sbuf_init(&one, 8192);
      add_detection(&one, b, i, (int)listed + 1);
      if (one.oom) {
        sbuf_free(&one);
        sbuf_free(&o);
        return RISK_ENOMEM;
      }
      if (o.len + one.len + reserve > budget) {
        stop = true;
      } else {
        sbuf_addn(&o, one.s, one.len);
        listed++;
      }
      sbuf_free(&one);
    }
  if (listed < b->n)
    sbuf_addf(&o, "(%zu more detections not listed to keep the prompt short; they are of the classes "
                  "counted above)\n", b->n - listed);
  sbuf_add(&o, "\nAssess the risk and reply with the JSON object only.");
  if (o.oom) {
    sbuf_free(&o);
    return RISK_ENOMEM;
  }
  *user = sbuf_take(&o);
  *system = strdup(system_text);
  if (!*user || !*system) {
    free(*user);
    free(*system);
    *user = *system = NULL;
    return RISK_ENOMEM;
  }
  return 0;
}

int risk_build_prompt(char **out, const vigil_batch *b, const risk_params *p) {
  *out = NULL;
  char *sys, *user;
  int rc = risk_build_messages(&sys, &user, b, p);
  if (rc) return rc;
  sbuf o;
  sbuf_init(&o, 0);
  sbuf_add(&o, "<|im_start|>system\n");
  sbuf_add(&o, sys);
  sbuf_add(&o, "<|im_end|>\n<|im_start|>user\n");
  sbuf_add(&o, user);
  sbuf_add(&o, "<|im_end|>\n<|im_start|>assistant\n");
  free(sys);
  free(user);
  *out = sbuf_take(&o);
  return *out ? 0 : RISK_ENOMEM;
}
