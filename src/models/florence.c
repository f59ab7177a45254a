/* Florence-2 (see include/vigil/florence.h): task prompts, BART tokenizer, the
 * five-graph encoder-decoder run with a key/value cache under greedy or beam search,
 * and the answer's post-processing.
 *
 * One answer: the image (stretched to the vision encoder's S x S, x/255, ImageNet mean
 * and std) -> image features [1,N,D]; the task's question tokenized (<s> ... </s>) and
 * embedded -> [1,L,D]; both concatenated and encoded -> [1,N+L,D]. Decoding starts
 * from </s> with <s> forced first; step 0 runs decoder_model.onnx (no past), which also
 * returns the cross-attention keys/values of every layer; later steps run
 * decoder_with_past_model.onnx with the cache. Graph inputs are bound by name
 * (encoder_attention_mask, encoder_hidden_states, inputs_embeds, past_key_values.*,
 * use_cache_branch), outputs "present.X" become the next "past_key_values.X". Between
 * steps the cache rows follow the beams (generate.h's parent contract). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/bpe.h"
#include "models/generate.h"
#include "models/hub_common.h"
#include "vigil/florence.h"
#include "vigil/status.h"

/* ---- tasks ---------------------------------------------------------------------------------- */

static const struct {
  const char *prompt, *question;
} tasks[FLORENCE_NTASKS] = {
    [FLORENCE_CAPTION] = {"<CAPTION>", "What does the image describe?"},
    [FLORENCE_DETAILED_CAPTION] = {"<DETAILED_CAPTION>", "Describe in detail what is shown in the image."},
    [FLORENCE_MORE_DETAILED_CAPTION] = {"<MORE_DETAILED_CAPTION>", "Describe with a paragraph what is shown in the image."},
    [FLORENCE_OD] = {"<OD>", "Locate the objects with category name in the image."},
    [FLORENCE_DENSE_REGION_CAPTION] = {"<DENSE_REGION_CAPTION>", "Locate the objects in the image, with their descriptions."},
    [FLORENCE_REGION_PROPOSAL] = {"<REGION_PROPOSAL>", "Locate the region proposals in the image."},
    [FLORENCE_OCR] = {"<OCR>", "What is the text in the image?"},
    [FLORENCE_OCR_WITH_REGION] = {"<OCR_WITH_REGION>", "What is the text in the image, with regions?"},
};

int florence_task_parse(const char *prompt) {
  for (int i = 0; i < FLORENCE_NTASKS; i++)
    if (prompt && !strcmp(prompt, tasks[i].prompt)) return i;
  return -1;
}
const char *florence_task_prompt(florence_task t) { return (unsigned)t < FLORENCE_NTASKS ? tasks[t].prompt : ""; }
const char *florence_task_question(florence_task t) { return (unsigned)t < FLORENCE_NTASKS ? tasks[t].question : ""; }

/* ---- post-processing ------------------------------------------------------------------------ */

void florence_result_free(florence_result *r) {
  if (!r) return;
  free(r->text);
  free(r->boxes);
  free(r->regions);
  memset(r, 0, sizeof *r);
}

/* Reads "<loc_N>" at s; returns its length and the bin, 0 if there is none. */
static int loc_at(const char *s, int *bin) {
  if (strncmp(s, "<loc_", 5)) return 0;
  int v = 0, k = 5, d = 0;
  while (s[k] >= '0' && s[k] <= '9' && d < 4) v = v * 10 + (s[k++] - '0'), d++;
  if (!d || s[k] != '>' || v > 999) return 0;
  *bin = v;
  return k + 1;
}

static float dequant(int bin, int size) { return ((float)bin + 0.5f) * (float)size / 1000.0f; }

