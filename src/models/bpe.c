/* Byte-level BPE shared by the CLIP and BART tokenizers (see bpe.h): vocabulary and
 * merges loading, the byte-to-unicode table, the merge loop, decoding.
 *
 * The merge loop is the published one: given a piece's symbols, find the adjacent
 * pair with the lowest merge rank, merge every occurrence of that pair left to right,
 * and repeat until no adjacent pair has a rank. Pieces are short (a word), so the
 * quadratic scan costs nothing that matters. */
#include "models/bpe.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"
#include "util/sbuf.h"
#include "vigil/status.h"

/* ---- string -> int hash table (open addressing, FNV-1a) --------------------------------- */

static uint64_t fnv(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  return h;
}

static int map_init(bpe_map *m, size_t want) {
  m->cap = 64;
  while (m->cap < want * 2) m->cap <<= 1;
  m->n = 0;
  m->keys = calloc(m->cap, sizeof *m->keys);
  m->vals = calloc(m->cap, sizeof *m->vals);
  return m->keys && m->vals ? 0 : -1;
}

static void map_free(bpe_map *m) {
  if (m->keys)
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

static size_t map_slot(const bpe_map *m, const char *k, size_t n) {
  size_t i = fnv(k, n) & (m->cap - 1);
  while (m->keys[i] && !(strlen(m->keys[i]) == n && !memcmp(m->keys[i], k, n))) i = (i + 1) & (m->cap - 1);
  return i;
}

static int map_get(const bpe_map *m, const char *k, size_t n) {
  if (!m->cap) return -1;
  size_t i = map_slot(m, k, n);
  return m->keys[i] ? m->vals[i] : -1;
}

/* Inserts unless present (the first value wins). Sized by the caller, never full. */
static int map_put(bpe_map *m, const char *k, size_t n, int v) {
  size_t i = map_slot(m, k, n);
  if (m->keys[i]) return 0;
  if ((m->n + 1) * 2 > m->cap) return -1;
  m->keys[i] = malloc(n + 1);
  if (!m->keys[i]) return -1;
  memcpy(m->keys[i], k, n);
  m->keys[i][n] = 0;
  m->vals[i] = v;
  m->n++;
  return 0;
}

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

int bpe_utf8_put(char *o, uint32_t c) {
  if (c < 0x80) return o[0] = (char)c, 1;
  if (c < 0x800) return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 63)), 2;
  if (c < 0x10000)
    return o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | (c >> 6 & 63)), o[2] = (char)(0x80 | (c & 63)), 3;
  o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | (c >> 12 & 63));
  o[2] = (char)(0x80 | (c >> 6 & 63)), o[3] = (char)(0x80 | (c & 63));
  return 4;
}

int bpe_utf8_get(const unsigned char *s, size_t n, uint32_t *c) {
  if (!n) return 0;
  if (s[0] < 0x80) return *c = s[0], 1;
  int len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
  if (!len || (size_t)len > n || s[0] > 0xF4) return 0;
  uint32_t v = s[0] & (0x7F >> len);
  for (int i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = v << 6 | (s[i] & 63);
  }
  static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *c = v;
  return len;
}

/* ---- vocabulary ------------------------------------------------------------------------------ */

/* The byte-to-unicode table: printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) stand
 * for themselves, the other 68 for U+0100, U+0101, ... in byte order. */
static void byte_table(bpe_vocab *v) {
  int next = 0;
  for (int i = 0; i < 0x144; i++) v->sym_byte[i] = -1;
  for (int b = 0; b < 256; b++) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    uint32_t c = printable ? (uint32_t)b : 256u + (uint32_t)next++;
    memset(v->byte_sym[b], 0, 3);
    bpe_utf8_put(v->byte_sym[b], c);
    v->sym_byte[c] = (int16_t)b;
  }
}

