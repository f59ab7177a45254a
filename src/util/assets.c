/* Asset paths under $VIGIL_HOME: the one place that knows where `make deps` puts the
 * models, media, reference runtimes and golden outputs. */
#include "util/assets.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/status.h"

static _Thread_local char home_buf[PATH_MAX];
static _Thread_local char err_buf[PATH_MAX + 128];

const char *vigil_asset_errmsg(void) { return err_buf; }

/* Copies s (at most n bytes) into home_buf without trailing slashes ("/" stays "/"). */
static const char *home_set(const char *s, size_t n) {
  while (n > 1 && s[n - 1] == '/') n--;
  if (n >= sizeof home_buf) n = sizeof home_buf - 1;
  memcpy(home_buf, s, n);
  home_buf[n] = '\0';
  return home_buf;
}

const char *vigil_home(void) {
  const char *e = vigil_config_given(NULL, "VIGIL_HOME");
  if (e && *e) return home_set(e, strlen(e));

  const char *h = getenv("HOME");
  char pwbuf[4096];
  struct passwd pw, *res = NULL;
  if ((!h || !*h) && getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
    h = res->pw_dir;
  if (!h || !*h) h = "/tmp";
  char tmp[PATH_MAX];
  int n = snprintf(tmp, sizeof tmp, "%s/.cache/vigil", strcmp(h, "/") ? h : "");
  if (n < 0 || (size_t)n >= sizeof tmp) n = (int)sizeof tmp - 1;
  return home_set(tmp, (size_t)n);
}

/* rel must be non-empty, relative, and have no ".." component. */
static bool rel_ok(const char *rel) {
  if (!rel || !*rel || rel[0] == '/') return false;
  for (const char *p = rel; *p;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.') return false;
    p += n;
    if (*p == '/') p++;
  }
  return true;
}

int vigil_asset_path(char *buf, size_t len, const char *rel) {
  if (!buf || len == 0) return vigil_err(err_buf, sizeof err_buf, -EINVAL, "asset path: no output buffer");
  buf[0] = '\0';
  if (!rel_ok(rel))
    return vigil_err(err_buf, sizeof err_buf, -EINVAL, "asset path '%s': must be relative to VIGIL_HOME, without '..'",
                   rel ? rel : "(null)");
  const char *home = vigil_home();
  int n = snprintf(buf, len, "%s/%s", home, rel);
  if (n < 0 || (size_t)n >= len) {
    buf[0] = '\0';
    return vigil_err(err_buf, sizeof err_buf, -ENAMETOOLONG, "asset path '%s/%s' is too long", home, rel);
  }
  return 0;
}

bool vigil_asset_exists(const char *rel) {
  char path[PATH_MAX];
  if (vigil_asset_path(path, sizeof path, rel) < 0) return false;
  return access(path, R_OK) == 0;
}

int vigil_asset_require(char *buf, size_t len, const char *rel) {
  int rc = vigil_asset_path(buf, len, rel);
  if (rc < 0) return rc;
  if (access(buf, R_OK) != 0)
    return vigil_err(err_buf, sizeof err_buf, -ENOENT, "missing asset %s (VIGIL_HOME=%s): run `make deps` to install it",
                   buf, vigil_home());
  return 0;
}
