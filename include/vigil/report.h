/* The self-contained HTML report of `vigil analyze --report`: one card per
 * event with its annotated snapshot embedded, risk level, summary and
 * reasoning. */
#ifndef VIGIL_REPORT_H
#define VIGIL_REPORT_H

#include "vigil/event.h"

typedef struct report report;

report *report_new(const char *title);
/* Copies what it needs from the event and its batch (snapshot read now). */
int report_add(report *r, const vigil_event *ev, const vigil_batch *b);
int report_write(const report *r, const char *path, char *err, size_t errlen);
void report_free(report *r);

#endif