/* trims spaces and copies at most cap-1 bytes (not splitting a UTF-8 character) */
static void copy_label(char *dst, size_t cap, const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\n')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\n')) n--;
  if (n >= cap) {
    n = cap - 1;
    while (n && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  memmove(dst, s, n); /* the text is trimmed in place */
  dst[n] = 0;
}

int florence_parse(florence_result *out, florence_task t, const char *gen, int w, int h) {
  memset(out, 0, sizeof *out);
  out->task = t;
  size_t n = strlen(gen);
  /* the text: every <loc_N> removed (captions and OCR keep it as it is otherwise) */
  out->text = malloc(n + 1);
  if (!out->text) return -1;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    int bin, l = loc_at(gen + i, &bin);
    if (l) i += (size_t)l;
    else out->text[o++] = gen[i++];
  }
  out->text[o] = 0;
  copy_label(out->text, o + 1, out->text, o);
  bool region = t == FLORENCE_OCR_WITH_REGION;
  if (t != FLORENCE_OD && t != FLORENCE_DENSE_REGION_CAPTION && t != FLORENCE_REGION_PROPOSAL && !region) return 0;
  /* label (text up to the first <loc_>), then groups of 4 (boxes) or 8 (quads) locations;
   * a label may own several groups; an incomplete group is dropped */
  int per = region ? 8 : 4;
  if (region) out->regions = calloc(FLORENCE_MAX_ITEMS, sizeof *out->regions);
  else out->boxes = calloc(FLORENCE_MAX_ITEMS, sizeof *out->boxes);
  if (!out->regions && !out->boxes) return -1;
  size_t i = 0;
  while (i < n) {
    size_t ls = i;
    int bin;
    while (i < n && !loc_at(gen + i, &bin)) i++;
    size_t le = i;
    for (;;) {
      int bins[8], k = 0;
      size_t j = i;
      while (k < per) {
        int l = loc_at(gen + j, &bins[k]);
        if (!l) break;
        j += (size_t)l, k++;
      }
      if (k < per) {
        i = j; /* skip an incomplete group */
        break;
      }
      i = j;
      if (region && out->n_regions < FLORENCE_MAX_ITEMS) {
        florence_region *r = &out->regions[out->n_regions++];
        copy_label(r->text, sizeof r->text, gen + ls, le - ls);
        for (int q = 0; q < 8; q++) r->quad[q] = dequant(bins[q], q % 2 ? h : w);
      } else if (!region && out->n_boxes < FLORENCE_MAX_ITEMS) {
        florence_box *b = &out->boxes[out->n_boxes++];
        copy_label(b->label, sizeof b->label, gen + ls, le - ls);
        b->x1 = dequant(bins[0], w), b->y1 = dequant(bins[1], h);
        b->x2 = dequant(bins[2], w), b->y2 = dequant(bins[3], h);
      }
      if (!loc_at(gen + i, &bin)) break; /* next label */
    }
  }
  return 0;
}

/* ---- the model -------------------------------------------------------------------------------- */

#define FL_MAX_CACHE 256 /* past tensors: 4 per decoder layer */

struct florence_model {
  model_runner vision, embed, encoder, dec, dec_past;
  bpe_vocab v;
  pcre2_code *re;
  int32_t bos, pad, eos;
  int size; /* vision input side */
};

static const char *GPT2_PATTERN =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

florence_params florence_default_params(void) { return (florence_params){.num_beams = 3, .max_new_tokens = 1024}; }

