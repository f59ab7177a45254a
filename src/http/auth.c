/* Access rules at the HTTP edge: API keys (admin and read-only, from
 * VIGIL_API_KEY or a keys file), the Host allow-list that defeats DNS
 * rebinding, and the Origin rules that refuse cross-site writes. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/http.h"
#include "vigil/status.h"

#define KEY_MIN 16
#define KEY_MAX 256
#define KEYS_FILE_MAX (1u << 20)

typedef struct {
  char key[KEY_MAX + 1];
  size_t len;
  vigil_http_role role;
} auth_key;

struct vigil_http_auth {
  auth_key *keys;
  size_t n_keys;
  char **hosts; /* lower case; "*" = any */
  size_t n_hosts;
  char **origins; /* as written, compared case-insensitively; "*" = any */
  size_t n_origins;
};

vigil_http_auth *vigil_http_auth_new(void) { return calloc(1, sizeof(vigil_http_auth)); }

void vigil_http_auth_free(vigil_http_auth *a) {
  if (!a) return;
  /* keys are secrets: do not leave them in freed memory */
  if (a->keys) memset(a->keys, 0, a->n_keys * sizeof *a->keys);
  free(a->keys);
  for (size_t i = 0; i < a->n_hosts; i++) free(a->hosts[i]);
  for (size_t i = 0; i < a->n_origins; i++) free(a->origins[i]);
  free(a->hosts);
  free(a->origins);
  free(a);
}

size_t vigil_http_auth_n_keys(const vigil_http_auth *a) { return a ? a->n_keys : 0; }

int vigil_http_auth_add_key(vigil_http_auth *a, vigil_http_role role, const char *key, size_t len, char *err,
                            size_t errlen) {
  if (len < KEY_MIN || len > KEY_MAX) {
    vigil_err(err, errlen, -1, "an API key must be %d to %d characters long (got %zu)", KEY_MIN, KEY_MAX, len);
    return -1;
  }
  for (size_t i = 0; i < len; i++)
    if (key[i] <= ' ' || key[i] > '~') {
      vigil_err(err, errlen, -1, "an API key may only hold printable ASCII without spaces");
      return -1;
    }
  if (role != VIGIL_ROLE_READ && role != VIGIL_ROLE_ADMIN) {
    vigil_err(err, errlen, -1, "bad key role");
    return -1;
  }
  auth_key *nk = realloc(a->keys, (a->n_keys + 1) * sizeof *nk);
  if (!nk) {
    vigil_err(err, errlen, -1, "out of memory");
    return -1;
  }
  a->keys = nk;
  auth_key *k = &a->keys[a->n_keys++];
  memset(k, 0, sizeof *k);
  memcpy(k->key, key, len);
  k->len = len;
  k->role = role;
  return 0;
}

/* One line per key: "admin KEY" or "read KEY" ("read-only"/"readonly" too);
 * blank lines and '#' comments allowed. */
int vigil_http_auth_parse_keys(vigil_http_auth *a, const char *text, size_t len, char *err, size_t errlen) {
  size_t pos = 0;
  int lineno = 0;
  while (pos < len) {
    size_t end = pos;
    while (end < len && text[end] != '\n') end++;
    lineno++;
    const char *s = text + pos, *e = text + end;
    pos = end + 1;
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
    if (s == e || *s == '#') continue;
    const char *w = s;
    while (w < e && *w != ' ' && *w != '\t') w++;
    size_t rl = (size_t)(w - s);
    vigil_http_role role = VIGIL_ROLE_NONE;
    if (rl == 5 && !strncasecmp(s, "admin", 5)) role = VIGIL_ROLE_ADMIN;
    else if ((rl == 4 && !strncasecmp(s, "read", 4)) || (rl == 8 && !strncasecmp(s, "readonly", 8)) ||
             (rl == 9 && !strncasecmp(s, "read-only", 9)))
      role = VIGIL_ROLE_READ;
    if (role == VIGIL_ROLE_NONE) {
      vigil_err(err, errlen, -1, "line %d: expected 'admin KEY' or 'read KEY'", lineno);
      return -1;
    }
    while (w < e && (*w == ' ' || *w == '\t')) w++;
    char kerr[160];
    if (w == e) {
      vigil_err(err, errlen, -1, "line %d: no key after the role", lineno);
      return -1;
    }
    if (vigil_http_auth_add_key(a, role, w, (size_t)(e - w), kerr, sizeof kerr)) {
      vigil_err(err, errlen, -1, "line %d: %s", lineno, kerr);
      return -1;
    }
  }
  return 0;
}

