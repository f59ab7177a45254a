/* Base64 (RFC 4648): standard and URL-safe alphabets, whitespace tolerant
 * decoding with strict errors. Pure functions; thread-safe. */
#ifndef VIGIL_UTIL_BASE64_H
#define VIGIL_UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>

enum {
  VIGIL_B64_OK = 0,
  VIGIL_B64_EINVAL = -1, /* a character outside the alphabet, bad padding, bad length */
  VIGIL_B64_ESPACE = -2, /* output buffer too small */
  VIGIL_B64_ENOMEM = -3,
};

/* Bytes needed to decode `len` characters (an upper bound). */
size_t vigil_b64_decoded_max(size_t len);
/* Characters needed to encode `len` bytes, without the terminating NUL. */
size_t vigil_b64_encoded_len(size_t len);

/* Decodes `src` into `dst` (capacity `cap`), writing the length to *out_len.
 * Both alphabets are accepted ('+' '/' and '-' '_', but not mixed); ASCII
 * whitespace is skipped anywhere; padding is optional, but if present it must
 * be correct and last; leftover bits must be zero. On error *out_len is 0 and
 * `err` (may be NULL) gets a message naming the offset. */
int vigil_b64_decode(uint8_t *dst, size_t cap, size_t *out_len, const char *src, size_t len,
                     char *err, size_t errlen);

/* Like vigil_b64_decode into a fresh malloc'ed buffer (caller frees). Refuses
 * output larger than `max_out` bytes (0 = no limit) with VIGIL_B64_ESPACE
 * before allocating. */
int vigil_b64_decode_alloc(uint8_t **out, size_t *out_len, const char *src, size_t len,
                           size_t max_out, char *err, size_t errlen);

/* Encodes with the standard alphabet and padding; `dst` needs
 * vigil_b64_encoded_len(len) + 1 bytes (NUL-terminated). `urlsafe` selects
 * '-' '_' and no padding. Returns the number of characters written. */
size_t vigil_b64_encode(char *dst, const uint8_t *src, size_t len, int urlsafe);

#endif
