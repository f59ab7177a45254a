/* HTML report writer: events kept in memory as they arrive, written as one
 * self-contained page (inline CSS, snapshots and each object's best-sighting
 * crop as data: URIs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/base64.h"
#include "util/file.h"
#include "vigil/report.h"
#include "vigil/status.h"

typedef struct {
  long long id;
  char camera[VIGIL_ID_LEN];
  int score;
  char level[16];
  char scorer[8];
  bool fast_path;
  double start, end;
  char *summary, *reasoning;
  char *jpeg_b64; /* NULL when there is no snapshot */
  char counts[256];
  char zones[256];
  vigil_scene scene; /* caption and CLIP anomaly, when the scene stage ran */
  char rules[VIGIL_MAX_RULES * VIGIL_RULE_LEN]; /* ids of the rules that fired, ", "-separated */
#define REPORT_MAX_OBJECTS 16 /* object crops shown per event */
  int nobj;
  char *obj_b64[REPORT_MAX_OBJECTS];
  char obj_label[REPORT_MAX_OBJECTS][96];
} report_item;

struct report {
  char title[256];
  report_item *items;
  int n, cap;
};

report *report_new(const char *title) {
  report *r = calloc(1, sizeof *r);
  if (r) snprintf(r->title, sizeof r->title, "%s", title ? title : "vigil report");
  return r;
}

void report_free(report *r) {
  if (!r) return;
  for (int i = 0; i < r->n; i++) {
    free(r->items[i].summary);
    free(r->items[i].reasoning);
    free(r->items[i].jpeg_b64);
    for (int k = 0; k < r->items[i].nobj; k++) free(r->items[i].obj_b64[k]);
  }
  free(r->items);
  free(r);
}

/* The snapshot as base64 (NULL when missing, empty or over 32 MB). */
static char *read_b64(const char *path) {
  char *buf, *out = NULL;
  size_t n;
  if (vigil_file_read(path, (size_t)32 << 20, &buf, &n, NULL, 0)) return NULL;
  if (n && (out = malloc(vigil_b64_encoded_len(n) + 1))) out[vigil_b64_encode(out, (const uint8_t *)buf, n, 0)] = 0;
  free(buf);
  return out;
}

int report_add(report *r, const vigil_event *ev, const vigil_batch *b) {
  if (r->n == r->cap) {
    int cap = r->cap ? r->cap * 2 : 16;
    report_item *ni = realloc(r->items, sizeof *ni * (size_t)cap);
    if (!ni) return -1;
    r->items = ni;
    r->cap = cap;
  }
  report_item *it = &r->items[r->n];
  memset(it, 0, sizeof *it);
  it->id = (long long)ev->id;
  snprintf(it->camera, sizeof it->camera, "%s", ev->camera_id);
  it->score = ev->risk_score;
  snprintf(it->level, sizeof it->level, "%s", ev->risk_level);
  snprintf(it->scorer, sizeof it->scorer, "%s", ev->scorer);
  it->fast_path = ev->fast_path;
  it->scene = ev->scene;
  it->start = ev->window_start;
  it->end = ev->window_end;
  it->summary = strdup(ev->summary ? ev->summary : "");
  it->reasoning = strdup(ev->reasoning ? ev->reasoning : "");
  for (int k = 0, o = 0; k < ev->n_rules && k < VIGIL_MAX_RULES && o < (int)sizeof it->rules - VIGIL_RULE_LEN - 3; k++)
    o += snprintf(it->rules + o, sizeof it->rules - (size_t)o, "%s%s", k ? ", " : "", ev->rules[k]);
  if (b && b->snapshot_path[0]) it->jpeg_b64 = read_b64(b->snapshot_path);
  for (size_t i = 0; b && i < b->n && it->nobj < REPORT_MAX_OBJECTS; i++) { /* each object's best sighting */
    const vigil_detection *d = &b->dets[i];
    char *img = d->snapshot_path[0] ? read_b64(d->snapshot_path) : NULL;
    if (!img) continue;
    it->obj_b64[it->nobj] = img;
    snprintf(it->obj_label[it->nobj++], sizeof it->obj_label[0], "%s %.2f, %.0f s%s", d->cls, d->confidence,
             d->last_seen > d->first_seen ? d->last_seen - d->first_seen : 0, d->stationary ? ", still" : "");
  }
  /* class counts: "person x12, car x3" */
  if (b) {
    const char *seen[32];
    int cnt[32], ns = 0;
    for (size_t i = 0; i < b->n; i++) {
      int k = 0;
      while (k < ns && strcmp(seen[k], b->dets[i].cls)) k++;
      if (k == ns && ns < 32) seen[ns] = b->dets[i].cls, cnt[ns++] = 0;
      if (k < ns) cnt[k]++;
    }
    size_t o = 0;
    for (int k = 0; k < ns && o < sizeof it->counts - 40; k++)
      o += (size_t)snprintf(it->counts + o, sizeof it->counts - o, "%s%s x%d", k ? ", " : "", seen[k], cnt[k]);
    o = 0;
    for (int z = 0; z < b->n_zones && o < sizeof it->zones - 60; z++)
      o += (size_t)snprintf(it->zones + o, sizeof it->zones - o, "%s%s", z ? ", " : "", b->zones[z]);
  }
  if (!it->summary || !it->reasoning) return -1;
  r->n++;
  return 0;
}

