/* libFuzzer target: the access rules' parsers of untrusted bytes (src/http/auth.c):
 * the API keys file, and the Host, Origin and Authorization header checks.
 * Input: a keys file, then "\n--\n", then header lines "Host", "Origin",
 * "Authorization" (one per line). Whatever parses must give sane answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/http.h"

static char *line_at(char **p) {
  if (!*p) return NULL;
  char *s = *p, *nl = strchr(s, '\n');
  if (nl) {
    *nl = 0;
    *p = nl + 1;
  } else {
    *p = NULL;
  }
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  char *sep = strstr(text, "\n--\n"), *rest = NULL;
  size_t keys_len = size;
  if (sep) {
    keys_len = (size_t)(sep - text);
    rest = sep + 4;
  }
  vigil_http_auth *a = vigil_http_auth_new();
  char err[256];
  int rc = vigil_http_auth_parse_keys(a, text, keys_len, err, sizeof err);
  if (rc && !memchr(err, 0, sizeof err)) abort();
  vigil_http_auth_add_host(a, "vigil.lan");
  vigil_http_auth_add_origin(a, "https://dash.example");
  char *host = line_at(&rest), *origin = line_at(&rest), *authz = line_at(&rest);
  (void)vigil_http_host_allowed(a, host);
  (void)vigil_http_host_allowed(NULL, host);
  (void)vigil_http_origin_allowed(a, origin, host);
  (void)vigil_http_origin_listed(a, origin);
  vigil_http_role r = vigil_http_auth_role(a, authz, origin);
  if (r != VIGIL_ROLE_NONE && r != VIGIL_ROLE_READ && r != VIGIL_ROLE_ADMIN) abort();
  /* no keys at all: everyone is admin; with keys, no header is no one */
  if (vigil_http_auth_n_keys(a) == 0 && r != VIGIL_ROLE_ADMIN) abort();
  if (vigil_http_auth_n_keys(a) && vigil_http_auth_role(a, NULL, NULL) != VIGIL_ROLE_NONE) abort();
  /* an IP literal Host is always allowed */
  if (!vigil_http_host_allowed(a, "127.0.0.1:8095") || !vigil_http_host_allowed(a, "[::1]")) abort();
  vigil_http_auth_free(a);
  free(text);
  return 0;
}
