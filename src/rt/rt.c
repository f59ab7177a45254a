/* Runtime basics: status strings, the thread-local error message, checked
 * arithmetic, dtype tables and fp16/bf16 conversion. */
#include "rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static _Thread_local char vrt__errbuf[512];

const char *vrt_strerror(int status) {
  switch (status) {
#define VRT_X_(name, code, msg) \
  case code:                    \
    return msg;
    VRT_STATUS_MAP(VRT_X_)
#undef VRT_X_
  }
  return "unknown status";
}

const char *vrt_last_error(void) { return vrt__errbuf; }

void vrt__err_clear(void) { vrt__errbuf[0] = 0; }

int vrt__err(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(vrt__errbuf, sizeof vrt__errbuf, fmt, ap);
  va_end(ap);
  return code;
}

bool vrt__mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
bool vrt__add_ok(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }

const char *vrt_dtype_name(vrt_dtype t) {
  switch (t) {
    case VRT_F32: return "float32";
    case VRT_U8: return "uint8";
    case VRT_I8: return "int8";
    case VRT_U16: return "uint16";
    case VRT_I16: return "int16";
    case VRT_I32: return "int32";
    case VRT_I64: return "int64";
    case VRT_STRING: return "string";
    case VRT_BOOL: return "bool";
    case VRT_F16: return "float16";
    case VRT_F64: return "float64";
    case VRT_U32: return "uint32";
    case VRT_U64: return "uint64";
    case VRT_BF16: return "bfloat16";
    default: return "undefined";
  }
}

size_t vrt_dtype_size(vrt_dtype t) {
  switch (t) {
    case VRT_U8: case VRT_I8: case VRT_BOOL: return 1;
    case VRT_U16: case VRT_I16: case VRT_F16: case VRT_BF16: return 2;
    case VRT_F32: case VRT_I32: case VRT_U32: return 4;
    case VRT_I64: case VRT_F64: case VRT_U64: return 8;
    default: return 0;
  }
}

int64_t vrt__numel(const int64_t *dims, int ndim) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (dims[i] < 0) return -1;
    if (__builtin_mul_overflow(n, dims[i], &n)) return -1;
  }
  return n;
}

int64_t vrt_tensor_numel(const vrt_tensor *t) { return vrt__numel(t->dims, t->ndim); }

bool vrt__tensor_bytes(const vrt_tensor *t, size_t *out) {
  int64_t n = vrt__numel(t->dims, t->ndim);
  size_t es = vrt_dtype_size(t->dtype);
  if (n < 0 || es == 0) return false;
  return vrt__mul_ok((size_t)n, es, out);
}

bool vrt__same_shape(const vrt_tensor *a, const vrt_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

void vrt__strides(const int64_t *dims, int ndim, int64_t *strides) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i];
  }
}

int vrt__broadcast_shape(const int64_t *a, int na, const int64_t *b, int nb, int64_t *out, int *nout) {
  int n = na > nb ? na : nb;
  if (n > VRT_MAX_DIMS) return VRT_ELIMIT;
  for (int i = 0; i < n; i++) {
    int64_t da = i < n - na ? 1 : a[i - (n - na)];
    int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else return VRT_ESHAPE;
  }
  *nout = n;
  return 0;
}

int64_t vrt__get_i64(const vrt_tensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
    case VRT_F32: return (int64_t)((const float *)p)[i];
    case VRT_F64: return (int64_t)((const double *)p)[i];
    case VRT_F16: return (int64_t)vrt__f16_to_f32(((const uint16_t *)p)[i]);
    case VRT_BF16: return (int64_t)vrt__bf16_to_f32(((const uint16_t *)p)[i]);
    case VRT_U8: case VRT_BOOL: return ((const uint8_t *)p)[i];
    case VRT_I8: return ((const int8_t *)p)[i];
    case VRT_U16: return ((const uint16_t *)p)[i];
    case VRT_I16: return ((const int16_t *)p)[i];
    case VRT_I32: return ((const int32_t *)p)[i];
    case VRT_U32: return ((const uint32_t *)p)[i];
    case VRT_I64: return ((const int64_t *)p)[i];
    case VRT_U64: return (int64_t)((const uint64_t *)p)[i];
    default: return 0;
  }
}

double vrt__get_f64(const vrt_tensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
    case VRT_F32: return ((const float *)p)[i];
    case VRT_F64: return ((const double *)p)[i];
    case VRT_F16: return vrt__f16_to_f32(((const uint16_t *)p)[i]);
    case VRT_BF16: return vrt__bf16_to_f32(((const uint16_t *)p)[i]);
    case VRT_U64: return (double)((const uint64_t *)p)[i];
    default: return (double)vrt__get_i64(t, i);
  }
}

/* Type-pun between a float and its IEEE-754 bits (memcpy is the defined way). */
static inline float f32_from_bits(uint32_t bits) {
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static inline uint32_t f32_to_bits(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  return x;
}

float vrt__f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: renormalise */
      int e = -1;
      do {
        e++;
        man <<= 1;
      } while (!(man & 0x400));
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  return f32_from_bits(bits);
}

uint16_t vrt__f32_to_f16(float f) {
  uint32_t x = f32_to_bits(f);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t man = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    man |= 0x800000;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t half = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)exp << 10) | (man >> 13);
  uint32_t rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
  return (uint16_t)half;
}

float vrt__bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

uint16_t vrt__f32_to_bf16(float f) {
  uint32_t x = f32_to_bits(f);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

const char *vrt__shape_str(const int64_t *dims, int ndim, char *buf, size_t len) {
  size_t o = 0;
  if (ndim < 0) {
    snprintf(buf, len, "[?]");
    return buf;
  }
  o += (size_t)snprintf(buf + o, len - o, "[");
  for (int i = 0; i < ndim && o < len; i++)
    o += (size_t)snprintf(buf + o, len - o, i ? ",%lld" : "%lld", (long long)dims[i]);
  if (o < len) snprintf(buf + o, len - o, "]");
  return buf;
}

void *vrt__aligned_alloc(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? bytes : 64)) return NULL;
  return p;
}

void vrt__aligned_free(void *p) { free(p); }

void vrt__trim_heap(void) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}