static int list_add(char ***items, size_t *n, const char *s, size_t len, bool lower) {
  char **ni = realloc(*items, (*n + 1) * sizeof *ni);
  if (!ni) return -1;
  *items = ni;
  char *v = strndup(s, len);
  if (!v) return -1;
  if (lower)
    for (char *p = v; *p; p++) *p = (char)tolower((unsigned char)*p);
  ni[(*n)++] = v;
  return 0;
}

int vigil_http_auth_add_host(vigil_http_auth *a, const char *host) {
  return list_add(&a->hosts, &a->n_hosts, host, strlen(host), true);
}

int vigil_http_auth_add_origin(vigil_http_auth *a, const char *origin) {
  size_t n = strlen(origin);
  while (n && origin[n - 1] == '/') n--; /* "https://x/" names the same origin as "https://x" */
  return list_add(&a->origins, &a->n_origins, origin, n, false);
}

int vigil_http_auth_from_config(vigil_http_auth **out, const vigil_config *cfg, char *err, size_t errlen) {
  *out = NULL;
  vigil_http_auth *a = vigil_http_auth_new();
  if (!a) {
    vigil_err(err, errlen, -1, "out of memory");
    return -1;
  }
  char kerr[200];
  const char *k = vigil_config_str(cfg, "VIGIL_API_KEY");
  if (k && *k && vigil_http_auth_add_key(a, VIGIL_ROLE_ADMIN, k, strlen(k), kerr, sizeof kerr)) {
    vigil_err(err, errlen, -1, "VIGIL_API_KEY: %s", kerr);
    goto fail;
  }
  const char *path = vigil_config_str(cfg, "VIGIL_API_KEYS_FILE");
  if (path && *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
      vigil_err(err, errlen, -1, "VIGIL_API_KEYS_FILE %s: %s", path, strerror(errno));
      goto fail;
    }
    char *buf = malloc(KEYS_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, KEYS_FILE_MAX + 1, f) : 0;
    fclose(f);
    int rc = -1;
    if (!buf) snprintf(kerr, sizeof kerr, "out of memory");
    else if (n > KEYS_FILE_MAX) snprintf(kerr, sizeof kerr, "larger than 1 MB");
    else rc = vigil_http_auth_parse_keys(a, buf, n, kerr, sizeof kerr);
    if (buf) memset(buf, 0, n < KEYS_FILE_MAX ? n : KEYS_FILE_MAX);
    free(buf);
    if (rc) {
      vigil_err(err, errlen, -1, "VIGIL_API_KEYS_FILE %s: %s", path, kerr);
      goto fail;
    }
    if (!a->n_keys) {
      vigil_err(err, errlen, -1, "VIGIL_API_KEYS_FILE %s holds no key", path);
      goto fail;
    }
  }
  const char *lists[2] = {"VIGIL_HTTP_ALLOWED_HOSTS", "VIGIL_HTTP_CORS_ORIGINS"};
  for (int l = 0; l < 2; l++) {
    char **items;
    size_t n;
    if (vigil_config_list(cfg, lists[l], &items, &n, NULL, 0)) continue; /* unset */
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
      rc = l == 0 ? vigil_http_auth_add_host(a, items[i]) : vigil_http_auth_add_origin(a, items[i]);
    vigil_config_list_free(items, n);
    if (rc) {
      vigil_err(err, errlen, -1, "out of memory");
      goto fail;
    }
  }
  *out = a;
  return 0;
fail:
  vigil_http_auth_free(a);
  return -1;
}

/* Equal in time that depends on neither key: always KEY_MAX + 1 steps. */
static bool key_equal(const char *given, size_t glen, const auth_key *k) {
  unsigned d = glen != k->len;
  for (size_t i = 0; i <= KEY_MAX; i++) {
    unsigned char g = i < glen ? (unsigned char)given[i] : 0;
    d |= (unsigned)(g ^ (unsigned char)k->key[i]);
  }
  return d == 0;
}

