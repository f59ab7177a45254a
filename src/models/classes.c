/* The class vocabulary (include/vigil/classes.h): one table of labels with
 * their kind, the SECURITY_CLASSES flag and the weapon they are. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "vigil/classes.h"

#define P VIGIL_KIND_PERSON
#define V VIGIL_KIND_VEHICLE
#define A VIGIL_KIND_ANIMAL
#define O VIGIL_KIND_OBJECT
static const vigil_class classes[] = {
    {"person", P, true, VIGIL_WEAPON_NONE},
    {"car", V, true, VIGIL_WEAPON_NONE},
    {"truck", V, true, VIGIL_WEAPON_NONE},
    {"bus", V, true, VIGIL_WEAPON_NONE},
    {"motorcycle", V, true, VIGIL_WEAPON_NONE},
    {"bicycle", V, true, VIGIL_WEAPON_NONE},
    {"vehicle", V, false, VIGIL_WEAPON_NONE}, /* generic labels (batches from elsewhere, open vocabularies) */
    {"dog", A, true, VIGIL_WEAPON_NONE},
    {"cat", A, true, VIGIL_WEAPON_NONE},
    {"bird", A, true, VIGIL_WEAPON_NONE},
    {"animal", A, false, VIGIL_WEAPON_NONE},
    {"gun", O, false, VIGIL_WEAPON_FIREARM},
    {"rifle", O, false, VIGIL_WEAPON_FIREARM},
    {"pistol", O, false, VIGIL_WEAPON_FIREARM},
    {"handgun", O, false, VIGIL_WEAPON_FIREARM},
    {"firearm", O, false, VIGIL_WEAPON_FIREARM},
    {"shotgun", O, false, VIGIL_WEAPON_FIREARM},
    {"knife", O, false, VIGIL_WEAPON_KNIFE},
    {"weapon", O, false, VIGIL_WEAPON_OTHER},
    {"bat", O, false, VIGIL_WEAPON_BLUNT},
    {"baseball bat", O, false, VIGIL_WEAPON_BLUNT},
    {"crowbar", O, false, VIGIL_WEAPON_BLUNT},
};
#undef P
#undef V
#undef A
#undef O

static const char *const kind_names[] = {"person", "vehicle", "animal", "object"};

const vigil_class *vigil_class_find(const char *label) {
  for (size_t i = 0; label && i < sizeof classes / sizeof *classes; i++)
    if (!strcasecmp(classes[i].label, label)) return &classes[i];
  return NULL;
}

vigil_kind vigil_class_kind(const char *label) {
  const vigil_class *c = vigil_class_find(label);
  return c ? c->kind : VIGIL_KIND_OBJECT;
}

bool vigil_class_security(const char *label) {
  const vigil_class *c = vigil_class_find(label);
  return c && c->security;
}

vigil_weapon vigil_class_weapon(const char *label) {
  const vigil_class *c = vigil_class_find(label);
  return c ? c->weapon : VIGIL_WEAPON_NONE;
}

bool vigil_class_threat(const char *label, const char **type, const char **severity) {
  static const struct {
    const char *type, *severity;
  } threat[] = {
      [VIGIL_WEAPON_FIREARM] = {"gun", "critical"},
      [VIGIL_WEAPON_KNIFE] = {"knife", "high"},
      [VIGIL_WEAPON_OTHER] = {"weapon", "high"},
      [VIGIL_WEAPON_BLUNT] = {"weapon", "medium"},
  };
  vigil_weapon w = vigil_class_weapon(label);
  if (w == VIGIL_WEAPON_NONE) return false;
  *type = threat[w].type;
  *severity = threat[w].severity;
  return true;
}

const char *vigil_kind_name(vigil_kind k) {
  return (unsigned)k < sizeof kind_names / sizeof *kind_names ? kind_names[k] : "object";
}

int vigil_kind_parse(const char *s, vigil_kind *out) {
  for (size_t i = 0; s && i < sizeof kind_names / sizeof *kind_names; i++)
    if (!strcmp(s, kind_names[i])) {
      *out = (vigil_kind)i;
      return 0;
    }
  return -1;
}
