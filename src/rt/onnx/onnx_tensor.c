/* ONNX TensorProto: dims, dtype and data from raw_data, the typed repeated
 * fields or an external file; raw_data is borrowed from a mapping when its
 * alignment allows. Also vrt__onnx_parse_tensor for the node tests' .pb files. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loaders.h"
#include "onnx.h"

enum {
  T_DIMS = 1, T_DATA_TYPE = 2, T_SEGMENT = 3, T_FLOAT = 4, T_INT32 = 5, T_STRING = 6, T_INT64 = 7,
  T_NAME = 8, T_RAW = 9, T_DOUBLE = 10, T_UINT64 = 11, T_EXTERNAL = 13, T_LOCATION = 14
};

char *onnx_strndup(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = 0;
  return s;
}

vrt_dtype onnx_dtype(int64_t t) {
  if (t <= 0 || t > 16) return VRT_UNDEFINED;
  return vrt_dtype_size((vrt_dtype)t) ? (vrt_dtype)t : VRT_UNDEFINED;
}

void onnx_tensor_clear(onnx_tensor *t) {
  if (!t) return;
  free(t->name);
  if (!t->borrowed) free(t->data);
  memset(t, 0, sizeof *t);
}

/* Typed repeated field that holds the values of a dtype, and its wire type. */
static void typed_field(vrt_dtype dt, uint32_t *num, int *wire) {
  switch (dt) {
    case VRT_F32: *num = T_FLOAT, *wire = PB_FIXED32; break;
    case VRT_I64: *num = T_INT64, *wire = PB_VARINT; break;
    case VRT_F64: *num = T_DOUBLE, *wire = PB_FIXED64; break;
    case VRT_U32: case VRT_U64: *num = T_UINT64, *wire = PB_VARINT; break;
    default: *num = T_INT32, *wire = PB_VARINT; break; /* ints <= 32 bits, bool, f16, bf16 */
  }
}

static int fill_typed(const pb_reader *msg, vrt_dtype dt, int64_t numel, void *dst, const char *tname) {
  uint32_t num;
  int wire;
  typed_field(dt, &num, &wire);
  size_t es = vrt_dtype_size(dt);
  pb_iter it;
  pb_iter_init(&it, msg, num, wire);
  uint64_t v;
  int rc;
  for (int64_t i = 0; i < numel; i++) {
    if ((rc = pb_iter_next(&it, &v)) <= 0)
      return rc < 0 ? rc : vrt__err(VRT_EPARSE, "tensor '%s': fewer values than its shape needs", tname);
    uint8_t *d = (uint8_t *)dst + (size_t)i * es;
    switch (es) {
      case 1: *d = dt == VRT_BOOL ? v != 0 : (uint8_t)v; break;
      case 2: { uint16_t x = (uint16_t)v; memcpy(d, &x, 2); break; }
      case 4: { uint32_t x = (uint32_t)v; memcpy(d, &x, 4); break; }
      default: memcpy(d, &v, 8); break;
    }
  }
  return 0;
}

/* Bump allocation (64-byte aligned) from the copy arena, sized like the
 * whole input once: copies of raw_data can never need more. The address
 * space is reserved up front; pages are prefaulted in 1 MiB steps as the
 * arena fills (one call instead of a fault per page), so a model whose
 * weights are mostly aligned costs no more than its copies. NULL when the
 * arena is full or cannot be mapped; the caller then mallocs. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static void *arena_alloc(onnx_ctx *c, size_t n) {
  if (!c->arena && !c->arena_failed) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = ((size_t)(c->root.end - c->root.p) + 65536 + page - 1) / page * page;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      c->arena_failed = true;
      return NULL;
    }
    c->arena = p;
    c->arena_len = len;
  }
  size_t at = (c->arena_used + 63) & ~(size_t)63;
  if (!c->arena || at > c->arena_len || n > c->arena_len - at) return NULL;
  c->arena_used = at + n;
  if (c->arena_used > c->arena_populated) {
    size_t step = (size_t)1 << 20, end = (c->arena_used + step - 1) / step * step;
    if (end > c->arena_len) end = c->arena_len;
    /* best effort: older kernels fault the pages in on first write instead */
    (void)madvise(c->arena + c->arena_populated, end - c->arena_populated, MADV_POPULATE_WRITE);
    c->arena_populated = end;
  }
  return c->arena + at;
}

