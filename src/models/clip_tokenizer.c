/* CLIP's byte-level BPE tokenizer, from the published algorithm (Radford et al. 2021,
 * the `simple_tokenizer` of the CLIP release), reading the model's own vocab.json and
 * merges.txt.
 *
 * How a text becomes ids:
 *   1. HTML entities unescaped twice, whitespace runs (Python's str.isspace set)
 *      collapsed to one space and trimmed, lower-cased (Unicode simple case mapping,
 *      plus U+0130);
 *   2. split by CLIP's pattern: the special tokens, the contractions 's 't 're 've 'm
 *      'll 'd, runs of letters (\p{L}), single numbers (\p{N}), runs of anything else
 *      that is not a space; PCRE2 with Unicode properties does the matching;
 *   3. each piece's UTF-8 bytes become symbols through the byte-to-unicode table
 *      (printable Latin-1 bytes stand for themselves, the others for U+0100 on), the
 *      last symbol gets "</w>", and adjacent pairs are merged, lowest merge rank
 *      first, every occurrence left to right, until no pair has a rank;
 *   4. the symbols are looked up in the vocabulary.
 * Pieces are tokenized only until the context is full: what comes later could never
 * reach the model. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <jansson.h>
#include <locale.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "vigil/clip.h"

/* ---- a string -> int hash table ---------------------------------------------------------- */

typedef struct {
  char **keys;
  int *vals;
  size_t cap, n;
} strmap;

static uint64_t fnv(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  return h;
}

static int strmap_init(strmap *m, size_t want) {
  m->cap = 64;
  while (m->cap < want * 2) m->cap <<= 1;
  m->n = 0;
  m->keys = calloc(m->cap, sizeof *m->keys);
  m->vals = calloc(m->cap, sizeof *m->vals);
  return m->keys && m->vals ? 0 : -1;
}

static void strmap_free(strmap *m) {
  if (m->keys)
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
  free(m->keys);
  free(m->vals);
}

/* slot of key (n bytes), or the empty slot where it would go */
static size_t strmap_slot(const strmap *m, const char *k, size_t n) {
  size_t i = fnv(k, n) & (m->cap - 1);
  while (m->keys[i] && !(strlen(m->keys[i]) == n && !memcmp(m->keys[i], k, n))) i = (i + 1) & (m->cap - 1);
  return i;
}

static int strmap_get(const strmap *m, const char *k, size_t n) {
  size_t i = strmap_slot(m, k, n);
  return m->keys[i] ? m->vals[i] : -1;
}

/* Inserts unless present (the first value wins). The table never fills: the
 * callers size it for every key first. */
static int strmap_put(strmap *m, const char *k, size_t n, int v) {
  size_t i = strmap_slot(m, k, n);
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

/* ---- the tokenizer ---------------------------------------------------------------------------- */

struct clip_tokenizer {
  strmap vocab, ranks; /* symbol -> id, "a b" -> merge rank */
  int sot, eot, vocab_size;
  char byte_sym[256][3]; /* UTF-8 of the symbol each byte stands for */
  pcre2_code *re;
  locale_t loc;
};

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static int utf8_put(char *o, uint32_t c) {
  if (c < 0x80) return o[0] = (char)c, 1;
  if (c < 0x800) return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 63)), 2;
  if (c < 0x10000)
    return o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | (c >> 6 & 63)), o[2] = (char)(0x80 | (c & 63)), 3;
  o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | (c >> 12 & 63));
  o[2] = (char)(0x80 | (c >> 6 & 63)), o[3] = (char)(0x80 | (c & 63));
  return 4;
}

/* Decodes one code point; returns its length, or 0 for invalid UTF-8 (overlong,
 * surrogate, out of range, truncated). */
static int utf8_get(const unsigned char *s, size_t n, uint32_t *c) {
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

/* The byte-to-unicode table: printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) map to
 * themselves, the other 68 to U+0100, U+0101, ... in byte order. */
static void byte_table(clip_tokenizer *t) {
  int next = 0;
  for (int b = 0; b < 256; b++) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    uint32_t c = printable ? (uint32_t)b : 256u + (uint32_t)next++;
    memset(t->byte_sym[b], 0, 3);
    utf8_put(t->byte_sym[b], c);
  }
}