int florence_load(florence_model **out, const char *dir, int threads, char *err, size_t errlen) {
  *out = NULL;
  florence_model *m = calloc(1, sizeof *m);
  if (!m) return vigil_err(err, errlen, -1, "out of memory");
  static const char *files[5] = {"vision_encoder.onnx", "embed_tokens.onnx", "encoder_model.onnx", "decoder_model.onnx",
                                 "decoder_with_past_model.onnx"};
  model_runner *r[5] = {&m->vision, &m->embed, &m->encoder, &m->dec, &m->dec_past};
  char path[4096], e[512];
  int rc = 0;
  for (int i = 0; i < 5 && !rc; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    if ((rc = runner_load(r[i], path, threads, e, sizeof e))) vigil_err(err, errlen, -1, "florence: %s: %s", files[i], e);
  }
  char merges[4096];
  snprintf(path, sizeof path, "%s/vocab.json", dir);
  snprintf(merges, sizeof merges, "%s/merges.txt", dir);
  if (!rc && bpe_vocab_load(&m->v, path, merges, e, sizeof e)) rc = vigil_err(err, errlen, -1, "florence: %s", e);
  if (!rc) {
    m->bos = bpe_id(&m->v, "<s>"), m->pad = bpe_id(&m->v, "<pad>"), m->eos = bpe_id(&m->v, "</s>");
    if (m->bos < 0 || m->eos < 0) rc = vigil_err(err, errlen, -1, "florence: vocab.json lacks <s> or </s>");
  }
  if (!rc) {
    int ec;
    PCRE2_SIZE eo;
    m->re = pcre2_compile((PCRE2_SPTR)GPT2_PATTERN, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (!m->re) rc = vigil_err(err, errlen, -1, "florence: the tokenizer pattern does not compile");
  }
  if (!rc) {
    const vrt_tensor *d = vrt_model_input(m->vision.m, 0);
    if (!d || d->ndim != 4 || d->dtype != VRT_F32 || (d->dims[1] > 0 && d->dims[1] != 3) || d->dims[2] > 2048 ||
        (d->dims[2] > 0 && d->dims[2] != d->dims[3]))
      rc = vigil_err(err, errlen, -1, "florence: vision_encoder.onnx must take pixel_values [1,3,S,S] float32");
    else
      m->size = d->dims[2] > 0 ? (int)d->dims[2] : 768;
  }
  if (rc) {
    florence_free(m);
    return -1;
  }
  *out = m;
  return 0;
}

void florence_free(florence_model *m) {
  if (!m) return;
  runner_free(&m->vision), runner_free(&m->embed), runner_free(&m->encoder);
  runner_free(&m->dec), runner_free(&m->dec_past);
  bpe_vocab_free(&m->v);
  if (m->re) pcre2_code_free(m->re);
  free(m);
}

size_t florence_memory_bytes(const florence_model *m) {
  if (!m) return 0;
  return runner_memory_bytes(&m->vision) + runner_memory_bytes(&m->embed) + runner_memory_bytes(&m->encoder) +
         runner_memory_bytes(&m->dec) + runner_memory_bytes(&m->dec_past);
}

/* <s> + the question's tokens + </s>; *n ids in a malloc'ed array */
static int32_t *tokenize(const florence_model *m, const char *text, int *n) {
  size_t len = strlen(text);
  int cap = (int)len + 2;
  int32_t *ids = malloc(sizeof *ids * (size_t)cap);
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(m->re, NULL);
  if (!ids || !md) {
    free(ids);
    if (md) pcre2_match_data_free(md);
    return NULL;
  }
  int k = 0;
  ids[k++] = m->bos;
  PCRE2_SIZE off = 0;
  while (off < len) {
    int rc = pcre2_match(m->re, (PCRE2_SPTR)text, len, off, 0, md, NULL);
    if (rc < 0) break;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[1] == ov[0]) break;
    if (bpe_encode_piece(&m->v, text + ov[0], ov[1] - ov[0], "", ids, &k, cap - 1)) {
      free(ids);
      pcre2_match_data_free(md);
      return NULL;
    }
    off = ov[1];
  }
  pcre2_match_data_free(md);
  ids[k++] = m->eos;
  *n = k;
  return ids;
}

int32_t *florence_question_ids(const florence_model *m, florence_task t, int *n) {
  if ((unsigned)t >= FLORENCE_NTASKS) return NULL;
  return tokenize(m, tasks[t].question, n);
}

int florence_image_size(const florence_model *m) { return m->size; }

void florence_special_ids(const florence_model *m, int32_t *bos, int32_t *eos) {
  *bos = m->bos;
  *eos = m->eos;
}

static const vrt_tensor *out_named(vrt_tensor *o, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (o[i].name && !strcmp(o[i].name, name)) return &o[i];
  return NULL;
}

/* The decoder loop's state: the encoder output and the cache, as owned tensors. */
typedef struct {
  const florence_model *m;
  float *enc;       /* [1,S,D] */
  int S, D, vocab;
  vrt_tensor cache[FL_MAX_CACHE]; /* name = "past_key_values.X", data owned */
  char *names[FL_MAX_CACHE];
  int ncache;
  int rows; /* batch rows the cache holds */
} fl_state;

static void state_free(fl_state *s) {
  free(s->enc);
  for (int i = 0; i < s->ncache; i++) free(s->cache[i].data), free(s->names[i]);
}

/* cache rows follow the beams: row i <- old row parent[i] */
static int reorder(fl_state *s, const int *parent, int n) {
  for (int c = 0; c < s->ncache; c++) {
    vrt_tensor *t = &s->cache[c];
    size_t row = t->nbytes / (size_t)s->rows;
    size_t want = row * (size_t)n;
    char *nd = malloc(want ? want : 1);
    if (!nd) return -1;
    for (int i = 0; i < n; i++) memcpy(nd + row * (size_t)i, (char *)t->data + row * (size_t)parent[i], row);
    free(t->data);
    t->data = nd;
    t->dims[0] = n;
    t->nbytes = row * (size_t)n;
  }
  s->rows = n;
  return 0;
}

