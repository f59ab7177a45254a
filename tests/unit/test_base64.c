/* Base64: RFC 4648 test vectors, both alphabets, whitespace, strict errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/base64.h"

static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static int dec(const char *s, char *out, size_t cap, size_t *n) {
  return vigil_b64_decode((uint8_t *)out, cap, n, s, strlen(s), NULL, 0);
}

static void rfc4648_vectors(void **state) {
  for (int i = 0; i < 7; i++) {
    char enc[32], out[32];
    size_t n;
    assert_int_equal(vigil_b64_encode(enc, (const uint8_t *)plain[i], strlen(plain[i]), 0), strlen(coded[i]));
    assert_string_equal(enc, coded[i]);
    assert_int_equal(vigil_b64_encoded_len(strlen(plain[i])), strlen(coded[i]));
    assert_int_equal(dec(coded[i], out, sizeof out, &n), 0);
    assert_int_equal(n, strlen(plain[i]));
    assert_memory_equal(out, plain[i], n);
    /* padding is optional */
    char unpadded[32];
    strcpy(unpadded, coded[i]);
    char *eq = strchr(unpadded, '=');
    if (eq) *eq = '\0';
    assert_int_equal(dec(unpadded, out, sizeof out, &n), 0);
    assert_int_equal(n, strlen(plain[i]));
    assert_memory_equal(out, plain[i], n);
  }
}

static void urlsafe_and_whitespace(void **state) {
  const uint8_t bytes[] = {0xfb, 0xff, 0xbf, 0xfe};
  char enc[16], out[16];
  size_t n;
  vigil_b64_encode(enc, bytes, 4, 0);
  assert_string_equal(enc, "+/+//g==");
  vigil_b64_encode(enc, bytes, 4, 1);
  assert_string_equal(enc, "-_-__g");
  assert_int_equal(dec("-_-__g", out, sizeof out, &n), 0);
  assert_int_equal(n, 4);
  assert_memory_equal(out, bytes, 4);
  assert_int_equal(dec(" +/+/\r\n/g =\t=\n", out, sizeof out, &n), 0);
  assert_int_equal(n, 4);
  assert_memory_equal(out, bytes, 4);
}

static void bad_input(void **state) {
  static const char *bad[] = {
      "Zg=",      /* incomplete padding */
      "Z",        /* a lone final character */
      "Zm9v!",    /* outside the alphabet */
      "Zh==",     /* non-zero trailing bits */
      "Zg==Zg==", /* data after padding */
      "Zg===",    /* too much padding */
      "=Zg=",     /* misplaced padding */
      "+-AA",     /* mixed alphabets */
      "Zm9v\x80", /* high byte */
      "Zm9\0v",   /* NUL inside (length counts it) */
  };
  size_t lens[] = {3, 1, 5, 4, 8, 5, 4, 4, 5, 5};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char out[16], err[128] = "";
    size_t n = 99;
    int rc = vigil_b64_decode((uint8_t *)out, sizeof out, &n, bad[i], lens[i], err, sizeof err);
    assert_int_equal(rc, VIGIL_B64_EINVAL);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err, "invalid base64"));
  }
}

static void output_limits(void **state) {
  char out[4];
  size_t n;
  assert_int_equal(dec("Zm9vYmFy", out, sizeof out, &n), VIGIL_B64_ESPACE);
  uint8_t *buf = NULL;
  assert_int_equal(vigil_b64_decode_alloc(&buf, &n, "Zm9vYmFy", 8, 5, NULL, 0), VIGIL_B64_ESPACE);
  assert_null(buf);
  /* whitespace does not count against the limit */
  assert_int_equal(vigil_b64_decode_alloc(&buf, &n, "Zm9v          YmFy  \n\n\n\n", 24, 6, NULL, 0), 0);
  assert_int_equal(n, 6);
  assert_memory_equal(buf, "foobar", 6);
  free(buf);
}

static void round_trip_random(void **state) {
  uint32_t seed = 12345;
  for (int len = 0; len < 300; len++) {
    uint8_t in[300], out[310];
    char enc[410];
    for (int i = 0; i < len; i++) {
      seed = seed * 1664525u + 1013904223u;
      in[i] = (uint8_t)(seed >> 24);
    }
    for (int url = 0; url < 2; url++) {
      vigil_b64_encode(enc, in, (size_t)len, url);
      size_t n;
      assert_int_equal(vigil_b64_decode(out, sizeof out, &n, enc, strlen(enc), NULL, 0), 0);
      assert_int_equal(n, len);
      assert_memory_equal(out, in, (size_t)len);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc4648_vectors), cmocka_unit_test(urlsafe_and_whitespace), cmocka_unit_test(bad_input),
      cmocka_unit_test(output_limits),   cmocka_unit_test(round_trip_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