static const char *PATTERN =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^\\s\\p{L}\\p{N}]+";

int clip_tokenizer_load_mem(clip_tokenizer **out, const char *vocab_json, size_t vocab_len, const char *merges,
                            size_t merges_len, char *err, size_t errlen) {
  *out = NULL;
  clip_tokenizer *t = calloc(1, sizeof *t);
  if (!t) return fail(err, errlen, "clip tokenizer: out of memory");
  json_error_t je;
  json_t *v = json_loadb(vocab_json, vocab_len, JSON_REJECT_DUPLICATES, &je);
  int rc = -1;
  if (!v || !json_is_object(v)) {
    fail(err, errlen, "clip tokenizer: vocab.json is not a JSON object (%s)", v ? "" : je.text);
    goto out;
  }
  if (strmap_init(&t->vocab, json_object_size(v) + 1)) {
    fail(err, errlen, "clip tokenizer: out of memory");
    goto out;
  }
  const char *key;
  json_t *val;
  int maxid = -1;
  json_object_foreach(v, key, val) {
    json_int_t id = json_integer_value(val);
    if (!json_is_integer(val) || id < 0 || id > 10000000) {
      fail(err, errlen, "clip tokenizer: vocab.json: '%.40s' has no valid id", key);
      goto out;
    }
    if (strmap_put(&t->vocab, key, strlen(key), (int)id)) {
      fail(err, errlen, "clip tokenizer: out of memory");
      goto out;
    }
    if (id > maxid) maxid = (int)id;
  }
  t->vocab_size = maxid + 1;
  t->sot = strmap_get(&t->vocab, "<|startoftext|>", 15);
  t->eot = strmap_get(&t->vocab, "<|endoftext|>", 13);
  if (t->sot < 0 || t->eot < 0) {
    fail(err, errlen, "clip tokenizer: vocab.json lacks <|startoftext|> or <|endoftext|>");
    goto out;
  }
  /* merges: count lines first to size the table */
  size_t lines = 1;
  for (size_t i = 0; i < merges_len; i++) lines += merges[i] == '\n';
  if (strmap_init(&t->ranks, lines)) {
    fail(err, errlen, "clip tokenizer: out of memory");
    goto out;
  }
  int rank = 0;
  size_t p = 0, lineno = 0;
  while (p < merges_len) {
    const char *nl = memchr(merges + p, '\n', merges_len - p);
    size_t e = nl ? (size_t)(nl - merges) : merges_len, n = e - p;
    if (n && merges[p + n - 1] == '\r') n--;
    lineno++;
    if (n && !(lineno == 1 && n >= 8 && !memcmp(merges + p, "#version", 8))) {
      const char *sp = memchr(merges + p, ' ', n);
      if (!sp || sp == merges + p || sp == merges + p + n - 1 || memchr(sp + 1, ' ', (size_t)(merges + p + n - sp - 1))) {
        fail(err, errlen, "clip tokenizer: merges.txt line %zu is not 'a b'", lineno);
        goto out;
      }
      if (strmap_put(&t->ranks, merges + p, n, rank++)) {
        fail(err, errlen, "clip tokenizer: out of memory");
        goto out;
      }
    }
    p = e + 1;
  }
  byte_table(t);
  int ec;
  PCRE2_SIZE eo;
  t->re = pcre2_compile((PCRE2_SPTR)PATTERN, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &ec, &eo, NULL);
  t->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  if (!t->re || t->loc == (locale_t)0) {
    fail(err, errlen, "clip tokenizer: %s", !t->re ? "pattern does not compile" : "no C.UTF-8 locale");
    goto out;
  }
  rc = 0;
out:
  json_decref(v);
  if (rc) clip_tokenizer_free(t);
  else *out = t;
  return rc;
}

static char *slurp(const char *path, size_t *len, size_t max, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) return fail(err, errlen, "%s: %s", path, strerror(errno)), NULL;
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      if (cap >= max) {
        fail(err, errlen, "%s: larger than %zu MB", path, max >> 20);
        break;
      }
      cap = cap ? cap * 2 : 1 << 16;
      char *nb = realloc(buf, cap + 1);
      if (!nb) break;
      buf = nb;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (!r) {
      fclose(f);
      buf[n] = 0;
      *len = n;
      return buf;
    }
  }
  fclose(f);
  free(buf);
  return NULL;
}

