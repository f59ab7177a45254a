/* Video files and streams (RTSP/HTTP) through FFmpeg, sampled into RGB
 * frames at a chosen rate. One reader belongs to one thread. */
#ifndef VIGIL_VIDEO_H
#define VIGIL_VIDEO_H

#include "vigil/img.h"

typedef struct video_reader video_reader;

typedef struct {
  double fps;          /* frames per second to sample; <= 0 = every frame */
  int max_side;        /* refuse streams larger than this per side (16384) */
  int timeout_s;       /* network read timeout for streams (10) */
} video_params;

video_params video_default_params(void);

/* Opens a file path or an rtsp:// / http(s):// URL. */
int video_open(video_reader **out, const char *url, video_params p, char *err, size_t errlen);
void video_close(video_reader *v);

/* Next sampled frame into *img (reallocated as needed; caller frees with
 * vigil_image_free) and its presentation time in seconds from the start.
 * Returns 1 for a frame, 0 at the end, <0 on error. */
int video_next(video_reader *v, vigil_image *img, double *pts_s, char *err, size_t errlen);

/* Stream properties (0 when unknown). */
double video_duration_s(const video_reader *v);
double video_source_fps(const video_reader *v);
int video_width(const video_reader *v);
int video_height(const video_reader *v);

#endif