static bool path_escapes(const char *p) {
  if (p[0] == '/' || strchr(p, '\\')) return true;
  for (const char *s = p;;) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 2 && s[0] == '.' && s[1] == '.') return true;
    if (!e) return false;
    s = e + 1;
  }
}

/* The mapping of external data file path (under ctx->base_dir), made once
 * per file. The file's real path must stay inside the model's real folder,
 * so a symlink cannot lead the loader elsewhere either. */
static int ext_map(onnx_ctx *c, const char *path, const char *tname, onnx_ext **out) {
  for (int i = 0; i < c->next; i++)
    if (strcmp(c->ext[i].path, path) == 0) return *out = &c->ext[i], 0;
  if (c->next == ONNX_MAX_EXT)
    return vrt__err(VRT_ELIMIT, "tensor '%s': more than %d external data files", tname, ONNX_MAX_EXT);
  char *real = realpath(path, NULL), *dir = realpath(c->base_dir, NULL);
  size_t dl = dir ? strlen(dir) : 0;
  bool inside = real && dir && strncmp(real, dir, dl) == 0 && (real[dl] == '/' || (dl == 1 && dir[0] == '/'));
  free(dir);
  free(real);
  if (!inside)
    return vrt__err(real ? VRT_EINVAL : VRT_EIO, "tensor '%s': external data '%s' %s", tname, path,
                    real ? "resolves outside the model's folder" : "cannot be found");
  int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = vrt__err(VRT_EIO, "tensor '%s': cannot open external data '%s': %s", tname, path,
                  fd < 0 ? strerror(errno) : "not a regular file");
    if (fd >= 0) close(fd);
    return rc;
  }
  onnx_ext x = {.path = strdup(path), .len = (size_t)st.st_size};
  if (x.len) x.addr = mmap(NULL, x.len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (!x.path || x.addr == MAP_FAILED) {
    rc = x.path ? vrt__err(VRT_EIO, "tensor '%s': cannot map '%s': %s", tname, path, strerror(errno))
                : vrt__err(VRT_ENOMEM, "out of memory");
    free(x.path);
    return rc;
  }
  c->ext[c->next] = x;
  *out = &c->ext[c->next++];
  return 0;
}

/* Reads (or, when aligned and the graph may keep mappings, borrows) the
 * external data of a tensor. */
