/* The deterministic rule-based risk scorer, used when no LLM is configured or
 * the LLM fails.
 *
 * Scoring: score = max(base, floors...) where base is the highest class
 * baseline of the batch plus the sum of every fired ADD rule, then clamped to
 * 0..100; a FLOOR rule (weapons, critical damage patterns) sets a minimum the
 * other rules cannot pull below. The table below is the whole policy and is
 * mirrored in docs/risk.md; each rule fires at most once per batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "risk/risk_int.h"
#include "util/sbuf.h"
#include "vigil/classes.h"
#include "vigil/risk.h"

#define RULES(X)                                                                                   \
  X(BASE_PERSON, "base_person", BASE, 20, "a person is present")                                   \
  X(BASE_VEHICLE, "base_vehicle", BASE, 10, "a vehicle is present")                                \
  X(BASE_ANIMAL, "base_animal", BASE, 5, "an animal is present")                                   \
  X(BASE_OTHER, "base_other", BASE, 5, "another object class is present")                          \
  X(WEAPON_FIREARM, "weapon_firearm", FLOOR, 95, "a gun, rifle or pistol is detected")             \
  X(WEAPON_KNIFE, "weapon_knife", FLOOR, 85, "a knife is detected")                                \
  X(WEAPON_OTHER, "weapon_other", FLOOR, 85, "an unspecified weapon is detected")                  \
  X(WEAPON_BLUNT, "weapon_blunt", FLOOR, 60, "a bat or crowbar is detected")                       \
  X(NIGHT_PERSON, "night_person", ADD, 15, "a person at night (22:00-06:00)")                      \
  X(PERSONS_2, "persons_2", ADD, 5, "two people together")                                         \
  X(PERSONS_3, "persons_3plus", ADD, 10, "three or more people together")                          \
  X(POSE_CROUCHING, "pose_crouching", ADD, 15, "crouching (hiding or break-in behaviour)")          \
  X(POSE_HANDS_RAISED, "pose_hands_raised", ADD, 25, "hands raised (possible robbery)")            \
  X(POSE_FIGHTING, "pose_fighting_stance", ADD, 25, "fighting stance (aggression)")                \
  X(POSE_LYING, "pose_lying_down", ADD, 20, "lying down (possible medical emergency)")             \
  X(CLOTHING_FACE_COVER, "clothing_face_covering", ADD, 20, "face mask, ski mask or balaclava")    \
  X(CLOTHING_HOODIE_NIGHT, "clothing_dark_hoodie_night", ADD, 10, "dark hoodie at night")          \
  X(CLOTHING_SUSPICIOUS, "clothing_suspicious", ADD, 10, "attire flagged suspicious")              \
  X(SERVICE_UNIFORM, "service_uniform", ADD, -15,                                                  \
    "service uniform (delivery/postal), no weapon or pose alert")                                  \
  X(LOITERING, "loitering", ADD, 15, "the same person seen longer than the loitering limit")      \
  X(MULTI_CAMERA, "multi_camera_track", ADD, 5, "the same person seen on two or more cameras")     \
  X(FACE_UNKNOWN, "face_unknown", ADD, 5, "an unknown face")                                       \
  X(FACE_KNOWN, "face_known", ADD, -15, "only known faces among the people")                      \
  X(ACTION_SUSPICIOUS, "action_suspicious", ADD, 20,                                               \
    "a suspicious action (fighting, climbing, breaking in, theft, vandalism)")                     \
  X(ZONE, "zone_entered", ADD, 10, "a detection inside a configured zone")                         \
  X(PLATE_UNKNOWN_NIGHT, "plate_unknown_night", ADD, 15,                                          \
    "a licence plate not in KNOWN_PLATES at night (22:00-06:00)")                                  \
  X(PLATE_KNOWN, "plate_known", ADD, -10, "only household plates (KNOWN_PLATES) were read")        \
  X(DAMAGE_ANY, "damage_any", ADD, 10, "vehicle damage is visible")                                \
  X(DAMAGE_NIGHT, "damage_night", ADD, 15, "vehicle damage at night (elevated risk)")              \
  X(DAMAGE_MULTI, "damage_multi", ADD, 15, "two or more damage types (likely incident)")           \
  X(DAMAGE_BREAKIN, "damage_breakin", FLOOR, 70, "glass_shatter + lamp_broken (break-in pattern)") \
  X(DAMAGE_HIGH_NIGHT, "damage_high_security_night", FLOOR, 85,                                    \
    "high-security damage at night (critical alert)")                                              \
  X(PET_HOUSEHOLD, "pet_household", ADD, -5, "every animal is a known household pet")               \
  X(PERSON_AT_ENTRANCE, "person_approaching_entrance", ADD, 15,                                      \
    "a person within 5 m of the camera while an entrance zone is entered")                            \
  X(VIOLENCE, "violence_detected", ADD, 30,                                                         \
    "the violence classifier finds violence in a multi-person scene (>= 0.5)")                       \
  X(WATCHED, "watched_object", ADD, 10, "an object class on the camera's watch list")                \
  X(WATCHED_NIGHT, "watched_object_night", ADD, 20,                                                  \
    "a watch-list object at night (22:00-06:00), e.g. a ladder against the house")

enum {
#define X_(e, id, kind, val, desc) R_##e,
  RULES(X_)
#undef X_
      R_COUNT
};

static const risk_rule table[] = {
#define X_(e, id, kind, val, desc) {id, desc, RISK_RULE_##kind, val},
    RULES(X_)
#undef X_
};
_Static_assert(sizeof table / sizeof table[0] == R_COUNT, "rule table and enum differ");
_Static_assert(R_COUNT <= 64, "risk_rules_result.fired holds 64");

const risk_rule *risk_rules_table(size_t *n) {
  *n = R_COUNT;
  return table;
}

void risk_rules_result_free(risk_rules_result *r) {
  if (!r) return;
  free(r->summary);
  free(r->reasoning);
  r->summary = r->reasoning = NULL;
}

bool risk_rules_fired(const risk_rules_result *r, const char *id) {
  for (int i = 0; i < r->n_fired; i++)
    if (!strcmp(r->fired[i], id)) return true;
  return false;
}

static const char *const face_cover[] = {"mask", "balaclava", NULL}; /* substrings */
static const char *const bad_actions[] = {"fight", "climb", "break", "theft", "steal", "vandal",
                                          "punch", "kick", "shoot", NULL};

