/* Image quality for vigil: BRISQUE (Mittal, Moorthy, Bovik 2012), the no-reference
 * quality score of the seed's zoo ("brisque-quality"), computed in C from the
 * published LIVE-trained model that Debian's opencv-data ships
 * (brisque_model_live.yml + brisque_range_live.yml; setup installs them under
 * $VIGIL_HOME/models/brisque/). Lower scores are better: about 0-20 for a clean
 * photo, 40 and up for a blurred, noisy or blocky one.
 *
 * Ownership and threads: a vigil_brisque is immutable once loaded and may be
 * shared by any number of threads; every function here is reentrant. */
#ifndef VIGIL_QUALITY_H
#define VIGIL_QUALITY_H

#include <stddef.h>

#include "vigil/img.h"

#define VIGIL_BRISQUE_NFEAT 36
/* Smallest side BRISQUE accepts: the second scale halves the image and its 7x7
 * window must still fit. Smaller images are refused (VIGIL_IMG_EINVAL). */
#define VIGIL_BRISQUE_MIN_SIDE 16

typedef struct vigil_brisque vigil_brisque;

/* Loads the SVR model and the feature ranges from OpenCV FileStorage YAML files.
 * A truncated file, a wrong vector length, a kernel other than RBF or an SVR type
 * other than EPS_SVR is an error that says which. Returns 0 or a negative
 * VIGIL_IMG_* status with err filled. */
int vigil_brisque_load(vigil_brisque **out, const char *model_path, const char *range_path, char *err,
                       size_t errlen);
/* The same from memory (the fuzz target's entry); the buffers need no NUL. */
int vigil_brisque_load_mem(vigil_brisque **out, const char *model, size_t model_len, const char *range,
                           size_t range_len, char *err, size_t errlen);
void vigil_brisque_free(vigil_brisque *m); /* NULL: no-op */
size_t vigil_brisque_memory_bytes(const vigil_brisque *m);

/* The 36 BRISQUE features of an RGB8 or grey image: per scale (full, half),
 * the GGD fit of the MSCN coefficients (shape, variance) and for each of the four
 * neighbour products (horizontal, vertical, two diagonals) the AGGD fit (shape,
 * mean, left variance, right variance). A side under VIGIL_BRISQUE_MIN_SIDE or an
 * image with no texture at all (every MSCN coefficient zero: a uniform frame) is
 * VIGIL_IMG_EINVAL with the reason in err: the score would be undefined (NaN). */
int vigil_brisque_features(double feat[VIGIL_BRISQUE_NFEAT], const vigil_image *im, char *err, size_t errlen);

/* The score: features scaled to [-1, 1] by the model's ranges, then the RBF-SVR,
 * clamped to [0, 100] as the reference does (a very clean photo scores 0). */
int vigil_brisque_score(double *score, const vigil_brisque *m, const vigil_image *im, char *err, size_t errlen);
/* The raw SVR output (not clamped). */
double vigil_brisque_predict(const vigil_brisque *m, const double feat[VIGIL_BRISQUE_NFEAT]);

/* "good" (score < 35), "fair" (35 <= score < 55) or "poor" (55 and up); the
 * cut-offs are documented in docs/models.md with the scores they were set from. */
const char *vigil_brisque_label(double score);

#endif