vigil_http_role vigil_http_auth_role(const vigil_http_auth *a, const char *authorization, const char *x_api_key) {
  if (!a || !a->n_keys) return VIGIL_ROLE_ADMIN;
  const char *tok = NULL;
  size_t len = 0;
  if (authorization) {
    const char *s = authorization;
    while (*s == ' ') s++;
    if (!strncasecmp(s, "Bearer ", 7)) {
      s += 7;
      while (*s == ' ') s++;
      len = strlen(s);
      while (len && s[len - 1] == ' ') len--;
      tok = s;
    }
  }
  if (!tok && x_api_key) {
    tok = x_api_key;
    len = strlen(tok);
  }
  if (!tok || len > KEY_MAX) return VIGIL_ROLE_NONE;
  vigil_http_role role = VIGIL_ROLE_NONE;
  for (size_t i = 0; i < a->n_keys; i++) /* no early exit: every key is compared */
    if (key_equal(tok, len, &a->keys[i]) && a->keys[i].role > role) role = a->keys[i].role;
  return role;
}

/* Splits "host[:port]" / "[v6]:port"; *hl = length of the host part
 * (brackets included). -1 when malformed. */
static int split_authority(const char *s, size_t n, size_t *hl) {
  if (!n) return -1;
  size_t h;
  if (s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (!close) return -1;
    h = (size_t)(close - s) + 1;
  } else {
    const char *colon = memchr(s, ':', n);
    h = colon ? (size_t)(colon - s) : n;
  }
  if (h == 0) return -1;
  if (h < n) {
    if (s[h] != ':' || n - h - 1 < 1 || n - h - 1 > 5) return -1;
    for (size_t i = h + 1; i < n; i++)
      if (!isdigit((unsigned char)s[i])) return -1;
  }
  *hl = h;
  return 0;
}

static bool is_ip_literal(const char *s, size_t n) {
  char buf[64];
  unsigned char addr[16];
  if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
    if (n - 2 >= sizeof buf) return false;
    memcpy(buf, s + 1, n - 2);
    buf[n - 2] = '\0';
    return inet_pton(AF_INET6, buf, addr) == 1;
  }
  if (n >= sizeof buf) return false;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return inet_pton(AF_INET, buf, addr) == 1;
}

bool vigil_http_host_allowed(const vigil_http_auth *a, const char *host) {
  if (!host) return false;
  size_t n = strlen(host), hl;
  if (n > 255 || split_authority(host, n, &hl)) return false;
  if (is_ip_literal(host, hl)) return true;
  for (size_t i = 0; i < hl; i++) {
    char c = host[i];
    if (!isalnum((unsigned char)c) && c != '-' && c != '.' && c != '_') return false;
  }
  size_t nl = hl;
  if (nl && host[nl - 1] == '.') nl--; /* "localhost." is "localhost" */
  if (nl == 9 && !strncasecmp(host, "localhost", 9)) return true;
  for (size_t i = 0; a && i < a->n_hosts; i++) {
    const char *h = a->hosts[i];
    if (!strcmp(h, "*")) return true;
    if (strlen(h) == nl && !strncasecmp(h, host, nl)) return true;
  }
  return false;
}

bool vigil_http_origin_listed(const vigil_http_auth *a, const char *origin) {
  if (!a || !origin) return false;
  size_t n = strlen(origin);
  for (size_t i = 0; i < a->n_origins; i++) {
    const char *o = a->origins[i];
    if (!strcmp(o, "*")) return true;
    if (strlen(o) == n && !strncasecmp(o, origin, n)) return true;
  }
  return false;
}

/* Same origin: the Origin's authority names what the Host header names
 * (default ports ignored), or the Origin is on the allow-list. */
bool vigil_http_origin_allowed(const vigil_http_auth *a, const char *origin, const char *host) {
  if (!origin) return true;
  if (vigil_http_origin_listed(a, origin)) return true;
  if (!host) return false;
  const char *sep = strstr(origin, "://");
  if (!sep) return false; /* "null" and friends: an opaque origin is never same-origin */
  size_t sl = (size_t)(sep - origin);
  const char *auth = sep + 3;
  size_t al = strlen(auth), hl = strlen(host), ahl, hhl;
  if (split_authority(auth, al, &ahl) || split_authority(host, hl, &hhl)) return false;
  if (ahl != hhl || strncasecmp(auth, host, ahl)) return false;
  const char *def = sl == 5 && !strncasecmp(origin, "https", 5) ? "443" : "80";
  const char *ap = ahl < al ? auth + ahl + 1 : def, *hp = hhl < hl ? host + hhl + 1 : def;
  return !strcmp(ap, hp);
}
