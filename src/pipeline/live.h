/* The live state a pipeline publishes per camera for the dashboard's tiles
 * (src/pipeline/live.c; stored by store_put_live, served by the events API). */
#ifndef VIGIL_PIPELINE_LIVE_H
#define VIGIL_PIPELINE_LIVE_H

#include "vigil/pipeline.h"
#include "vigil/store.h"

/* The tracks as a JSON array: id, label, score, bbox, stationary, dwell_s,
 * first_seen, last_seen (unix seconds), frames. malloc'ed; NULL on OOM. */
char *live_tracks_json(const pipeline_track *tr, int n);
/* The camera's counters and stage times as a JSON object (malloc'ed). */
char *live_stats_json(const pipeline_stats *st);

/* Draws the tracks (box, "#id label") on a copy of the frame scaled to at most
 * max_w pixels wide, encodes it as JPEG and replaces the camera's live_state
 * row (with the tracks and the stats). 0, or a STORE_E* / -1 with err filled. */
int live_publish(store *st, const char *camera_id, const vigil_image *frame, double ts, const pipeline_track *tr,
                 int n, const pipeline_stats *stats, int max_w, char *err, size_t errlen);

#endif
