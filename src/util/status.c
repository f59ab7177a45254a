/* vigilcore's status map (include/vigil/status.h) and the one formatted-error
 * helper every module reports through. */
#include "vigil/status.h"

#include <stdarg.h>
#include <stdio.h>

VIGIL_STATUS_LOOKUPS(VIGIL_STATUS_MAP, vigil_strerror, vigil_status_http, "unknown error")

int vigil_err(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

int vigil_err_oom(char *err, size_t errlen) { return vigil_err(err, errlen, VIGIL_ENOMEM, "out of memory"); }