static int read_external(onnx_ctx *ctx, const pb_reader *msg, const char *tname, vrt_dtype dt, size_t nbytes,
                         void **out, bool *borrowed, const void **file_src) {
  if (!ctx || !ctx->base_dir)
    return vrt__err(VRT_EUNSUPPORTED, "tensor '%s': external data needs the model's file path (loaded from memory)",
                    tname);
  char *loc = NULL;
  int64_t offset = 0, length = -1;
  pb_reader r = *msg;
  pb_field f;
  int rc;
  while ((rc = pb_next(&r, &f)) > 0) {
    if (f.num != T_EXTERNAL || f.wire != PB_LEN) continue;
    pb_reader e = pb_sub(msg, f.data, f.len);
    pb_field kf;
    const uint8_t *k = NULL, *v = NULL;
    size_t kn = 0, vn = 0;
    while ((rc = pb_next(&e, &kf)) > 0) {
      if (kf.wire != PB_LEN) continue;
      if (kf.num == 1) k = kf.data, kn = kf.len;
      if (kf.num == 2) v = kf.data, vn = kf.len;
    }
    if (rc < 0) break;
    if (!k) continue;
    char vbuf[32];
    if (kn == 8 && memcmp(k, "location", 8) == 0) {
      free(loc);
      if (!(loc = onnx_strndup(v, vn))) { rc = vrt__err(VRT_ENOMEM, "out of memory"); break; }
      if (strlen(loc) != vn) { rc = vrt__err(VRT_EPARSE, "tensor '%s': external location has a NUL byte", tname); break; }
    } else if ((kn == 6 && memcmp(k, "offset", 6) == 0) || (kn == 6 && memcmp(k, "length", 6) == 0)) {
      if (vn == 0 || vn >= sizeof vbuf) { rc = vrt__err(VRT_EPARSE, "tensor '%s': bad external %.*s", tname, (int)kn, k); break; }
      memcpy(vbuf, v, vn);
      vbuf[vn] = 0;
      char *end;
      errno = 0;
      long long x = strtoll(vbuf, &end, 10);
      if (*end || errno || x < 0) { rc = vrt__err(VRT_EPARSE, "tensor '%s': bad external %.*s '%s'", tname, (int)kn, k, vbuf); break; }
      if (k[0] == 'o') offset = x; else length = x;
    }
  }
  if (rc < 0) {
    free(loc);
    return rc;
  }
  if (!loc || !loc[0]) {
    free(loc);
    return vrt__err(VRT_EPARSE, "tensor '%s': external data without a location", tname);
  }
  /* The file must lie under base_dir: no absolute paths, no '..' component. */
  bool bad = path_escapes(loc);
  if (bad) {
    rc = vrt__err(VRT_EINVAL, "tensor '%s': external location '%s' leaves the model's folder", tname, loc);
    free(loc);
    return rc;
  }
  if (length >= 0 && (uint64_t)length != nbytes) {
    rc = vrt__err(VRT_EPARSE, "tensor '%s': external length %lld, shape needs %zu bytes", tname, (long long)length,
                  nbytes);
    free(loc);
    return rc;
  }
  size_t plen = strlen(ctx->base_dir) + strlen(loc) + 2;
  char *path = malloc(plen);
  if (!path) {
    free(loc);
    return vrt__err(VRT_ENOMEM, "out of memory");
  }
  snprintf(path, plen, "%s/%s", ctx->base_dir, loc);
  free(loc);
  onnx_ext *x = NULL;
  rc = ext_map(ctx, path, tname, &x);
  free(path);
  if (rc) return rc;
  if ((uint64_t)offset > x->len || nbytes > x->len - (uint64_t)offset)
    return vrt__err(VRT_EPARSE, "tensor '%s': external data '%s' is %zu bytes, needs %zu at offset %lld", tname,
                    x->path, x->len, nbytes, (long long)offset);
  const uint8_t *src = x->addr + offset;
  size_t es = vrt_dtype_size(dt);
  if (ctx->can_borrow && nbytes && ((uintptr_t)src % es) == 0) {
    *out = (void *)src;
    *borrowed = x->used = true;
    *file_src = src;
    return 0;
  }
  void *buf = ctx->can_borrow && nbytes ? arena_alloc(ctx, nbytes) : NULL;
  *borrowed = buf != NULL;
  if (!buf && !(buf = malloc(nbytes ? nbytes : 1))) return vrt__err(VRT_ENOMEM, "out of memory");
  if (nbytes) memcpy(buf, src, nbytes);
  if (*borrowed) { /* an arena copy: keep the file to read it again, its pages need not stay */
    x->used = true;
    *file_src = src;
    vrt__drop_pages(src, nbytes);
  }
  *out = buf;
  return 0;
}

