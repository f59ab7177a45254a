/* Whole-file reads (src/util/file.h), bounded by the caller's maximum. */
#include "util/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/status.h"

int vigil_file_read(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen) {
  *out = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return vigil_err(err, errlen, VIGIL_EIO, "%s: %s", path, strerror(errno));
  char *buf = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (n == cap) {
      if (cap > max) { /* one byte past max was read: the file is larger */
        rc = vigil_err(err, errlen, VIGIL_ETOOBIG, "%s: larger than %zu bytes", path, max);
        break;
      }
      size_t ncap = cap ? cap * 2 : 1 << 16;
      if (ncap > max + 1) ncap = max + 1;
      char *nb = realloc(buf, ncap + 1);
      if (!nb) {
        rc = vigil_err_oom(err, errlen);
        break;
      }
      buf = nb;
      cap = ncap;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) {
      if (ferror(f)) rc = vigil_err(err, errlen, VIGIL_EIO, "%s: read error", path);
      break;
    }
  }
  fclose(f);
  if (rc) {
    free(buf);
    return rc;
  }
  if (!buf && !(buf = malloc(1))) return vigil_err_oom(err, errlen);
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}