int clip_tokenizer_load(clip_tokenizer **out, const char *vocab_path, const char *merges_path, char *err,
                        size_t errlen) {
  *out = NULL;
  size_t vl, ml;
  char *v = slurp(vocab_path, &vl, (size_t)64 << 20, err, errlen);
  if (!v) return -1;
  char *m = slurp(merges_path, &ml, (size_t)64 << 20, err, errlen);
  if (!m) {
    free(v);
    return -1;
  }
  int rc = clip_tokenizer_load_mem(out, v, vl, m, ml, err, errlen);
  free(v);
  free(m);
  return rc;
}

void clip_tokenizer_free(clip_tokenizer *t) {
  if (!t) return;
  strmap_free(&t->vocab);
  strmap_free(&t->ranks);
  if (t->re) pcre2_code_free(t->re);
  if (t->loc) freelocale(t->loc);
  free(t);
}

int clip_tokenizer_vocab_size(const clip_tokenizer *t) { return t->vocab_size; }

/* ---- text cleaning --------------------------------------------------------------------------- */

/* Python's str.isspace: bidirectional class WS, B or S, or category Zs. */
static bool py_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

typedef struct {
  char *p;
  size_t n, cap;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 256;
    while (c < b->n + n + 1) c *= 2;
    char *np = realloc(b->p, c);
    if (!np) return -1;
    b->p = np, b->cap = c;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
  return 0;
}

/* One pass of the HTML unescaping vigil supports: &#N; &#xH; (valid scalar values
 * outside the C0/C1 controls), &amp; &lt; &gt; &quot; (also in capitals, as HTML5
 * has them) &apos; &nbsp;, and the legacy forms without ';' of amp, lt, gt, quot,
 * nbsp. Anything else stays as it is. */
static int html_unescape(sbuf *o, const char *s, size_t n) {
  static const struct {
    const char *name;
    uint32_t cp;
    bool legacy;
  } ents[] = {{"amp", '&', true},  {"lt", '<', true},  {"gt", '>', true},    {"quot", '"', true},
              {"AMP", '&', true},  {"LT", '<', true},  {"GT", '>', true},    {"QUOT", '"', true},
              {"apos", '\'', false}, {"nbsp", 0xA0, true}};
  size_t i = 0;
  while (i < n) {
    if (s[i] != '&') {
      const char *amp = memchr(s + i, '&', n - i);
      size_t e = amp ? (size_t)(amp - s) : n;
      if (sb_put(o, s + i, e - i)) return -1;
      i = e;
      continue;
    }
    bool done = false;
    if (i + 2 < n && s[i + 1] == '#') {
      bool hex = s[i + 2] == 'x' || s[i + 2] == 'X';
      size_t j = i + 2 + hex;
      uint32_t v = 0;
      size_t digits = 0;
      while (j < n && digits < 8) {
        int d = s[j] >= '0' && s[j] <= '9' ? s[j] - '0'
                : hex && s[j] >= 'a' && s[j] <= 'f' ? s[j] - 'a' + 10
                : hex && s[j] >= 'A' && s[j] <= 'F' ? s[j] - 'A' + 10 : -1;
        if (d < 0) break;
        v = v * (hex ? 16 : 10) + (uint32_t)d, j++, digits++;
      }
      if (digits && j < n && s[j] == ';' && v >= 0x20 && !(v >= 0x7F && v <= 0x9F) && v <= 0x10FFFF &&
          !(v >= 0xD800 && v <= 0xDFFF)) {
        char u[4];
        if (sb_put(o, u, (size_t)utf8_put(u, v))) return -1;
        i = j + 1;
        done = true;
      }
    } else {
      for (size_t k = 0; k < sizeof ents / sizeof ents[0] && !done; k++) {
        size_t l = strlen(ents[k].name);
        if (i + 1 + l > n || memcmp(s + i + 1, ents[k].name, l)) continue;
        bool semi = i + 1 + l < n && s[i + 1 + l] == ';';
        if (!semi && !ents[k].legacy) continue;
        char u[4];
        if (sb_put(o, u, (size_t)utf8_put(u, ents[k].cp))) return -1;
        i += 1 + l + semi;
        done = true;
      }
    }
    if (!done) {
      if (sb_put(o, "&", 1)) return -1;
      i++;
    }
  }
  return 0;
}

