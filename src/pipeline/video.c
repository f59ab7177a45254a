/* FFmpeg-backed video reader: demux, decode, sample at a target rate and
 * convert to RGB24 with swscale. Sizes are checked against a limit before
 * any frame buffer is allocated. */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/video.h"
#include "vigil/status.h"

struct video_reader {
  AVFormatContext *fmt;
  AVCodecContext *dec;
  struct SwsContext *sws;
  AVFrame *frame;
  AVPacket *pkt;
  int stream;
  video_params p;
  double next_t;   /* next sample time (seconds) */
  double tb;       /* stream time base in seconds */
  int eof_sent;
};

video_params video_default_params(void) {
  video_params p = {.fps = 0, .max_side = 16384, .timeout_s = 10};
  return p;
}

static int averr(char *err, size_t len, const char *what, int code) {
  char buf[128];
  av_strerror(code, buf, sizeof buf);
  vigil_err(err, len, -1, "%s: %s", what, buf);
  return -1;
}

int video_open(video_reader **out, const char *url, video_params p, char *err, size_t errlen) {
  *out = NULL;
  av_log_set_level(AV_LOG_ERROR);
  video_reader *v = calloc(1, sizeof *v);
  if (!v) return -1;
  v->p = p;
  v->stream = -1;
  AVDictionary *opts = NULL;
  if (strstr(url, "://")) {
    char us[32];
    snprintf(us, sizeof us, "%lld", (long long)p.timeout_s * 1000000LL);
    av_dict_set(&opts, "rw_timeout", us, 0);
    av_dict_set(&opts, "timeout", us, 0);
    if (!strncmp(url, "rtsp://", 7)) av_dict_set(&opts, "rtsp_transport", "tcp", 0);
  }
  int rc = avformat_open_input(&v->fmt, url, NULL, &opts);
  av_dict_free(&opts);
  if (rc < 0) {
    averr(err, errlen, url, rc);
    free(v);
    return -1;
  }
  if ((rc = avformat_find_stream_info(v->fmt, NULL)) < 0) {
    video_close(v);
    return averr(err, errlen, "cannot read stream info", rc);
  }
  const AVCodec *codec = NULL;
  v->stream = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (v->stream < 0 || !codec) {
    video_close(v);
    vigil_err(err, errlen, -1, "%s: no decodable video stream", url);
    return -1;
  }
  AVStream *st = v->fmt->streams[v->stream];
  if (st->codecpar->width <= 0 || st->codecpar->height <= 0 || st->codecpar->width > p.max_side ||
      st->codecpar->height > p.max_side) {
    vigil_err(err, errlen, -1, "%s: video size %dx%d outside 1..%d", url, st->codecpar->width,
                      st->codecpar->height, p.max_side);
    video_close(v);
    return -1;
  }
  v->dec = avcodec_alloc_context3(codec);
  if (!v->dec || avcodec_parameters_to_context(v->dec, st->codecpar) < 0 ||
      (rc = avcodec_open2(v->dec, codec, NULL)) < 0) {
    video_close(v);
    vigil_err(err, errlen, -1, "%s: cannot open the decoder", url);
    return -1;
  }
  v->tb = av_q2d(st->time_base);
  v->frame = av_frame_alloc();
  v->pkt = av_packet_alloc();
  if (!v->frame || !v->pkt) {
    video_close(v);
    return -1;
  }
  *out = v;
  return 0;
}

void video_close(video_reader *v) {
  if (!v) return;
  sws_freeContext(v->sws);
  av_frame_free(&v->frame);
  av_packet_free(&v->pkt);
  avcodec_free_context(&v->dec);
  avformat_close_input(&v->fmt);
  free(v);
}

double video_duration_s(const video_reader *v) {
  return v->fmt->duration > 0 ? (double)v->fmt->duration / AV_TIME_BASE : 0;
}

double video_source_fps(const video_reader *v) {
  AVRational r = v->fmt->streams[v->stream]->avg_frame_rate;
  return r.den ? av_q2d(r) : 0;
}

int video_width(const video_reader *v) { return v->dec->width; }
int video_height(const video_reader *v) { return v->dec->height; }

static int to_rgb(video_reader *v, vigil_image *img, char *err, size_t errlen) {
  AVFrame *f = v->frame;
  if (f->width <= 0 || f->height <= 0 || f->width > v->p.max_side || f->height > v->p.max_side) {
    vigil_err(err, errlen, -1, "frame size %dx%d outside limits", f->width, f->height);
    return -1;
  }
  v->sws = sws_getCachedContext(v->sws, f->width, f->height, (enum AVPixelFormat)f->format, f->width, f->height,
                                AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
  if (!v->sws) {
    vigil_err(err, errlen, -1, "cannot convert pixel format");
    return -1;
  }
  if (img->w != f->width || img->h != f->height || img->c != 3) {
    vigil_image_free(img);
    if (vigil_image_init(img, f->width, f->height, 3)) {
      vigil_err(err, errlen, -1, "out of memory");
      return -1;
    }
  }
  uint8_t *dst[4] = {img->data, NULL, NULL, NULL};
  int stride[4] = {(int)img->stride, 0, 0, 0};
  sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride);
  return 0;
}

int video_next(video_reader *v, vigil_image *img, double *pts_s, char *err, size_t errlen) {
  for (;;) {
    int rc = avcodec_receive_frame(v->dec, v->frame);
    if (rc == 0) {
      int64_t ts = v->frame->best_effort_timestamp;
      double t = ts == AV_NOPTS_VALUE ? v->next_t : (double)ts * v->tb;
      AVStream *st = v->fmt->streams[v->stream];
      if (st->start_time != AV_NOPTS_VALUE) t -= (double)st->start_time * v->tb;
      if (v->p.fps > 0 && t + 1e-6 < v->next_t) continue;
      if (v->p.fps > 0) v->next_t = (floor(t * v->p.fps + 1e-6) + 1) / v->p.fps; /* next grid point after t */
      if (pts_s) *pts_s = t;
      return to_rgb(v, img, err, errlen) ? -1 : 1;
    }
    if (rc == AVERROR_EOF) return 0;
    if (rc != AVERROR(EAGAIN)) return averr(err, errlen, "decode", rc);
    if (v->eof_sent) return 0;
    rc = av_read_frame(v->fmt, v->pkt);
    if (rc == AVERROR_EOF) {
      avcodec_send_packet(v->dec, NULL);
      v->eof_sent = 1;
      continue;
    }
    if (rc < 0) return averr(err, errlen, "read", rc);
    if (v->pkt->stream_index == v->stream) {
      rc = avcodec_send_packet(v->dec, v->pkt);
      av_packet_unref(v->pkt);
      if (rc < 0 && rc != AVERROR(EAGAIN)) return averr(err, errlen, "decode", rc);
    } else {
      av_packet_unref(v->pkt);
    }
  }
}