int onnx_tensor_parse(onnx_ctx *ctx, const pb_reader *msg, const char *what, onnx_tensor *out) {
  onnx_tensor t = {0};
  int64_t data_type = 0, location = 0;
  const uint8_t *raw = NULL, *name = NULL;
  size_t raw_len = 0, name_len = 0;
  bool has_raw = false, has_name = false;
  pb_reader r = *msg;
  pb_field f;
  int rc;
  while ((rc = pb_next(&r, &f)) > 0) {
    switch (f.num) {
      case T_DATA_TYPE: data_type = (int64_t)f.v; break;
      case T_NAME: if (f.wire == PB_LEN) name = f.data, name_len = f.len, has_name = true; break;
      case T_RAW: if (f.wire == PB_LEN) raw = f.data, raw_len = f.len, has_raw = true; break;
      case T_LOCATION: location = (int64_t)f.v; break;
      case T_SEGMENT: return vrt__err(VRT_EUNSUPPORTED, "%s: segmented tensors are not supported", what);
      default: break;
    }
  }
  if (rc < 0) return rc;
  t.name = has_name ? onnx_strndup(name, name_len) : strdup("");
  if (!t.name) return vrt__err(VRT_ENOMEM, "out of memory");
  const char *tname = t.name[0] ? t.name : what;

  size_t ndims;
  if ((rc = pb_count(msg, T_DIMS, PB_VARINT, &ndims))) goto fail;
  if (ndims > VRT_MAX_DIMS) {
    rc = vrt__err(VRT_ELIMIT, "tensor '%s': %zu dims (max %d)", tname, ndims, VRT_MAX_DIMS);
    goto fail;
  }
  pb_iter it;
  pb_iter_init(&it, msg, T_DIMS, PB_VARINT);
  uint64_t v;
  for (t.ndim = 0; (rc = pb_iter_next(&it, &v)) > 0; t.ndim++) {
    if ((int64_t)v < 0) {
      rc = vrt__err(VRT_EPARSE, "tensor '%s': negative dimension %lld", tname, (long long)(int64_t)v);
      goto fail;
    }
    t.dims[t.ndim] = (int64_t)v;
  }
  if (rc < 0) goto fail;

  t.dtype = onnx_dtype(data_type);
  if (t.dtype == VRT_UNDEFINED) {
    rc = vrt__err(VRT_EUNSUPPORTED, "tensor '%s': data type %lld%s is not supported", tname, (long long)data_type,
                  data_type == 8 ? " (string)" : "");
    goto fail;
  }
  int64_t numel = vrt__numel(t.dims, t.ndim);
  size_t es = vrt_dtype_size(t.dtype);
  if (numel < 0 || !vrt__mul_ok((size_t)numel, es, &t.nbytes) || t.nbytes > ((size_t)1 << 40)) {
    char b[128];
    rc = vrt__err(VRT_ELIMIT, "tensor '%s': shape %s is too large", tname, vrt__shape_str(t.dims, t.ndim, b, sizeof b));
    goto fail;
  }

  if (location == 1) {
    if ((rc = read_external(ctx, msg, tname, t.dtype, t.nbytes, &t.data, &t.borrowed, &t.src))) goto fail;
  } else if (has_raw) {
    if (raw_len != t.nbytes) {
      char b[128];
      rc = vrt__err(VRT_EPARSE, "tensor '%s': raw_data is %zu bytes, %s %s needs %zu", tname, raw_len,
                    vrt_dtype_name(t.dtype), vrt__shape_str(t.dims, t.ndim, b, sizeof b), t.nbytes);
      goto fail;
    }
    if (ctx && ctx->can_borrow && t.nbytes && ((uintptr_t)raw % es) == 0) {
      t.data = (void *)raw;
      t.src = raw;
      t.borrowed = true;
      ctx->borrowed = true;
    } else if (ctx && ctx->can_borrow && t.nbytes && (t.data = arena_alloc(ctx, t.nbytes))) {
      memcpy(t.data, raw, t.nbytes);
      /* the file stays mapped (to read the copy again after a backend packed
       * it) but these pages need not stay resident */
      t.src = raw;
      t.borrowed = true;
      ctx->borrowed = true;
      vrt__drop_pages(raw, t.nbytes);
    } else {
      if (!(t.data = malloc(t.nbytes ? t.nbytes : 1))) {
        rc = vrt__err(VRT_ENOMEM, "out of memory copying tensor '%s' (%zu bytes)", tname, t.nbytes);
        goto fail;
      }
      if (t.nbytes) memcpy(t.data, raw, t.nbytes);
    }
  } else {
    uint32_t num;
    int wire;
    size_t count;
    typed_field(t.dtype, &num, &wire);
    if ((rc = pb_count(msg, num, wire, &count))) goto fail;
    if (count != (size_t)numel) {
      char b[128];
      rc = vrt__err(VRT_EPARSE, "tensor '%s': %zu values for shape %s", tname, count,
                    vrt__shape_str(t.dims, t.ndim, b, sizeof b));
      goto fail;
    }
    if (!(t.data = malloc(t.nbytes ? t.nbytes : 1))) {
      rc = vrt__err(VRT_ENOMEM, "out of memory");
      goto fail;
    }
    if ((rc = fill_typed(msg, t.dtype, numel, t.data, tname))) goto fail;
  }
  *out = t;
  return 0;
fail:
  onnx_tensor_clear(&t);
  return rc < 0 ? rc : VRT_EPARSE;
}

/* SparseTensorProto: values [NNZ], indices [NNZ] (linear) or [NNZ, rank],
 * dims. Densified, but only while the dense form stays within a small
 * multiple of the message size: the allocation stays bounded by the input. */