static bool has_sub(const char *s, const char *const *list) {
  for (; *list; list++)
    if (strcasestr(s, *list)) return true;
  return false;
}

static bool has_alert(const vigil_pose *p, const char *a) {
  if (!p->present) return false;
  for (int i = 0; i < p->n_alerts && i < VIGIL_MAX_ALERTS; i++)
    if (!strcmp(p->alerts[i], a)) return true;
  return !strcmp(p->posture, a);
}

/* What the batch shows: the rules that fired with their evidence, and the
 * object counts the summary words. Filled by the evidence step, read by the
 * score and render steps. */
typedef struct {
  bool fired[R_COUNT];
  char note[R_COUNT][160]; /* evidence for the reasoning line */
  bool night, tracked;     /* tracked: one entry per tracked object (pipeline batches) */
  int persons, vehicles, parked, animals, others, household;
  int known, unknown, plates_known, plates_unknown;
  bool any_alert, weapon;
} eval;

static void fire(eval *ev, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fire(eval *ev, int r, const char *fmt, ...) {
  if (ev->fired[r]) return; /* first evidence wins */
  ev->fired[r] = true;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ev->note[r], sizeof ev->note[r], fmt, ap);
  va_end(ap);
}

/* ---- step 1: evidence ---------------------------------------------------------------- */

