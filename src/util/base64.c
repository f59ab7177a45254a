/* Base64 decoding (standard and URL-safe, whitespace tolerant, strict) and encoding. */
#include "util/base64.h"

#include <stdio.h>
#include <stdlib.h>

#include "vigil/status.h"

static const char enc_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char enc_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* b64_value(): 0..63 for digits, else one of these. */
enum { B_PAD = 64, B_WS = 65, B_BAD = 66 };

static int b64_value(unsigned char c, int *alphabet) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '/') {
    if (*alphabet == 2) return B_BAD;
    *alphabet = 1;
    return c == '+' ? 62 : 63;
  }
  if (c == '-' || c == '_') {
    if (*alphabet == 1) return B_BAD;
    *alphabet = 2;
    return c == '-' ? 62 : 63;
  }
  if (c == '=') return B_PAD;
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') return B_WS;
  return B_BAD;
}

size_t vigil_b64_decoded_max(size_t len) { return len / 4 * 3 + 3; }

size_t vigil_b64_encoded_len(size_t len) { return (len + 2) / 3 * 4; }

/* Every decoding error reads the same: what is wrong, and where. */
#define B64_ERR(err, errlen, msg, off) \
  vigil_err(err, errlen, VIGIL_B64_EINVAL, "invalid base64: %s at offset %zu", msg, off)

int vigil_b64_decode(uint8_t *dst, size_t cap, size_t *out_len, const char *src, size_t len,
                     char *err, size_t errlen) {
  uint32_t acc = 0;
  int nacc = 0, npad = 0, alphabet = 0;
  size_t o = 0;
  *out_len = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64_value((unsigned char)src[i], &alphabet);
    if (v == B_WS) continue;
    if (v == B_BAD) {
      B64_ERR(err, errlen, alphabet && (src[i] == '+' || src[i] == '/' || src[i] == '-' || src[i] == '_')
                               ? "mixed standard and url-safe alphabets"
                               : "character outside the alphabet",
              i);
      return VIGIL_B64_EINVAL;
    }
    if (v == B_PAD) {
      /* '=' may only follow 2 or 3 digits of a quantum, and only up to its end. */
      if (nacc + npad < 2) {
        B64_ERR(err, errlen, "misplaced padding", i);
        return VIGIL_B64_EINVAL;
      }
      npad++;
      if (nacc + npad > 4) {
        B64_ERR(err, errlen, "too much padding", i);
        return VIGIL_B64_EINVAL;
      }
      continue;
    }
    if (npad) {
      B64_ERR(err, errlen, "data after padding", i);
      return VIGIL_B64_EINVAL;
    }
    acc = acc << 6 | (uint32_t)v;
    if (++nacc == 4) {
      if (o + 3 > cap) {
        B64_ERR(err, errlen, "output buffer too small", i);
        return VIGIL_B64_ESPACE;
      }
      dst[o++] = (uint8_t)(acc >> 16);
      dst[o++] = (uint8_t)(acc >> 8);
      dst[o++] = (uint8_t)acc;
      acc = 0;
      nacc = 0;
    }
  }
  if (npad && nacc + npad != 4) {
    B64_ERR(err, errlen, "incomplete padding", len);
    return VIGIL_B64_EINVAL;
  }
  if (nacc == 1) {
    B64_ERR(err, errlen, "truncated input (a lone final character)", len);
    return VIGIL_B64_EINVAL;
  }
  if (nacc) {
    int nbytes = nacc - 1; /* 2 digits -> 1 byte, 3 digits -> 2 bytes */
    int spare = nacc * 6 - nbytes * 8;
    if (acc & ((1u << spare) - 1)) {
      B64_ERR(err, errlen, "non-zero trailing bits", len);
      return VIGIL_B64_EINVAL;
    }
    acc >>= spare;
    if (o + (size_t)nbytes > cap) {
      B64_ERR(err, errlen, "output buffer too small", len);
      return VIGIL_B64_ESPACE;
    }
    if (nbytes == 2) dst[o++] = (uint8_t)(acc >> 8);
    dst[o++] = (uint8_t)acc;
  }
  *out_len = o;
  return VIGIL_B64_OK;
}

int vigil_b64_decode_alloc(uint8_t **out, size_t *out_len, const char *src, size_t len,
                           size_t max_out, char *err, size_t errlen) {
  *out = NULL;
  *out_len = 0;
  size_t cap = vigil_b64_decoded_max(len);
  if (max_out && cap > max_out) {
    /* The bound counts whitespace; count the real digits before refusing. */
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char)src[i];
      int alphabet = 0;
      int v = b64_value(c, &alphabet);
      if (v < 64) digits++;
    }
    if (digits / 4 * 3 + (digits % 4 ? digits % 4 - 1 : 0) > max_out) {
      vigil_err(err, errlen, -1, "decoded data is larger than %zu bytes", max_out);
      return VIGIL_B64_ESPACE;
    }
  }
  uint8_t *buf = malloc(cap ? cap : 1);
  if (!buf) {
    vigil_err(err, errlen, -1, "out of memory");
    return VIGIL_B64_ENOMEM;
  }
  int rc = vigil_b64_decode(buf, cap, out_len, src, len, err, errlen);
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  return 0;
}

size_t vigil_b64_encode(char *dst, const uint8_t *src, size_t len, int urlsafe) {
  const char *e = urlsafe ? enc_url : enc_std;
  size_t o = 0, i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
    dst[o++] = e[v >> 18];
    dst[o++] = e[(v >> 12) & 63];
    dst[o++] = e[(v >> 6) & 63];
    dst[o++] = e[v & 63];
  }
  if (i < len) {
    uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < len ? (uint32_t)src[i + 1] << 8 : 0);
    dst[o++] = e[v >> 18];
    dst[o++] = e[(v >> 12) & 63];
    if (i + 1 < len) dst[o++] = e[(v >> 6) & 63];
    else if (!urlsafe) dst[o++] = '=';
    if (!urlsafe) dst[o++] = '=';
  }
  dst[o] = '\0';
  return o;
}
