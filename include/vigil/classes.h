/* The class vocabulary: every object class vigil knows by name, with its
 * kind (what enrichment runs on it), whether the detector keeps it (the
 * design's SECURITY_CLASSES) and the weapon it is (threat type and severity,
 * CONTRACTS.md). Detection, enrichment, the rules and the pipeline all ask
 * here, so they cannot disagree. Labels match case-insensitively. */
#ifndef VIGIL_CLASSES_H
#define VIGIL_CLASSES_H

#include <stdbool.h>

typedef enum { VIGIL_KIND_PERSON, VIGIL_KIND_VEHICLE, VIGIL_KIND_ANIMAL, VIGIL_KIND_OBJECT } vigil_kind;

typedef enum {
  VIGIL_WEAPON_NONE,
  VIGIL_WEAPON_FIREARM, /* threat "gun", critical */
  VIGIL_WEAPON_KNIFE,   /* threat "knife", high */
  VIGIL_WEAPON_OTHER,   /* threat "weapon", high */
  VIGIL_WEAPON_BLUNT,   /* threat "weapon", medium (bat, crowbar) */
} vigil_weapon;

typedef struct {
  const char *label; /* lower case */
  vigil_kind kind;
  bool security;     /* kept by the detector's SECURITY_CLASSES filter */
  vigil_weapon weapon;
} vigil_class;

/* The row of label, or NULL when the vocabulary does not know it (or NULL). */
const vigil_class *vigil_class_find(const char *label);
/* VIGIL_KIND_OBJECT for a label the vocabulary does not know. */
vigil_kind vigil_class_kind(const char *label);
bool vigil_class_security(const char *label);
vigil_weapon vigil_class_weapon(const char *label);
/* A weapon's threat type ("gun", "knife", "weapon") and severity ("medium",
 * "high", "critical"); false for a label that is not a weapon. */
bool vigil_class_threat(const char *label, const char **type, const char **severity);

/* "person", "vehicle", "animal", "object": the kind's name in JSON and
 * prompts, and its parse (exact, -1 for anything else). */
const char *vigil_kind_name(vigil_kind k);
int vigil_kind_parse(const char *s, vigil_kind *out);

#endif