static void evidence_weapon(eval *ev, const vigil_detection *d, const vigil_enrichment *e) {
  /* a weapon as its own detector class counts like a threat result */
  const char *wt = NULL;
  float wc = 0;
  if (risk__threat_real(&e->threat)) {
    wt = e->threat.type;
    wc = e->threat.confidence;
  } else if (d->confidence >= 0.5f && vigil_class_weapon(d->cls) != VIGIL_WEAPON_NONE &&
             vigil_class_weapon(d->cls) != VIGIL_WEAPON_BLUNT) { /* COCO's "baseball bat" is sports gear */
    wt = d->cls;
    wc = d->confidence;
  }
  if (!wt) return;
  ev->weapon = true;
  vigil_weapon w = vigil_class_weapon(wt);
  if (w == VIGIL_WEAPON_FIREARM)
    fire(ev, R_WEAPON_FIREARM, "%s at %.0f%% (%s)", wt, wc * 100, d->id);
  else if (w == VIGIL_WEAPON_KNIFE)
    fire(ev, R_WEAPON_KNIFE, "knife at %.0f%% (%s)", wc * 100, d->id);
  else if (w == VIGIL_WEAPON_BLUNT)
    fire(ev, R_WEAPON_BLUNT, "%s at %.0f%% (%s)", wt, wc * 100, d->id);
  else
    fire(ev, R_WEAPON_OTHER, "%s at %.0f%% (%s)", wt, wc * 100, d->id);
}

/* Alerts about a person's behaviour: pose, clothing, action. */
static void evidence_behaviour(eval *ev, const vigil_detection *d, const vigil_enrichment *e) {
  static const struct {
    const char *alert;
    int rule;
  } poses[] = {{"crouching", R_POSE_CROUCHING},
               {"hands_raised", R_POSE_HANDS_RAISED},
               {"fighting_stance", R_POSE_FIGHTING},
               {"lying_down", R_POSE_LYING}};
  for (size_t k = 0; k < sizeof poses / sizeof poses[0]; k++)
    if (has_alert(&e->pose, poses[k].alert)) fire(ev, poses[k].rule, "%s", d->id), ev->any_alert = true;
  if (e->clothing.present) {
    const vigil_clothing *c = &e->clothing;
    if (has_sub(c->type, face_cover))
      fire(ev, R_CLOTHING_FACE_COVER, "%s (%s)", c->type, d->id), ev->any_alert = true;
    else if (ev->night && strcasestr(c->type, "hoodie") &&
             (!c->color[0] || strcasestr(c->color, "dark") || strcasestr(c->color, "black")))
      fire(ev, R_CLOTHING_HOODIE_NIGHT, "%s %s (%s)", c->color, c->type, d->id), ev->any_alert = true;
    else if (c->is_suspicious)
      fire(ev, R_CLOTHING_SUSPICIOUS, "%s (%s)", c->type, d->id), ev->any_alert = true;
  }
  if (e->action.present && e->action.confidence >= 0.5f && has_sub(e->action.action, bad_actions))
    fire(ev, R_ACTION_SUSPICIOUS, "%s at %.0f%% (%s)", e->action.action, e->action.confidence * 100, d->id),
        ev->any_alert = true;
  if (e->violence.present && e->violence.violent && e->violence.confidence >= 0.5f)
    fire(ev, R_VIOLENCE, "violence %.0f%% in the frame of %s", e->violence.confidence * 100, d->id),
        ev->any_alert = true;
}

/* A class on the camera's watch list (registry "watch"), raised more at night. */
static void evidence_watched(eval *ev, const vigil_batch *b, const vigil_detection *d) {
  for (int k = 0; k < b->n_watch && k < VIGIL_MAX_WATCH; k++)
    if (!strcasecmp(d->cls, b->watch[k])) {
      fire(ev, R_WATCHED, "%s at %.0f%% (%s)", d->cls, d->confidence * 100, d->id);
      if (ev->night) fire(ev, R_WATCHED_NIGHT, "%s at %02d:00 (%s)", d->cls, b->local_hour, d->id);
      return;
    }
}

static void evidence_presence(eval *ev, const vigil_detection *d, const vigil_enrichment *e, double loiter) {
  if (d->track_id && !strcasecmp(d->cls, "person") && d->last_seen - d->first_seen > loiter)
    fire(ev, R_LOITERING, "person #%u on camera for %.1f min (limit %.1f)", (unsigned)d->track_id,
         (d->last_seen - d->first_seen) / 60, loiter / 60);
  if (!e->reid.present) return;
  double dur = e->reid.last_seen - e->reid.first_seen;
  if (isfinite(dur) && dur > loiter)
    fire(ev, R_LOITERING, "person %s seen for %.1f min (limit %.1f)", e->reid.person_id, dur / 60, loiter / 60);
  if (e->reid.n_cameras >= 2) fire(ev, R_MULTI_CAMERA, "person %s on %d cameras", e->reid.person_id, e->reid.n_cameras);
}