int bpe_vocab_load_mem(bpe_vocab *v, const char *vocab_json, size_t vocab_len, const char *merges, size_t merges_len,
                       char *err, size_t errlen) {
  memset(v, 0, sizeof *v);
  json_error_t je;
  json_t *j = json_loadb(vocab_json, vocab_len, JSON_REJECT_DUPLICATES, &je);
  int rc = -1;
  if (!j || !json_is_object(j)) {
    vigil_err(err, errlen, -1, "vocab.json is not a JSON object%s%s", j ? "" : ": ", j ? "" : je.text);
    goto out;
  }
  if (map_init(&v->vocab, json_object_size(j) + 1)) goto oom;
  const char *key;
  json_t *val;
  int maxid = -1;
  json_object_foreach(j, key, val) {
    json_int_t id = json_integer_value(val);
    if (!json_is_integer(val) || id < 0 || id > 10000000) {
      vigil_err(err, errlen, -1, "vocab.json: '%.40s' has no valid id", key);
      goto out;
    }
    if (map_put(&v->vocab, key, strlen(key), (int)id)) goto oom;
    if (id > maxid) maxid = (int)id;
  }
  v->vocab_size = maxid + 1;
  v->id_token = calloc((size_t)v->vocab_size + 1, sizeof *v->id_token);
  if (!v->id_token) goto oom;
  for (size_t i = 0; i < v->vocab.cap; i++)
    if (v->vocab.keys[i] && !v->id_token[v->vocab.vals[i]]) v->id_token[v->vocab.vals[i]] = v->vocab.keys[i];
  size_t lines = 1;
  for (size_t i = 0; i < merges_len; i++) lines += merges[i] == '\n';
  if (map_init(&v->ranks, lines)) goto oom;
  int rank = 0;
  size_t p = 0, lineno = 0;
  while (p < merges_len) {
    const char *nl = memchr(merges + p, '\n', merges_len - p);
    size_t e = nl ? (size_t)(nl - merges) : merges_len, n = e - p;
    if (n && merges[p + n - 1] == '\r') n--;
    lineno++;
    if (n && !(lineno == 1 && n >= 8 && !memcmp(merges + p, "#version", 8))) {
      const char *sp = memchr(merges + p, ' ', n);
      if (!sp || sp == merges + p || sp == merges + p + n - 1 ||
          memchr(sp + 1, ' ', (size_t)(merges + p + n - sp - 1))) {
        vigil_err(err, errlen, -1, "merges.txt line %zu is not 'a b'", lineno);
        goto out;
      }
      if (map_put(&v->ranks, merges + p, n, rank++)) goto oom;
    }
    p = e + 1;
  }
  byte_table(v);
  rc = 0;
  goto out;
oom:
  vigil_err(err, errlen, -1, "out of memory");
out:
  json_decref(j);
  if (rc) bpe_vocab_free(v);
  return rc;
}

int bpe_vocab_load(bpe_vocab *v, const char *vocab_path, const char *merges_path, char *err, size_t errlen) {
  memset(v, 0, sizeof *v);
  const char *path[2] = {vocab_path, merges_path};
  char *text[2] = {NULL, NULL};
  size_t len[2] = {0, 0};
  int rc = 0;
  for (int i = 0; i < 2 && !rc; i++) rc = vigil_file_read(path[i], (size_t)64 << 20, &text[i], &len[i], err, errlen);
  if (!rc) rc = bpe_vocab_load_mem(v, text[0], len[0], text[1], len[1], err, errlen);
  free(text[0]);
  free(text[1]);
  return rc ? -1 : 0;
}

void bpe_vocab_free(bpe_vocab *v) {
  map_free(&v->vocab); /* owns the strings id_token points at */
  map_free(&v->ranks);
  free(v->id_token);
  v->id_token = NULL;
}

int bpe_id(const bpe_vocab *v, const char *token) { return map_get(&v->vocab, token, strlen(token)); }

/* ---- encode ---------------------------------------------------------------------------------- */

