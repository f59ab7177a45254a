/* libFuzzer target: the zoo registry's config-file parser (VIGIL_ZOO_CONFIG),
 * which adds or overrides model rows from untrusted text. On error nothing may
 * change; on success every row must stay well-formed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/zoo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  zoo_registry r;
  char err[256];
  if (zoo_registry_init_builtin(&r, err, sizeof err) == 0) {
    int before = r.count;
    if (zoo_registry_load_config_text(&r, text, err, sizeof err) != 0 && r.count != before) abort();
    for (int i = 0; i < r.count; i++) {
      const zoo_model_row *row = &r.rows[i];
      if (!memchr(row->name, 0, sizeof row->name) || !memchr(row->default_path, 0, sizeof row->default_path)) abort();
      if (!(row->declared_mb >= 0) || row->priority < ZOO_CRITICAL || row->priority > ZOO_LOW) abort();
      (void)zoo_registry_find(&r, row->name);
    }
    zoo_registry_free(&r);
  }
  free(text);
  return 0;
}