static int keep_present(fl_state *s, vrt_tensor *o, int no, int first, char *err, size_t errlen) {
  for (int i = 0; i < no; i++) {
    if (!o[i].name || strncmp(o[i].name, "present.", 8)) continue;
    char name[256];
    snprintf(name, sizeof name, "past_key_values.%s", o[i].name + 8);
    int c = 0;
    while (c < s->ncache && strcmp(s->names[c], name)) c++;
    if (c == s->ncache) {
      if (!first) continue; /* a with-past graph that repeats the encoder cache: keep the first */
      if (s->ncache == FL_MAX_CACHE) return vigil_err(err, errlen, -1, "florence: more than %d cache tensors", FL_MAX_CACHE);
      if (!(s->names[c] = strdup(name))) return vigil_err(err, errlen, -1, "out of memory");
      s->ncache++;
    } else if (strstr(name, ".encoder.")) {
      continue; /* cross-attention keys/values are computed once */
    } else {
      free(s->cache[c].data);
    }
    s->cache[c] = o[i];
    s->cache[c].name = s->names[c];
    o[i].data = NULL; /* now owned by the cache */
  }
  return 0;
}

static int fl_step(void *ud, int t, const int32_t *tokens, const int *parent, int n, float *logits, char *err,
                   size_t errlen) {
  fl_state *s = ud;
  const florence_model *m = s->m;
  if (t > 0 && reorder(s, parent, n)) return vigil_err(err, errlen, -1, "out of memory");
  /* embed the beams' last tokens: [n,1] -> [n,1,D] */
  int64_t ids[64];
  for (int i = 0; i < n; i++) ids[i] = tokens[i];
  const vrt_tensor *ed = vrt_model_input(m->embed.m, 0);
  vrt_tensor ein = {.name = ed->name, .dtype = VRT_I64, .ndim = 2, .dims = {n, 1}, .data = ids,
                    .nbytes = sizeof(int64_t) * (size_t)n};
  vrt_tensor *eo;
  int neo;
  if (hub_run((model_runner *)&m->embed, "florence-embed", &ein, 1, &eo, &neo, err, errlen)) return -1;
  int rc = -1;
  float *encb = NULL;
  int64_t *mask = NULL;
  vrt_tensor in[FL_MAX_CACHE + 4];
  vrt_tensor *o = NULL;
  int no = 0;
  if (eo[0].dtype != VRT_F32 || eo[0].ndim != 3 || eo[0].dims[0] != n || eo[0].dims[2] != s->D) {
    vigil_err(err, errlen, -1, "florence: embed_tokens.onnx must output inputs_embeds [N,1,%d]", s->D);
    goto out;
  }
  model_runner *r = (model_runner *)(t == 0 ? &m->dec : &m->dec_past);
  size_t encn = (size_t)s->S * (size_t)s->D;
  encb = malloc(sizeof(float) * encn * (size_t)n);
  mask = malloc(sizeof(int64_t) * (size_t)s->S * (size_t)n);
  if (!encb || !mask) {
    vigil_err(err, errlen, -1, "out of memory");
    goto out;
  }
  for (int i = 0; i < n; i++) memcpy(encb + encn * (size_t)i, s->enc, sizeof(float) * encn);
  for (size_t i = 0; i < (size_t)s->S * (size_t)n; i++) mask[i] = 1;
  static const bool yes = true;
  int nin = vrt_model_num_inputs(r->m);
  if (nin > FL_MAX_CACHE + 4) {
    vigil_err(err, errlen, -1, "florence: the decoder has %d inputs", nin);
    goto out;
  }
  for (int i = 0; i < nin; i++) {
    const vrt_tensor *d = vrt_model_input(r->m, i);
    vrt_tensor *x = &in[i];
    memset(x, 0, sizeof *x);
    x->name = d->name;
    if (!strcmp(d->name, "encoder_attention_mask")) {
      *x = (vrt_tensor){.name = d->name, .dtype = VRT_I64, .ndim = 2, .dims = {n, s->S}, .data = mask,
                        .nbytes = sizeof(int64_t) * (size_t)s->S * (size_t)n};
    } else if (!strcmp(d->name, "encoder_hidden_states")) {
      *x = (vrt_tensor){.name = d->name, .dtype = VRT_F32, .ndim = 3, .dims = {n, s->S, s->D}, .data = encb,
                        .nbytes = sizeof(float) * encn * (size_t)n};
    } else if (!strcmp(d->name, "inputs_embeds")) {
      *x = eo[0];
      x->name = d->name;
    } else if (!strcmp(d->name, "use_cache_branch")) {
      *x = (vrt_tensor){.name = d->name, .dtype = VRT_BOOL, .ndim = 1, .dims = {1}, .data = (void *)&yes, .nbytes = 1};
    } else {
      int c = 0;
      while (c < s->ncache && strcmp(s->names[c], d->name)) c++;
      if (c == s->ncache) {
        vigil_err(err, errlen, -1, "florence: the decoder's input '%s' is not one vigil knows", d->name);
        goto out;
      }
      *x = s->cache[c];
    }
  }
  if (hub_run(r, t == 0 ? "florence-decoder" : "florence-decoder-past", in, nin, &o, &no, err, errlen)) goto out;
  const vrt_tensor *lg = out_named(o, no, "logits");
  if (!lg || lg->dtype != VRT_F32 || lg->ndim != 3 || lg->dims[0] != n || lg->dims[2] != s->vocab) {
    vigil_err(err, errlen, -1, "florence: the decoder must output logits [N,T,%d]", s->vocab);
    goto out;
  }
  int64_t T = lg->dims[1];
  for (int i = 0; i < n; i++)
    memcpy(logits + (size_t)i * s->vocab, (const float *)lg->data + ((size_t)i * T + (size_t)(T - 1)) * s->vocab,
           sizeof(float) * (size_t)s->vocab);
  if (keep_present(s, o, no, t == 0, err, errlen)) goto out;
  s->rows = n;
  rc = 0;
out:
  if (o) runner_outputs_free(o, no);
  runner_outputs_free(eo, neo);
  free(encb), free(mask);
  return rc;
}