/* Unicode's case-ignorable characters that Python's final-sigma rule skips, for the
 * ones a text meets: apostrophes, full stop, colon, middle dot, soft hyphen, zero-width
 * characters and combining diacritics. */
static bool case_ignorable(uint32_t c) {
  return c == '\'' || c == '.' || c == ':' || c == 0xB7 || c == 0xAD || c == 0x2018 || c == 0x2019 ||
         (c >= 0x200B && c <= 0x200F) || (c >= 0x300 && c <= 0x36F);
}

/* whitespace collapsed and trimmed, lower-cased; input is valid UTF-8 */
static int clean(sbuf *o, const char *s, size_t n, locale_t loc) {
  size_t i = 0;
  bool pending_space = false, prev_letter = false;
  while (i < n) {
    uint32_t c;
    int l = utf8_get((const unsigned char *)s + i, n - i, &c);
    if (!l) return -1;
    i += (size_t)l;
    if (py_space(c)) {
      pending_space = o->n > 0;
      prev_letter = false;
      continue;
    }
    if (pending_space && sb_put(o, " ", 1)) return -1;
    pending_space = false;
    char u[8];
    int ul;
    if (c == 0x130) { /* the one full-case-mapping letter CLIP meets: "i" + combining dot */
      ul = utf8_put(u, 'i');
      ul += utf8_put(u + ul, 0x307);
    } else if (c == 0x3A3) { /* capital sigma ends a word as final sigma, as Python's lower() does */
      uint32_t next = 0;
      size_t j = i;
      int l2;
      while (j < n && (l2 = utf8_get((const unsigned char *)s + j, n - j, &next)) && case_ignorable(next)) j += (size_t)l2;
      bool next_letter = j < n && utf8_get((const unsigned char *)s + j, n - j, &next) && iswalpha_l((wint_t)next, loc);
      ul = utf8_put(u, prev_letter && !next_letter ? 0x3C2 : 0x3C3);
    } else {
      ul = utf8_put(u, (uint32_t)towlower_l((wint_t)c, loc));
    }
    if (sb_put(o, u, (size_t)ul)) return -1;
    if (!case_ignorable(c)) prev_letter = iswalpha_l((wint_t)c, loc);
  }
  return 0;
}

/* ---- BPE ---------------------------------------------------------------------------------------- */

/* Merges the symbols of one piece (sym[i] = start offsets into buf, len[i]) and
 * appends their ids to ids[*n] (up to cap). Symbols are spans of `buf`. */
static int bpe_piece(const clip_tokenizer *t, const char *piece, size_t plen, int32_t *ids, int *n, int cap) {
  /* symbols as owned strings */
  size_t ns = 0;
  char **sym = malloc(sizeof *sym * (plen + 1));
  if (!sym) return -1;
  int rc = -1;
  for (size_t i = 0; i < plen; i++) {
    const char *b = t->byte_sym[(uint8_t)piece[i]];
    bool last = i + 1 == plen;
    size_t bl = strlen(b);
    sym[ns] = malloc(bl + (last ? 4 : 0) + 1);
    if (!sym[ns]) goto out;
    memcpy(sym[ns], b, bl);
    if (last) memcpy(sym[ns] + bl, "</w>", 4), bl += 4;
    sym[ns++][bl] = 0;
  }
  char key[2048];
  for (;;) {
    int best = -1;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
      size_t a = strlen(sym[i]), b = strlen(sym[i + 1]);
      if (a + b + 2 > sizeof key) continue; /* cannot be a merge of this vocabulary */
      memcpy(key, sym[i], a);
      key[a] = ' ';
      memcpy(key + a + 1, sym[i + 1], b);
      int r = strmap_get(&t->ranks, key, a + b + 1);
      if (r >= 0 && (best < 0 || r < best)) best = r, bi = i;
    }
    if (best < 0) break;
    /* merge every occurrence of the pair (first, second), left to right */
    char *first = sym[bi], *second = sym[bi + 1];
    size_t fl = strlen(first), sl = strlen(second), w = 0;
    char *f = strdup(first), *sd = strdup(second);
    if (!f || !sd) {
      free(f), free(sd);
      goto out;
    }
    for (size_t i = 0; i < ns;) {
      if (i + 1 < ns && !strcmp(sym[i], f) && !strcmp(sym[i + 1], sd)) {
        char *m = malloc(fl + sl + 1);
        if (!m) {
          free(f), free(sd);
          ns = w + (ns - i); /* keep what is still owned freeable */
          goto out;
        }
        memcpy(m, sym[i], fl);
        memcpy(m + fl, sym[i + 1], sl + 1);
        free(sym[i]), free(sym[i + 1]);
        sym[w++] = m;
        i += 2;
      } else {
        sym[w++] = sym[i++];
      }
    }
    ns = w;
    free(f), free(sd);
  }
  for (size_t i = 0; i < ns && *n < cap; i++) {
    int id = strmap_get(&t->vocab, sym[i], strlen(sym[i]));
    if (id >= 0) ids[(*n)++] = id; /* a symbol outside the vocabulary is dropped */
  }
  rc = 0;