static void evidence_vehicle(eval *ev, const vigil_detection *d, const vigil_enrichment *e, int hour) {
  if (e->plate.present && e->plate.text[0]) {
    if (e->plate.known) {
      ev->plates_known++;
    } else {
      ev->plates_unknown++;
      if (ev->night) fire(ev, R_PLATE_UNKNOWN_NIGHT, "%s at %02d:00 (%s)", e->plate.text, hour, d->id);
    }
  }
  if (!e->vehicle.present) return;
  bool bi, nd, mu, hn;
  int types = risk__damage_patterns(&e->vehicle, hour, &bi, &nd, &mu, &hn);
  if (types > 0) fire(ev, R_DAMAGE_ANY, "%d damage type(s) on %s", types, d->id);
  if (nd) fire(ev, R_DAMAGE_NIGHT, "%s at %02d:00", d->id, hour);
  if (mu) fire(ev, R_DAMAGE_MULTI, "%d types on %s", types, d->id);
  if (bi) fire(ev, R_DAMAGE_BREAKIN, "%s", d->id);
  if (hn) fire(ev, R_DAMAGE_HIGH_NIGHT, "%s at %02d:00", d->id, hour);
}

/* People in the batch: detections per batch over-count one person across
 * frames, so the re-id track count is used when re-id ran on every person. */
static int people_count(const vigil_batch *b, int persons) {
  char ids[64][VIGIL_ID_LEN];
  int nid = 0;
  if (!persons) return 0;
  for (size_t i = 0; i < b->n; i++) {
    if (strcasecmp(b->dets[i].cls, "person")) continue;
    if (!b->enr[i].reid.present || !b->enr[i].reid.person_id[0]) return persons;
    int k = 0;
    while (k < nid && strcmp(ids[k], b->enr[i].reid.person_id)) k++;
    if (k == nid && nid < 64) vigil_strlcpy(ids[nid++], b->enr[i].reid.person_id, VIGIL_ID_LEN);
  }
  return nid;
}

/* Rules over the whole batch, once every detection was looked at. */
static void evidence_batch(eval *ev, const vigil_batch *b) {
  for (size_t i = 0; i < b->n; i++)
    if (b->enr[i].clothing.present && b->enr[i].clothing.is_service_uniform && !ev->weapon && !ev->any_alert) {
      fire(ev, R_SERVICE_UNIFORM, "%s (%s)", b->enr[i].clothing.type, b->dets[i].id);
      break;
    }
  const char *unit = ev->tracked ? "tracked" : "detection(s)";
  if (ev->persons) fire(ev, R_BASE_PERSON, "%d person %s", ev->persons, unit);
  if (ev->vehicles) fire(ev, R_BASE_VEHICLE, "%d vehicle %s", ev->vehicles, unit);
  if (ev->animals) fire(ev, R_BASE_ANIMAL, "%d animal %s", ev->animals, unit);
  if (ev->animals && ev->household == ev->animals) fire(ev, R_PET_HOUSEHOLD, "%d known pet %s", ev->household, unit);
  if (ev->others) fire(ev, R_BASE_OTHER, "%d other %s", ev->others, unit);
  if (ev->persons && ev->night)
    fire(ev, R_NIGHT_PERSON, "local time %02d:%02d", b->local_hour,
         b->local_minute >= 0 && b->local_minute < 60 ? b->local_minute : 0);
  int people = people_count(b, ev->persons);
  if (people >= 3)
    fire(ev, R_PERSONS_3, "%d people", people);
  else if (people == 2)
    fire(ev, R_PERSONS_2, "2 people");
  if (ev->unknown)
    fire(ev, R_FACE_UNKNOWN, "%d unknown face(s)", ev->unknown);
  else if (ev->known && ev->known >= ev->persons && !ev->weapon)
    fire(ev, R_FACE_KNOWN, "%d known face(s)", ev->known);
  if (ev->plates_known && !ev->plates_unknown && !ev->weapon && !ev->any_alert)
    fire(ev, R_PLATE_KNOWN, "%d reading(s)", ev->plates_known);
  if (b->n_zones > 0) fire(ev, R_ZONE, "%s%s", b->zones[0], b->n_zones > 1 ? " and more" : "");
}

