/* Licence plates: reading one off a vehicle, normalising it, matching
 * PLATE_PATTERN, the household's KNOWN_PLATES, and voting across the frames
 * of one vehicle track (docs/models.md, "Licence plates").
 *
 * Threads: a plate_config is read-only after init; plate_find may run on many
 * threads; plate_votes has its own lock. */
#ifndef VIGIL_PLATE_H
#define VIGIL_PLATE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "vigil/config.h"
#include "vigil/detect.h"
#include "vigil/event.h"
#include "vigil/img.h"
#include "vigil/ocr.h"

#define PLATE_TEXT_MAX 16 /* normalised: at most 10 letters/digits */
#define PLATE_RAW_MAX 64

typedef struct {
  bool found;
  char text[PLATE_TEXT_MAX]; /* normalised: "KX21ABC" */
  char raw[PLATE_RAW_MAX];   /* as read: "KX21 ABC" */
  float confidence;
  float x1, y1, x2, y2;      /* frame pixels */
  char source[24];           /* "ocr-detector" or "yolo11-license-plate" */
  bool known;                /* in KNOWN_PLATES */
} plate_read;

typedef struct {
  regex_t re;
  bool has_re;
  char pattern[256];
  char **known; /* normalised */
  size_t n_known;
} plate_config;

/* PLATE_PATTERN (POSIX extended regex) and KNOWN_PLATES from cfg (NULL: the
 * global config). A pattern that does not compile is an error. */
int plate_config_init(plate_config *pc, const vigil_config *cfg, char *err, size_t errlen);
/* The same from explicit values (known: n normalised or raw plates). */
int plate_config_set(plate_config *pc, const char *pattern, const char *const *known, size_t n, char *err,
                     size_t errlen);
void plate_config_free(plate_config *pc);

/* Upper-cases `raw`, keeps letters and digits with single ' ' or '-'
 * separators (anything else is dropped), then fixes O/0 and I/1 inside a
 * group: an O or I between digits becomes 0 or 1, a 0 or 1 between letters
 * becomes O or I. `sep` (may be NULL) gets that cleaned text with its
 * separators (what PLATE_PATTERN is matched against), `out` the same without
 * them. Returns the number of letters and digits. */
int plate_normalize(char *out, size_t cap, char *sep, size_t sepcap, const char *raw);
/* True when the cleaned text matches the pattern (and fits PLATE_TEXT_MAX). */
bool plate_matches(const plate_config *pc, const char *raw);
bool plate_is_known(const plate_config *pc, const char *normalised);

/* Reads the plate of the vehicle in box (x1, y1, x2, y2) of frame with the
 * OCR engine: text regions with a plate's aspect ratio (1.5-12) whose text
 * matches the pattern; the most confident wins. out->found false when none
 * does (not an error). Errors: the OCR engine failing. */
int plate_find(ocr_engine *ocr, const plate_config *pc, plate_read *out, const vigil_image *frame, float x1,
               float y1, float x2, float y2, char *err, size_t errlen);

/* With a plate detector (yolo11-license-plate): its most confident box on the
 * vehicle crop goes into hint (frame pixels, source set; found stays false).
 * No box: hint untouched. */
int plate_box_detect(detector_t *det, plate_read *hint, const vigil_image *frame, float x1, float y1, float x2,
                     float y2, char *err, size_t errlen);
/* Reads the plate inside hint's box (grown by 15%) as plate_find does. */
int plate_read_in_box(ocr_engine *ocr, const plate_config *pc, plate_read *out, const vigil_image *frame,
                      const plate_read *hint, char *err, size_t errlen);

/* Votes of one process: per vehicle track, how often each normalised text
 * was read. */
typedef struct plate_votes plate_votes;
plate_votes *plate_votes_new(void);
void plate_votes_free(plate_votes *v);
/* Adds one reading of track_id (text "" adds nothing) and returns the
 * current winner: the most frequent text (ties: higher summed confidence),
 * with its count and (best_conf, may be NULL) its mean confidence; *best ""
 * and 0 when the track has no reading. */
int plate_votes_add(plate_votes *v, long track_id, const char *text, float confidence, char *best, size_t cap,
                    float *best_conf);
void plate_votes_forget(plate_votes *v, long track_id);
/* The pipeline's hook: adds this frame's reading of track_id (pl->present)
 * and rewrites pl with the track's winner: text, votes = its count, known
 * (pc may be NULL: unchanged). A track with earlier readings but none this
 * frame gets the winner too. */
void plate_vote_apply(plate_votes *v, const plate_config *pc, long track_id, vigil_plate *pl);

#endif