out:
  for (size_t i = 0; i < ns; i++) free(sym[i]);
  free(sym);
  return rc;
}

int clip_tokenize(const clip_tokenizer *t, int32_t *ids, int ctx, int *n_real, const char *text, size_t len,
                  char *err, size_t errlen) {
  if (ctx < 2) return fail(err, errlen, "clip tokenizer: context of %d tokens", ctx);
  if (len > CLIP_MAX_TEXT) len = CLIP_MAX_TEXT;
  /* a cut in the middle of a character at the cap is not the caller's error */
  while (len && len == CLIP_MAX_TEXT && ((unsigned char)text[len - 1] & 0xC0) == 0x80) len--;
  if (len == CLIP_MAX_TEXT && len && (unsigned char)text[len - 1] >= 0xC0) len--;
  for (size_t i = 0; i < len;) {
    uint32_t c;
    int l = utf8_get((const unsigned char *)text + i, len - i, &c);
    if (!l) return fail(err, errlen, "text is not valid UTF-8 (byte %zu)", i);
    i += (size_t)l;
  }
  sbuf a = {0}, b = {0}, c = {0};
  int rc = -1;
  if (html_unescape(&a, text, len) || sb_put(&a, "", 0) || html_unescape(&b, a.p, a.n) || sb_put(&b, "", 0) ||
      clean(&c, b.p, b.n, t->loc) || sb_put(&c, "", 0)) {
    fail(err, errlen, "clip tokenizer: out of memory");
    goto out;
  }
  int n = 0;
  ids[n++] = t->sot;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->re, NULL);
  if (!md) {
    fail(err, errlen, "clip tokenizer: out of memory");
    goto out;
  }
  PCRE2_SIZE off = 0;
  while (off < c.n && n < ctx - 1) {
    int m = pcre2_match(t->re, (PCRE2_SPTR)c.p, c.n, off, 0, md, NULL);
    if (m < 0) break;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[1] == ov[0]) { /* the pattern never matches empty; guard anyway */
      off = ov[1] + 1;
      continue;
    }
    const char *piece = c.p + ov[0];
    size_t pl = ov[1] - ov[0];
    if (pl == 15 && !memcmp(piece, "<|startoftext|>", 15)) ids[n++] = t->sot;
    else if (pl == 13 && !memcmp(piece, "<|endoftext|>", 13)) ids[n++] = t->eot;
    else if (bpe_piece(t, piece, pl, ids, &n, ctx - 1)) {
      pcre2_match_data_free(md);
      fail(err, errlen, "clip tokenizer: out of memory");
      goto out;
    }
    off = ov[1];
  }
  pcre2_match_data_free(md);
  ids[n++] = t->eot;
  if (n_real) *n_real = n;
  for (int i = n; i < ctx; i++) ids[i] = 0;
  rc = 0;
out:
  free(a.p), free(b.p), free(c.p);
  return rc;
}
