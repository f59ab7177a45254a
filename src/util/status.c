/* vigilcore's status map (include/vigil/status.h) and the one formatted-error
 * helper every module reports through. */
#include "vigil/status.h"

#include <stdarg.h>
#include <stdio.h>

const char *vigil_strerror(int status) {
  switch (status) { VIGIL_STATUS_MAP(VIGIL_MSG_CASE) }
  return "unknown error";
}

int vigil_status_http(int status) {
  switch (status) { VIGIL_STATUS_MAP(VIGIL_HTTP_CASE) }
  return 500;
}

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