static void evidence(eval *ev, const vigil_batch *b, const risk_params *p) {
  memset(ev, 0, sizeof *ev);
  double loiter = p && p->loiter_s > 0 ? p->loiter_s : 300;
  ev->night = risk__is_night(b->local_hour);
  bool entrance = false;
  for (int z = 0; z < b->n_zones && z < VIGIL_MAX_ZONES; z++) entrance |= b->zone_entrance[z];
  /* pipeline batches hold one entry per tracked object: counts are objects */
  ev->tracked = b->n > 0;
  for (size_t i = 0; i < b->n; i++) {
    const vigil_detection *d = &b->dets[i];
    const vigil_enrichment *e = &b->enr[i];
    vigil_kind kind = vigil_class_kind(d->cls);
    bool vehicle = kind == VIGIL_KIND_VEHICLE, animal = kind == VIGIL_KIND_ANIMAL;
    bool person = kind == VIGIL_KIND_PERSON;
    if (person)
      ev->persons++;
    else if (vehicle)
      ev->vehicles++;
    else if (animal)
      ev->animals++;
    else
      ev->others++;
    if (!d->track_id) ev->tracked = false;
    if (vehicle && d->stationary) ev->parked++;
    if (animal && e->pet.present && e->pet.is_household) ev->household++;
    if (e->face.present && e->face.known) ev->known++;
    if (e->face.present && !e->face.known) ev->unknown++;
    evidence_weapon(ev, d, e);
    evidence_behaviour(ev, d, e);
    evidence_presence(ev, d, e, loiter);
    evidence_vehicle(ev, d, e, b->local_hour);
    evidence_watched(ev, b, d);
    if (entrance && person && e->depth.present && e->depth.distance_m < 5)
      fire(ev, R_PERSON_AT_ENTRANCE, "%s at %.1f m", d->id, e->depth.distance_m);
  }
  evidence_batch(ev, b);
}

/* ---- step 2: score --------------------------------------------------------------------- */

/* base + adds, lifted to the highest floor, clamped; fills score, level, floor and fired. */
static void score(risk_rules_result *out, const eval *ev, int *base, int *add) {
  int floor_ = 0;
  *base = *add = 0;
  for (int r = 0; r < R_COUNT; r++) {
    if (!ev->fired[r]) continue;
    out->fired[out->n_fired++] = table[r].id;
    if (table[r].kind == RISK_RULE_BASE && table[r].value > *base) *base = table[r].value;
    if (table[r].kind == RISK_RULE_ADD) *add += table[r].value;
    if (table[r].kind == RISK_RULE_FLOOR && table[r].value > floor_) floor_ = table[r].value, out->floor_rule = table[r].id;
  }
  out->floor = floor_;
  int sc = *base + *add;
  if (sc < floor_) sc = floor_;
  if (sc < 0) sc = 0;
  if (sc > 100) sc = 100;
  out->score = sc;
  vigil_strlcpy(out->level, vigil_risk_level(sc), sizeof out->level);
}

/* ---- step 3: render -------------------------------------------------------------------- */

static char *render_reasoning(const risk_rules_result *out, const eval *ev, int base, int add) {
  sbuf rs;
  sbuf_init(&rs, 16384);
  sbuf_addf(&rs, "Rule-based score %d (%s) = ", out->score, out->level);
  if (out->floor > base + add)
    sbuf_addf(&rs, "floor %d (baseline %d + adjustments %+d = %d was lower).", out->floor, base, add, base + add);
  else
    sbuf_addf(&rs, "baseline %d + adjustments %+d%s.", base, add,
              base + add > 100 ? ", capped at 100" : base + add < 0 ? ", raised to 0" : "");
  sbuf_add(&rs, " Rules fired:");
  for (int r = 0; r < R_COUNT; r++) {
    if (!ev->fired[r]) continue;
    const char *kind = table[r].kind == RISK_RULE_BASE ? "baseline" : "floor";
    if (table[r].kind == RISK_RULE_ADD)
      sbuf_addf(&rs, "\n- %s: %s [%s] %+d", table[r].id, table[r].description, ev->note[r], table[r].value);
    else
      sbuf_addf(&rs, "\n- %s: %s [%s] %s %d", table[r].id, table[r].description, ev->note[r], kind, table[r].value);
  }
  if (!out->n_fired) sbuf_add(&rs, " none (empty batch).");
  return sbuf_take(&rs);
}

