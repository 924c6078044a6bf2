/*
 * schedule_warnings.h - the conflict warnings of a created or changed
 * schedule (schedule_warnings.c gathers, core/schedule_conflict.c
 * compares).
 */
#ifndef IMPORTQ_API_SCHEDULE_WARNINGS_H
#define IMPORTQ_API_SCHEDULE_WARNINGS_H

#include "store/store.h"

#include <jansson.h>

/*
 * schedule_warnings_json - the warnings of schedule against every other
 * enabled schedule over the 7 days after its updated_at: an array of
 * {schedule_id, schedule_name, resource, first_overlap, message}, empty
 * for a disabled schedule or when nothing overlaps (or nothing could be
 * read: warnings never fail an answer). New reference; NULL on OOM.
 */
json_t *schedule_warnings_json(struct store *store, const struct schedule *schedule,
                               const struct job_spec_defaults *defaults);

#endif
