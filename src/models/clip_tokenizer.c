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

#include "models/bpe.h"
#include "util/sbuf.h"
#include "vigil/clip.h"
#include "vigil/status.h"

/* ---- the tokenizer ---------------------------------------------------------------------------- */

struct clip_tokenizer {
  bpe_vocab v;
  int sot, eot;
  pcre2_code *re;
  locale_t loc;
};

static const char *PATTERN =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^\\s\\p{L}\\p{N}]+";

/* The tokenizer around a loaded vocabulary, which it takes over (freed on
 * failure too): CLIP's special ids, the pre-tokenizer pattern, a UTF-8 locale. */
static int tokenizer_new(clip_tokenizer **out, bpe_vocab *v, char *err, size_t errlen) {
  clip_tokenizer *t = calloc(1, sizeof *t);
  if (!t) {
    bpe_vocab_free(v);
    return vigil_err(err, errlen, -1, "clip tokenizer: out of memory");
  }
  t->v = *v;
  t->sot = bpe_id(&t->v, "<|startoftext|>");
  t->eot = bpe_id(&t->v, "<|endoftext|>");
  int ec;
  PCRE2_SIZE eo;
  if (t->sot < 0 || t->eot < 0) {
    vigil_err(err, errlen, -1, "clip tokenizer: vocab.json lacks <|startoftext|> or <|endoftext|>");
  } else if (!(t->re = pcre2_compile((PCRE2_SPTR)PATTERN, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS,
                                     &ec, &eo, NULL))) {
    vigil_err(err, errlen, -1, "clip tokenizer: the pattern does not compile");
  } else if ((t->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0)) == (locale_t)0) {
    vigil_err(err, errlen, -1, "clip tokenizer: no C.UTF-8 locale");
  } else {
    *out = t;
    return 0;
  }
  clip_tokenizer_free(t);
  return -1;
}

int clip_tokenizer_load_mem(clip_tokenizer **out, const char *vocab_json, size_t vocab_len, const char *merges,
                            size_t merges_len, char *err, size_t errlen) {
  *out = NULL;
  bpe_vocab v;
  char e[256];
  if (bpe_vocab_load_mem(&v, vocab_json, vocab_len, merges, merges_len, e, sizeof e))
    return vigil_err(err, errlen, -1, "clip tokenizer: %s", e);
  return tokenizer_new(out, &v, err, errlen);
}

int clip_tokenizer_load(clip_tokenizer **out, const char *vocab_path, const char *merges_path, char *err,
                        size_t errlen) {
  *out = NULL;
  bpe_vocab v;
  char e[256];
  if (bpe_vocab_load(&v, vocab_path, merges_path, e, sizeof e)) return vigil_err(err, errlen, -1, "clip tokenizer: %s", e);
  return tokenizer_new(out, &v, err, errlen);
}

void clip_tokenizer_free(clip_tokenizer *t) {
  if (!t) return;
  bpe_vocab_free(&t->v);
  if (t->re) pcre2_code_free(t->re);
  if (t->loc) freelocale(t->loc);
  free(t);
}

int clip_tokenizer_vocab_size(const clip_tokenizer *t) { return t->v.vocab_size; }

/* ---- text cleaning --------------------------------------------------------------------------- */