static char *render_summary(const risk_rules_result *out, const eval *ev, const vigil_batch *b) {
  sbuf ss;
  sbuf_init(&ss, 1024);
  char lvl[16];
  vigil_strlcpy(lvl, out->level, sizeof lvl);
  lvl[0] = (char)(lvl[0] - 'a' + 'A');
  sbuf_addf(&ss, "%s risk on camera ", lvl);
  risk__add_clean(&ss, b->camera_id, VIGIL_ID_LEN);
  sbuf_add(&ss, ":");
  const char *sep = " ";
  int persons = ev->persons, vehicles = ev->vehicles, parked = ev->parked;
  if (persons && ev->tracked) sbuf_addf(&ss, "%s%d %s", sep, persons, persons == 1 ? "person" : "people"), sep = ", ";
  else if (persons) sbuf_addf(&ss, "%s%d person detection(s)", sep, persons), sep = ", ";
  if (vehicles && ev->tracked && parked == vehicles)
    sbuf_addf(&ss, "%s%d parked vehicle%s", sep, vehicles, vehicles == 1 ? "" : "s"), sep = ", ";
  else if (vehicles && ev->tracked && parked)
    sbuf_addf(&ss, "%s%d vehicle(s), %d of them parked", sep, vehicles, parked), sep = ", ";
  else if (vehicles) sbuf_addf(&ss, "%s%d vehicle(s)", sep, vehicles), sep = ", ";
  if (ev->animals) sbuf_addf(&ss, "%s%d animal(s)", sep, ev->animals), sep = ", ";
  if (ev->others) sbuf_addf(&ss, "%s%d other object(s)", sep, ev->others), sep = ", ";
  if (!b->n) sbuf_add(&ss, " no detections");
  if (b->local_hour >= 0 && b->local_hour < 24)
    sbuf_addf(&ss, " at %02d:%02d%s", b->local_hour,
              b->local_minute >= 0 && b->local_minute < 60 ? b->local_minute : 0, ev->night ? " (night)" : "");
  /* the strongest reasons, in words */
  static const int key[] = {R_WEAPON_FIREARM, R_WEAPON_KNIFE, R_WEAPON_OTHER, R_WEAPON_BLUNT, R_DAMAGE_HIGH_NIGHT,
                            R_DAMAGE_BREAKIN, R_VIOLENCE, R_POSE_FIGHTING, R_POSE_HANDS_RAISED,
                            R_ACTION_SUSPICIOUS, R_CLOTHING_FACE_COVER, R_WATCHED_NIGHT, R_LOITERING, R_POSE_LYING,
                            R_POSE_CROUCHING, R_DAMAGE_MULTI};
  int shown = 0;
  for (size_t k = 0; k < sizeof key / sizeof key[0] && shown < 3; k++) {
    if (!ev->fired[key[k]]) continue;
    sbuf_addf(&ss, "%s%s", shown ? "; " : ". Main factors: ", table[key[k]].description);
    shown++;
  }
  sbuf_add(&ss, ".");
  return sbuf_take(&ss);
}

int risk_rules_score(risk_rules_result *out, const vigil_batch *b, const risk_params *p) {
  memset(out, 0, sizeof *out);
  eval *ev = malloc(sizeof *ev); /* ~5 KiB of evidence notes: off the stack of pipeline threads */
  if (!ev) return RISK_ENOMEM;
  evidence(ev, b, p);
  int base, add;
  score(out, ev, &base, &add);
  out->reasoning = render_reasoning(out, ev, base, add);
  out->summary = render_summary(out, ev, b);
  free(ev);
  if (!out->summary || !out->reasoning) {
    risk_rules_result_free(out);
    return RISK_ENOMEM;
  }
  return 0;
}