static void esc(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '&': fputs("&amp;", f); break;
      case '"': fputs("&quot;", f); break;
      default:
        /* no control characters (terminal escapes when the file is viewed with cat) */
        if (((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') || *s == 0x7f) fputc(' ', f);
        else fputc(*s, f);
    }
  }
}

static void fmt_time(char *buf, size_t len, double t) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

int report_write(const report *r, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    vigil_err(err, errlen, -1, "cannot write %s", path);
    return -1;
  }
  int counts[4] = {0};
  static const char *const levels[] = {"low", "medium", "high", "critical"};
  for (int i = 0; i < r->n; i++)
    for (int k = 0; k < 4; k++) counts[k] += !strcmp(r->items[i].level, levels[k]);
  fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", f);
  esc(f, r->title);
  fputs("</title>\n<style>\n"
        "body{font-family:system-ui,sans-serif;background:#111;color:#eee;margin:0;padding:24px}\n"
        "h1{font-weight:600;margin:0 0 4px}.sub{color:#aaa;margin-bottom:20px}\n"
        ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:18px}\n"
        ".card{background:#1c1c22;border-radius:10px;overflow:hidden;box-shadow:0 2px 8px #0008}\n"
        ".card img{width:100%;display:block;background:#000}\n"
        ".body{padding:12px 14px}.row{display:flex;gap:8px;align-items:center;flex-wrap:wrap}\n"
        ".badge{padding:2px 9px;border-radius:12px;font-weight:700;font-size:13px;text-transform:uppercase}\n"
        ".low{background:#2a9d8f}.medium{background:#e9c46a;color:#222}.high{background:#f4a261;color:#222}"
        ".critical{background:#e63946}\n"
        ".meta{color:#aaa;font-size:13px}.summary{margin:10px 0 6px;font-size:15px}\n"
        "pre{white-space:pre-wrap;font-size:12.5px;color:#ccc;background:#15151a;padding:8px;border-radius:6px}\n"
        ".none{padding:40px;text-align:center;color:#777}\n"
        ".objs{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}.obj{font-size:11px;color:#aaa;text-align:center}\n"
        ".obj img{height:96px;width:auto;display:block;border-radius:4px;background:#000}\n"
        "</style></head><body>\n<h1>", f);
  esc(f, r->title);
  fprintf(f, "</h1><div class=\"sub\">%d events &middot; %d critical &middot; %d high &middot; %d medium &middot; %d low</div>\n",
          r->n, counts[3], counts[2], counts[1], counts[0]);
  fputs("<div class=\"grid\">\n", f);
  for (int i = 0; i < r->n; i++) {
    const report_item *it = &r->items[i];
    char a[64], b[64];
    fmt_time(a, sizeof a, it->start);
    fmt_time(b, sizeof b, it->end);
    fputs("<div class=\"card\">", f);
    if (it->jpeg_b64) fprintf(f, "<img alt=\"snapshot of event %lld\" src=\"data:image/jpeg;base64,%s\">", it->id, it->jpeg_b64);
    else fputs("<div class=\"none\">no snapshot</div>", f);
    fprintf(f, "<div class=\"body\"><div class=\"row\"><span class=\"badge %s\">", it->level);
    esc(f, it->level);
    fprintf(f, " %d</span><span class=\"meta\">event %lld &middot; camera ", it->score, it->id);
    esc(f, it->camera);
    fprintf(f, " &middot; scored by %s%s</span></div>", it->scorer, it->fast_path ? " &middot; fast path" : "");
    fprintf(f, "<div class=\"meta\">%s &ndash; %s</div>", a, b);
    if (it->counts[0]) {
      fputs("<div class=\"meta\">", f);
      esc(f, it->counts);
      if (it->zones[0]) {
        fputs(" &middot; zones: ", f);
        esc(f, it->zones);
      }
      fputs("</div>", f);
    }
    if (it->scene.has_caption && it->scene.caption[0]) {
      fputs("<div class=\"meta\">caption: ", f);
      esc(f, it->scene.caption);
      fputs("</div>", f);
    }
    if (it->scene.has_anomaly)
      fprintf(f, "<div class=\"meta\">scene anomaly %.2f (%s, baseline of %lld views)</div>", it->scene.anomaly_score,
              !it->scene.baseline_warm ? "baseline still learning" : it->scene.is_anomaly ? "unusual" : "usual",
              (long long)it->scene.baseline_samples);
    if (it->rules[0]) {
      fputs("<div class=\"meta rules\">rules fired: ", f);
      esc(f, it->rules);
      fputs("</div>", f);
    }
    if (it->nobj) {
      fputs("<div class=\"objs\">", f);
      for (int k = 0; k < it->nobj; k++) {
        fputs("<div class=\"obj\"><img alt=\"object snapshot\" src=\"data:image/jpeg;base64,", f);
        fputs(it->obj_b64[k], f);
        fputs("\">", f);
        esc(f, it->obj_label[k]);
        fputs("</div>", f);
      }
      fputs("</div>", f);
    }
    fputs("<div class=\"summary\">", f);
    esc(f, it->summary);
    fputs("</div><pre>", f);
    esc(f, it->reasoning);
    fputs("</pre></div></div>\n", f);
  }
  if (r->n == 0) fputs("<div class=\"none\">No events.</div>\n", f);
  fputs("</div></body></html>\n", f);
  if (fclose(f)) {
    vigil_err(err, errlen, -1, "cannot write %s", path);
    return -1;
  }
  return 0;
}
