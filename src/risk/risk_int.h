/* Helpers shared by the risk files (prompt, rules, reply, client). */
#ifndef VIGIL_RISK_INT_H
#define VIGIL_RISK_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sbuf.h"
#include "vigil/event.h"

void risk__add_clean(sbuf *b, const char *s, size_t max);
void risk__fmt_time(char *buf, size_t len, double t);
bool risk__is_night(int hour);
bool risk__threat_real(const vigil_threat *t);
bool risk__is_high_security_damage(const char *type);
int risk__damage_patterns(const vigil_vehicle *v, int hour, bool *breakin, bool *night_damage,
                          bool *multi, bool *high_night);

#endif