int bpe_encode_piece(const bpe_vocab *v, const char *piece, size_t plen, const char *suffix, int32_t *ids, int *n,
                     int cap) {
  size_t ns = 0, sl = strlen(suffix);
  char **sym = malloc(sizeof *sym * (plen + 1));
  if (!sym) return -1;
  int rc = -1;
  for (size_t i = 0; i < plen; i++) {
    const char *b = v->byte_sym[(uint8_t)piece[i]];
    bool last = i + 1 == plen;
    size_t bl = strlen(b);
    sym[ns] = malloc(bl + (last ? sl : 0) + 1);
    if (!sym[ns]) goto out;
    memcpy(sym[ns], b, bl);
    if (last) memcpy(sym[ns] + bl, suffix, sl), bl += sl;
    sym[ns++][bl] = 0;
  }
  char key[2048];
  for (;;) {
    int best = -1;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
      size_t a = strlen(sym[i]), b = strlen(sym[i + 1]);
      if (a + b + 2 > sizeof key) continue; /* longer than any merge of a real vocabulary */
      memcpy(key, sym[i], a);
      key[a] = ' ';
      memcpy(key + a + 1, sym[i + 1], b);
      int r = map_get(&v->ranks, key, a + b + 1);
      if (r >= 0 && (best < 0 || r < best)) best = r, bi = i;
    }
    if (best < 0) break;
    /* every occurrence of (first, second), left to right */
    size_t fl = strlen(sym[bi]), secl = strlen(sym[bi + 1]), w = 0;
    char *f = strdup(sym[bi]), *s2 = strdup(sym[bi + 1]);
    if (!f || !s2) {
      free(f), free(s2);
      goto out;
    }
    size_t i = 0;
    while (i < ns) {
      if (i + 1 < ns && !strcmp(sym[i], f) && !strcmp(sym[i + 1], s2)) {
        char *m = malloc(fl + secl + 1);
        if (!m) break;
        memcpy(m, sym[i], fl);
        memcpy(m + fl, sym[i + 1], secl + 1);
        free(sym[i]), free(sym[i + 1]);
        sym[w++] = m;
        i += 2;
      } else {
        sym[w++] = sym[i++];
      }
    }
    bool oom = i < ns;
    while (i < ns) sym[w++] = sym[i++]; /* out of memory: keep the rest owned, in place */
    ns = w;
    free(f), free(s2);
    if (oom) goto out;
  }
  for (size_t i = 0; i < ns && *n < cap; i++) {
    int id = map_get(&v->vocab, sym[i], strlen(sym[i]));
    if (id >= 0) ids[(*n)++] = id;
  }
  rc = 0;
out:
  for (size_t i = 0; i < ns; i++) free(sym[i]);
  free(sym);
  return rc;
}

/* ---- decode ---------------------------------------------------------------------------------- */

/* Appends to a util/sbuf.h string; -1 when out of memory. */
static int put(sbuf *b, const void *s, size_t n) {
  sbuf_addn(b, s, n);
  return b->oom || b->full ? -1 : 0;
}

/* the byte a symbol code point stands for, or -1 */
static int sym_byte(const bpe_vocab *v, uint32_t c) { return c < 0x144 ? v->sym_byte[c] : -1; }

char *bpe_decode(const bpe_vocab *v, const int32_t *ids, int n, const char *suffix, bool (*skip)(void *, int32_t),
                 void *ud) {
  sbuf raw, out;
  sbuf_init(&raw, 0), sbuf_init(&out, 0);
  size_t sl = strlen(suffix);
  int ok = put(&raw, "", 0) == 0;
  for (int i = 0; ok && i < n; i++) {
    if (ids[i] < 0 || ids[i] >= v->vocab_size || !v->id_token[ids[i]] || (skip && skip(ud, ids[i]))) continue;
    const char *t = v->id_token[ids[i]];
    size_t tl = strlen(t);
    bool eow = sl && tl >= sl && !memcmp(t + tl - sl, suffix, sl);
    if (eow) tl -= sl;
    /* byte-level when every code point is a byte symbol; else an added token, verbatim */
    char bytes[1024];
    size_t nb = 0, k = 0;
    bool bytelevel = tl < sizeof bytes;
    while (bytelevel && k < tl) {
      uint32_t c;
      int l = bpe_utf8_get((const unsigned char *)t + k, tl - k, &c);
      int b = l ? sym_byte(v, c) : -1;
      if (b < 0) bytelevel = false;
      else bytes[nb++] = (char)b, k += (size_t)l;
    }
    ok = (bytelevel ? put(&raw, bytes, nb) : put(&raw, t, tl)) == 0 && (!eow || put(&raw, " ", 1) == 0);
  }
  /* invalid UTF-8 (a cut character) -> U+FFFD */
  for (size_t k = 0; ok && k < raw.len;) {
    uint32_t c;
    int l = bpe_utf8_get((const unsigned char *)raw.s + k, raw.len - k, &c);
    if (l) ok = put(&out, raw.s + k, (size_t)l) == 0, k += (size_t)l;
    else ok = put(&out, "\xEF\xBF\xBD", 3) == 0, k++;
  }
  if (ok && !out.s) ok = put(&out, "", 0) == 0;
  sbuf_free(&raw);
  if (!ok) {
    sbuf_free(&out);
    return NULL;
  }
  return out.s;
}