static bool skip_special(void *ud, int32_t id) {
  const florence_model *m = ud;
  return id == m->bos || id == m->eos || id == m->pad;
}

int florence_run(const florence_model *cm, florence_result *out, florence_task task, const vigil_image *im,
                 florence_params p, char *err, size_t errlen) {
  florence_model *m = (florence_model *)cm;
  memset(out, 0, sizeof *out);
  if ((unsigned)task >= FLORENCE_NTASKS) return vigil_err(err, errlen, -1, "florence: unknown task");
  if (!im || im->c != 3) return vigil_err(err, errlen, -1, "florence: expected an RGB image");
  if (p.num_beams < 1 || p.num_beams > 8) return vigil_err(err, errlen, -1, "florence: num_beams must be 1..8");
  int S = m->size;
  size_t npx = 3 * (size_t)S * (size_t)S;
  float *px = malloc(sizeof(float) * npx);
  if (!px) return vigil_err(err, errlen, -1, "out of memory");
  if (hub_box_to_nchw(px, im, 0, 0, (float)im->w, (float)im->h, S, S, hub_imagenet_mean, hub_imagenet_std)) {
    free(px);
    return vigil_err(err, errlen, -1, "florence: the image is empty");
  }
  const vrt_tensor *vd = vrt_model_input(m->vision.m, 0);
  vrt_tensor vin = {.name = vd->name, .dtype = VRT_F32, .ndim = 4, .dims = {1, 3, S, S}, .data = px,
                    .nbytes = sizeof(float) * npx};
  vrt_tensor *vo = NULL, *qo = NULL, *xo = NULL;
  int nvo = 0, nqo = 0, nxo = 0, nq = 0, rc = -1;
  int32_t *q = NULL;
  int64_t *q64 = NULL, *amask = NULL;
  float *cat = NULL;
  fl_state st = {.m = m};
  gen_result g = {0};
  if (hub_run(&m->vision, "florence-vision", &vin, 1, &vo, &nvo, err, errlen)) goto out;
  if (vo[0].dtype != VRT_F32 || vo[0].ndim != 3 || vo[0].dims[0] != 1) {
    vigil_err(err, errlen, -1, "florence: vision_encoder.onnx must output image_features [1,N,D]");
    goto out;
  }
  int N = (int)vo[0].dims[1], D = (int)vo[0].dims[2];
  if (!(q = tokenize(m, tasks[task].question, &nq)) || !(q64 = malloc(sizeof *q64 * (size_t)nq))) {
    vigil_err(err, errlen, -1, "out of memory");
    goto out;
  }
  for (int i = 0; i < nq; i++) q64[i] = q[i];
  const vrt_tensor *ed = vrt_model_input(m->embed.m, 0);
  vrt_tensor qin = {.name = ed->name, .dtype = VRT_I64, .ndim = 2, .dims = {1, nq}, .data = q64,
                    .nbytes = sizeof *q64 * (size_t)nq};
  if (hub_run(&m->embed, "florence-embed", &qin, 1, &qo, &nqo, err, errlen)) goto out;
  if (qo[0].dtype != VRT_F32 || qo[0].ndim != 3 || qo[0].dims[1] != nq || qo[0].dims[2] != D) {
    vigil_err(err, errlen, -1, "florence: embed_tokens.onnx must output inputs_embeds [1,L,%d]", D);
    goto out;
  }
  int L = N + nq;
  cat = malloc(sizeof(float) * (size_t)L * (size_t)D);
  amask = malloc(sizeof(int64_t) * (size_t)L);
  if (!cat || !amask) {
    vigil_err(err, errlen, -1, "out of memory");
    goto out;
  }
  memcpy(cat, vo[0].data, sizeof(float) * (size_t)N * (size_t)D);
  memcpy(cat + (size_t)N * D, qo[0].data, sizeof(float) * (size_t)nq * (size_t)D);
  for (int i = 0; i < L; i++) amask[i] = 1;
  int ne = vrt_model_num_inputs(m->encoder.m);
  vrt_tensor xin[2];
  for (int i = 0; i < ne && i < 2; i++) {
    const vrt_tensor *d = vrt_model_input(m->encoder.m, i);
    if (!strcmp(d->name, "attention_mask"))
      xin[i] = (vrt_tensor){.name = d->name, .dtype = VRT_I64, .ndim = 2, .dims = {1, L}, .data = amask,
                            .nbytes = sizeof(int64_t) * (size_t)L};
    else
      xin[i] = (vrt_tensor){.name = d->name, .dtype = VRT_F32, .ndim = 3, .dims = {1, L, D}, .data = cat,
                            .nbytes = sizeof(float) * (size_t)L * (size_t)D};
  }
  if (ne < 1 || ne > 2 || hub_run(&m->encoder, "florence-encoder", xin, ne, &xo, &nxo, err, errlen)) {
    if (ne < 1 || ne > 2) vigil_err(err, errlen, -1, "florence: encoder_model.onnx must take inputs_embeds (+ attention_mask)");
    goto out;
  }
  if (xo[0].dtype != VRT_F32 || xo[0].ndim != 3 || xo[0].dims[1] != L || xo[0].dims[2] != D) {
    vigil_err(err, errlen, -1, "florence: encoder_model.onnx must output last_hidden_state [1,%d,%d]", L, D);
    goto out;
  }
  st.enc = xo[0].data, xo[0].data = NULL;
  st.S = L, st.D = D, st.rows = 1;
  const vrt_tensor *lo = NULL;
  for (int i = 0; i < vrt_model_num_outputs(m->dec.m); i++)
    if (!strcmp(vrt_model_output(m->dec.m, i)->name, "logits")) lo = vrt_model_output(m->dec.m, i);
  st.vocab = lo && lo->ndim == 3 && lo->dims[2] > 0 ? (int)lo->dims[2] : m->v.vocab_size;
  gen_params gp = gen_default_params();
  gp.num_beams = p.num_beams;
  gp.max_new_tokens = p.max_new_tokens;
  gp.decoder_start_id = m->eos, gp.forced_bos_id = m->bos, gp.eos_id = m->eos;
  if (gen_run(&g, gp, st.vocab, fl_step, &st, err, errlen)) goto out;
  char *text = bpe_decode(&m->v, g.tokens, g.n, "", skip_special, m);
  if (!text || florence_parse(out, task, text, im->w, im->h)) {
    free(text);
    vigil_err(err, errlen, -1, "out of memory");
    goto out;
  }
  free(text);
  out->n_tokens = g.n;
  out->truncated = !g.finished;
  rc = 0;
out:
  if (rc) florence_result_free(out);
  gen_result_free(&g);
  state_free(&st);
  if (vo) runner_outputs_free(vo, nvo);
  if (qo) runner_outputs_free(qo, nqo);
  if (xo) runner_outputs_free(xo, nxo);
  free(px), free(q), free(q64), free(cat), free(amask);
  return rc;
}
