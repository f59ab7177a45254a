/* Byte-level BPE, the part CLIP's and BART's (GPT-2's) tokenizers share: a vocabulary
 * (vocab.json) and ranked merges (merges.txt), the byte-to-unicode symbol table, the
 * rank-ordered merge of one pre-tokenized piece, and decoding ids back to UTF-8. The
 * pre-tokenizers and text clean-up differ per model and live with each model
 * (clip_tokenizer.c, florence_tokenizer.c). Immutable once loaded; thread-safe. */
#ifndef VIGIL_MODELS_BPE_H
#define VIGIL_MODELS_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  char **keys;
  int *vals;
  size_t cap, n;
} bpe_map;

typedef struct {
  bpe_map vocab, ranks; /* symbol -> id, "a b" -> merge rank */
  char **id_token;      /* id -> symbol (NULL for ids the vocabulary skips) */
  int vocab_size;       /* largest id + 1 */
  char byte_sym[256][3];/* UTF-8 of the symbol each byte stands for */
  int16_t sym_byte[0x144]; /* code point of a symbol -> its byte, or -1 */
} bpe_vocab;

int bpe_vocab_load_mem(bpe_vocab *v, const char *vocab_json, size_t vocab_len, const char *merges, size_t merges_len,
                       char *err, size_t errlen);
/* bpe_vocab_load_mem of the files a tokenizer export holds (vocab.json,
 * merges.txt), each at most 64 MiB. */
int bpe_vocab_load(bpe_vocab *v, const char *vocab_path, const char *merges_path, char *err, size_t errlen);
void bpe_vocab_free(bpe_vocab *v);
int bpe_id(const bpe_vocab *v, const char *token); /* -1 if absent */

/* Merges one piece's bytes (suffix appended to the last symbol: "</w>" for CLIP, ""
 * for GPT-2) and appends the ids of its symbols to ids[*n], up to cap; symbols the
 * vocabulary lacks are dropped. 0, or -1 out of memory. */
int bpe_encode_piece(const bpe_vocab *v, const char *piece, size_t len, const char *suffix, int32_t *ids, int *n,
                     int cap);

/* ids -> UTF-8 text: each id's symbol, with byte symbols turned back into bytes and
 * `suffix` (CLIP's "</w>") into a space; ids for which skip(id) is true are left out;
 * symbols that are not byte-level (added tokens such as "<loc_12>") are copied as
 * they are. Invalid UTF-8 in the result (a model may stop mid-character) becomes
 * U+FFFD. Returns a malloc'ed NUL-terminated string, or NULL out of memory. */
char *bpe_decode(const bpe_vocab *v, const int32_t *ids, int n, const char *suffix, bool (*skip)(void *, int32_t),
                 void *ud);

/* UTF-8 helpers shared by the tokenizers: one code point (0 for invalid UTF-8:
 * overlong, surrogate, out of range, truncated), and its encoding (1-4 bytes). */
int bpe_utf8_get(const unsigned char *s, size_t n, uint32_t *c);
int bpe_utf8_put(char *o, uint32_t c);

#endif
