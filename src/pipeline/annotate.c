/* Annotation of frames (boxes, skeletons, labels in a built-in 5x7 font) and
 * JPEG encoding with libturbojpeg. Upper-case letters are drawn in lower
 * case; characters outside the font draw as blanks. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "vigil/annotate.h"
#include "vigil/classes.h"

vigil_rgb annotate_class_color(const char *label) {
  static const vigil_rgb palette[] = {{230, 57, 70},  {42, 157, 143}, {233, 196, 106}, {69, 123, 157},
                                      {244, 162, 97}, {131, 56, 236}, {58, 134, 255},  {255, 0, 110}};
  if (vigil_class_kind(label) == VIGIL_KIND_PERSON) return palette[0];
  unsigned h = 5381;
  for (const char *p = label; *p; p++) h = h * 33 + (unsigned char)*p;
  return palette[1 + h % 7];
}

static void put(vigil_image *im, int x, int y, vigil_rgb c) {
  if (x < 0 || y < 0 || x >= im->w || y >= im->h || im->c != 3) return;
  uint8_t *p = im->data + (size_t)y * im->stride + (size_t)x * 3;
  p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

static void fill(vigil_image *im, int x1, int y1, int x2, int y2, vigil_rgb c) {
  for (int y = y1 < 0 ? 0 : y1; y < y2 && y < im->h; y++)
    for (int x = x1 < 0 ? 0 : x1; x < x2 && x < im->w; x++) put(im, x, y, c);
}

void annotate_rect(vigil_image *im, float x1, float y1, float x2, float y2, int t, vigil_rgb c) {
  int a = (int)lroundf(x1), b = (int)lroundf(y1), d = (int)lroundf(x2), e = (int)lroundf(y2);
  fill(im, a, b, d, b + t, c);
  fill(im, a, e - t, d, e, c);
  fill(im, a, b, a + t, e, c);
  fill(im, d - t, b, d, e, c);
}

void annotate_dot(vigil_image *im, float x, float y, int r, vigil_rgb c) {
  for (int dy = -r; dy <= r; dy++)
    for (int dx = -r; dx <= r; dx++)
      if (dx * dx + dy * dy <= r * r) put(im, (int)lroundf(x) + dx, (int)lroundf(y) + dy, c);
}

static void line(vigil_image *im, float x1, float y1, float x2, float y2, int t, vigil_rgb c) {
  float len = hypotf(x2 - x1, y2 - y1);
  int steps = (int)len + 1;
  if (steps > 100000) return;
  for (int i = 0; i <= steps; i++) {
    float f = (float)i / (float)steps;
    annotate_dot(im, x1 + (x2 - x1) * f, y1 + (y2 - y1) * f, t / 2, c);
  }
}

void annotate_pose(vigil_image *im, const pose_result *p, float min_score) {
  static const int limbs[][2] = {{KP_LEFT_SHOULDER, KP_RIGHT_SHOULDER}, {KP_LEFT_SHOULDER, KP_LEFT_ELBOW},
                                 {KP_LEFT_ELBOW, KP_LEFT_WRIST},        {KP_RIGHT_SHOULDER, KP_RIGHT_ELBOW},
                                 {KP_RIGHT_ELBOW, KP_RIGHT_WRIST},      {KP_LEFT_SHOULDER, KP_LEFT_HIP},
                                 {KP_RIGHT_SHOULDER, KP_RIGHT_HIP},     {KP_LEFT_HIP, KP_RIGHT_HIP},
                                 {KP_LEFT_HIP, KP_LEFT_KNEE},           {KP_LEFT_KNEE, KP_LEFT_ANKLE},
                                 {KP_RIGHT_HIP, KP_RIGHT_KNEE},         {KP_RIGHT_KNEE, KP_RIGHT_ANKLE},
                                 {KP_NOSE, KP_LEFT_EYE},                {KP_NOSE, KP_RIGHT_EYE}};
  const vigil_rgb limb = {0, 220, 255}, joint = {255, 255, 255};
  for (size_t i = 0; i < sizeof limbs / sizeof *limbs; i++) {
    const pose_keypoint *a = &p->kp[limbs[i][0]], *b = &p->kp[limbs[i][1]];
    if (a->score > min_score && b->score > min_score) line(im, a->x, a->y, b->x, b->y, 2, limb);
  }
  for (int i = 0; i < POSE_NKP; i++)
    if (p->kp[i].score > min_score) annotate_dot(im, p->kp[i].x, p->kp[i].y, 3, joint);
}

static const struct {
  char ch;
  uint8_t rows[7];
} font[] = {
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'-', {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}},
    {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}},
    {'3', {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}},
    {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}},
    {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}},
    {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}},
    {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}},
    {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}},
    {':', {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}},
    {'a', {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f}},
    {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e}},
    {'c', {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e}},
    {'d', {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f}},
    {'e', {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e}},
    {'f', {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08}},
    {'g', {0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'i', {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e}},
    {'j', {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0c}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}},
    {'l', {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'m', {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11}},
    {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'o', {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e}},
    {'p', {0x00, 0x00, 0x1e, 0x11, 0x1e, 0x10, 0x10}},
    {'q', {0x00, 0x00, 0x0d, 0x13, 0x0f, 0x01, 0x01}},
    {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}},
    {'s', {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e}},
    {'t', {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06}},
    {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d}},
    {'v', {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04}},
    {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a}},
    {'x', {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11}},
    {'y', {0x00, 0x00, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'z', {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f}},
};

static const uint8_t *glyph(char ch) {
  ch = (char)tolower((unsigned char)ch);
  for (size_t i = 0; i < sizeof font / sizeof *font; i++)
    if (font[i].ch == ch) return font[i].rows;
  return font[0].rows; /* ' ' sorts first */
}

void annotate_text(vigil_image *im, int x, int y, const char *text, int scale, vigil_rgb fg, vigil_rgb bg) {
  if (scale < 1) scale = 1;
  int n = (int)strlen(text);
  fill(im, x, y, x + (n * 6 + 1) * scale, y + 9 * scale, bg);
  for (int i = 0; i < n; i++) {
    const uint8_t *g = glyph(text[i]);
    for (int r = 0; r < 7; r++)
      for (int col = 0; col < 5; col++)
        if (g[r] & (1 << (4 - col)))
          fill(im, x + (1 + i * 6 + col) * scale, y + (1 + r) * scale, x + (2 + i * 6 + col) * scale,
               y + (2 + r) * scale, fg);
  }
}

int annotate_encode_jpeg(uint8_t **out, size_t *len, const vigil_image *im, int quality) {
  *out = NULL;
  *len = 0;
  if (!im->data || im->c != 3) return -1;
  tjhandle tj = tjInitCompress();
  if (!tj) return -1;
  unsigned char *buf = NULL;
  unsigned long n = 0;
  int rc = tjCompress2(tj, im->data, im->w, (int)im->stride, im->h, TJPF_RGB, &buf, &n, TJSAMP_420,
                       quality < 1 ? 1 : quality > 100 ? 100 : quality, TJFLAG_FASTDCT);
  tjDestroy(tj);
  if (rc) {
    tjFree(buf);
    return -1;
  }
  *out = malloc(n);
  if (*out) memcpy(*out, buf, n);
  tjFree(buf);
  if (!*out) return -1;
  *len = n;
  return 0;
}