/* Python's str.isspace: bidirectional class WS, B or S, or category Zs. */
static bool py_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Appends to a util/sbuf.h string; -1 when out of memory. */
static int sb_put(sbuf *b, const char *s, size_t n) {
  sbuf_addn(b, s, n);
  return b->oom || b->full ? -1 : 0;
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
        if (sb_put(o, u, (size_t)bpe_utf8_put(u, v))) return -1;
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
        if (sb_put(o, u, (size_t)bpe_utf8_put(u, ents[k].cp))) return -1;
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
    int l = bpe_utf8_get((const unsigned char *)s + i, n - i, &c);
    if (!l) return -1;
    i += (size_t)l;
    if (py_space(c)) {
      pending_space = o->len > 0;
      prev_letter = false;
      continue;
    }
    if (pending_space && sb_put(o, " ", 1)) return -1;
    pending_space = false;
    char u[8];
    int ul;
    if (c == 0x130) { /* the one full-case-mapping letter CLIP meets: "i" + combining dot */
      ul = bpe_utf8_put(u, 'i');
      ul += bpe_utf8_put(u + ul, 0x307);
    } else if (c == 0x3A3) { /* capital sigma ends a word as final sigma, as Python's lower() does */
      uint32_t next = 0;
      size_t j = i;
      int l2;
      while (j < n && (l2 = bpe_utf8_get((const unsigned char *)s + j, n - j, &next)) && case_ignorable(next)) j += (size_t)l2;
      bool next_letter = j < n && bpe_utf8_get((const unsigned char *)s + j, n - j, &next) && iswalpha_l((wint_t)next, loc);
      ul = bpe_utf8_put(u, prev_letter && !next_letter ? 0x3C2 : 0x3C3);
    } else {
      ul = bpe_utf8_put(u, (uint32_t)towlower_l((wint_t)c, loc));
    }
    if (sb_put(o, u, (size_t)ul)) return -1;
    if (!case_ignorable(c)) prev_letter = iswalpha_l((wint_t)c, loc);
  }
  return 0;
}

int clip_tokenize(const clip_tokenizer *t, int32_t *ids, int ctx, int *n_real, const char *text, size_t len,
                  char *err, size_t errlen) {
  if (ctx < 2) return vigil_err(err, errlen, -1, "clip tokenizer: context of %d tokens", ctx);
  if (len > CLIP_MAX_TEXT) len = CLIP_MAX_TEXT;
  /* a cut in the middle of a character at the cap is not the caller's error */
  while (len && len == CLIP_MAX_TEXT && ((unsigned char)text[len - 1] & 0xC0) == 0x80) len--;
  if (len == CLIP_MAX_TEXT && len && (unsigned char)text[len - 1] >= 0xC0) len--;
  for (size_t i = 0; i < len;) {
    uint32_t c;
    int l = bpe_utf8_get((const unsigned char *)text + i, len - i, &c);
    if (!l) return vigil_err(err, errlen, -1, "text is not valid UTF-8 (byte %zu)", i);
    i += (size_t)l;
  }
  sbuf a, b, c;
  sbuf_init(&a, 0), sbuf_init(&b, 0), sbuf_init(&c, 0);
  int rc = -1;
  if (html_unescape(&a, text, len) || sb_put(&a, "", 0) || html_unescape(&b, a.s, a.len) || sb_put(&b, "", 0) ||
      clean(&c, b.s, b.len, t->loc) || sb_put(&c, "", 0)) {
    vigil_err(err, errlen, -1, "clip tokenizer: out of memory");
    goto out;
  }
  int n = 0;
  ids[n++] = t->sot;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->re, NULL);
  if (!md) {
    vigil_err(err, errlen, -1, "clip tokenizer: out of memory");
    goto out;
  }
  PCRE2_SIZE off = 0;
  while (off < c.len && n < ctx - 1) {
    int m = pcre2_match(t->re, (PCRE2_SPTR)c.s, c.len, off, 0, md, NULL);
    if (m < 0) break;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[1] == ov[0]) { /* the pattern never matches empty; guard anyway */
      off = ov[1] + 1;
      continue;
    }
    const char *piece = c.s + ov[0];
    size_t pl = ov[1] - ov[0];
    if (pl == 15 && !memcmp(piece, "<|startoftext|>", 15)) ids[n++] = t->sot;
    else if (pl == 13 && !memcmp(piece, "<|endoftext|>", 13)) ids[n++] = t->eot;
    else if (bpe_encode_piece(&t->v, piece, pl, "</w>", ids, &n, ctx - 1)) {
      pcre2_match_data_free(md);
      vigil_err(err, errlen, -1, "clip tokenizer: out of memory");
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
  sbuf_free(&a), sbuf_free(&b), sbuf_free(&c);
  return rc;
}
