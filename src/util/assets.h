/* Where setup-managed assets live: $VIGIL_HOME (default ~/.cache/vigil), laid out as
 * models/human/<name>.json|.bin, models/ocr/<file>, media/<file>, ref/, golden/.
 * `make deps` (tools/setup/deps.sh) fills it; nothing in it is ever committed. */
#ifndef VIGIL_UTIL_ASSETS_H
#define VIGIL_UTIL_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

/* The asset root: $VIGIL_HOME if set and non-empty (trailing slashes dropped), else
 * $HOME/.cache/vigil (the passwd home when HOME is unset). Read from the environment at
 * each call. Returns a thread-local buffer, valid until this thread's next call. */
const char *vigil_home(void);

/* Writes "$VIGIL_HOME/<rel>" into buf[len]. rel must be relative and free of ".."
 * components. Returns 0, -EINVAL (bad rel) or -ENAMETOOLONG (does not fit; buf then
 * holds ""). Sets the message read by vigil_asset_errmsg(). Thread-safe. */
int vigil_asset_path(char *buf, size_t len, const char *rel);

/* True when "$VIGIL_HOME/<rel>" names an existing, readable file or directory. */
bool vigil_asset_exists(const char *rel);

/* Like vigil_asset_path, but also requires the asset to exist: -ENOENT when it does not,
 * with a message that names the path and says to run `make deps`. Use it in tests and
 * commands that need a setup-managed asset, so a missing one fails loudly. */
int vigil_asset_require(char *buf, size_t len, const char *rel);

/* The message of this thread's last failed vigil_asset_* call ("" if none). */
const char *vigil_asset_errmsg(void);

#endif