int onnx_sparse_parse(onnx_ctx *ctx, const pb_reader *msg, const char *what, onnx_tensor *out) {
  const uint8_t *vp = NULL, *ip = NULL;
  size_t vn = 0, in_len = 0, ndims = 0;
  pb_reader r = *msg;
  pb_field f;
  int rc;
  while ((rc = pb_next(&r, &f)) > 0) {
    if (f.num == 1 && f.wire == PB_LEN) vp = f.data, vn = f.len;
    if (f.num == 2 && f.wire == PB_LEN) ip = f.data, in_len = f.len;
  }
  if (rc < 0) return rc;
  if (!vp || !ip) return vrt__err(VRT_EPARSE, "%s: sparse tensor without values or indices", what);
  if ((rc = pb_count(msg, 3, PB_VARINT, &ndims))) return rc;
  if (ndims > VRT_MAX_DIMS) return vrt__err(VRT_ELIMIT, "%s: sparse tensor with %zu dims", what, ndims);
  onnx_tensor d = {0}, v = {0}, ix = {0};
  pb_iter it;
  pb_iter_init(&it, msg, 3, PB_VARINT);
  uint64_t u;
  while ((rc = pb_iter_next(&it, &u)) > 0) {
    if ((int64_t)u < 0) return vrt__err(VRT_EPARSE, "%s: negative sparse dimension", what);
    d.dims[d.ndim++] = (int64_t)u;
  }
  if (rc < 0) return rc;
  bool save = ctx ? ctx->can_borrow : false;
  if (ctx) ctx->can_borrow = false;
  pb_reader vr = pb_sub(msg, vp, vn), ir = pb_sub(msg, ip, in_len);
  rc = onnx_tensor_parse(ctx, &vr, what, &v);
  if (!rc) rc = onnx_tensor_parse(ctx, &ir, what, &ix);
  if (ctx) ctx->can_borrow = save;
  if (rc) goto out;
  const char *name = v.name[0] ? v.name : what;
  int64_t nnz = v.ndim == 1 ? v.dims[0] : -1, numel = vrt__numel(d.dims, d.ndim);
  size_t es = vrt_dtype_size(v.dtype);
  if (nnz < 0 || ix.dtype != VRT_I64 || !(ix.ndim == 1 || (ix.ndim == 2 && ix.dims[1] == d.ndim)) ||
      ix.dims[0] != nnz) {
    rc = vrt__err(VRT_EPARSE, "sparse tensor '%s': values/indices shapes do not match", name);
    goto out;
  }
  if (numel < 0 || !vrt__mul_ok((size_t)numel, es, &d.nbytes) || d.nbytes > 16 * (size_t)(msg->end - msg->p) + 65536) {
    rc = vrt__err(VRT_ELIMIT, "sparse tensor '%s': the dense form is too large to load", name);
    goto out;
  }
  if (!(d.data = calloc(1, d.nbytes ? d.nbytes : 1)) || !(d.name = strdup(v.name))) {
    rc = vrt__err(VRT_ENOMEM, "out of memory");
    goto out;
  }
  d.dtype = v.dtype;
  const int64_t *idx = ix.data;
  for (int64_t k = 0; k < nnz; k++) {
    int64_t lin = 0;
    if (ix.ndim == 1) {
      lin = idx[k];
    } else {
      for (int a = 0; a < d.ndim; a++) {
        int64_t i = idx[k * d.ndim + a];
        if (i < 0 || i >= d.dims[a]) { lin = -1; break; }
        lin = lin * d.dims[a] + i;
      }
    }
    if (lin < 0 || lin >= numel) {
      rc = vrt__err(VRT_EPARSE, "sparse tensor '%s': index out of range", name);
      goto out;
    }
    memcpy((uint8_t *)d.data + (size_t)lin * es, (const uint8_t *)v.data + (size_t)k * es, es);
  }
  *out = d;
  memset(&d, 0, sizeof d);
out:
  onnx_tensor_clear(&d), onnx_tensor_clear(&v), onnx_tensor_clear(&ix);
  return rc;
}

int vrt__onnx_parse_tensor(const void *buf, size_t len, vrt_tensor *out) {
  if (!buf && len) return vrt__err(VRT_EINVAL, "onnx: NULL buffer");
  pb_reader r = {buf, (const uint8_t *)buf + len, buf};
  onnx_tensor t;
  int rc = onnx_tensor_parse(NULL, &r, "tensor", &t);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  out->name = t.name;
  out->dtype = t.dtype;
  out->ndim = t.ndim;
  memcpy(out->dims, t.dims, sizeof t.dims);
  out->data = t.data;
  out->nbytes = t.nbytes;
  return 0;
}
