/* libFuzzer target: the camera registry parser (cameras_parse) on arbitrary
 * bytes. Checks the limits of every accepted registry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/cameras.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  camera_registry r;
  char err[256];
  if (cameras_parse(&r, (const char *)data, size, err, sizeof err) == 0) {
    if (r.n < 0 || r.n > CAMERAS_MAX) abort();
    for (int i = 0; i < r.n; i++) {
      const camera *c = &r.cams[i];
      if (!c->id[0] || strlen(c->id) >= sizeof c->id || c->nzones < 0 || c->nzones > CAMERA_MAX_ZONES) abort();
      if (!camera_timezone_valid(c->timezone)) abort();
      for (int z = 0; z < c->nzones; z++)
        if (c->zones[z].npoints < 3 || c->zones[z].npoints > CAMERA_MAX_POINTS) abort();
      if (cameras_find(&r, c->id) == NULL) abort();
    }
  } else if (r.n != 0 || r.cams != NULL || !err[0]) {
    abort(); /* a failed parse leaves nothing behind and says why */
  }
  cameras_free(&r);
  return 0;
}
