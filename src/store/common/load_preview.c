/*
 * common/load_preview.c - what a dry run reports (store_load_preview):
 * the counts of struct load_preview (store/load.h says what each means
 * per mode), taken part by part from the backend's counting steps over
 * the rows load_check kept and the target. Every count is one set-wise
 * statement; nothing is written.
 */
#include "store/common/load_preview.h"

#include <string.h>

/* matched_by_key - whether promote matches part's rows to the target's by key. */
static bool matched_by_key(enum target_mode mode, const struct load_part *part)
{
    return (mode == TARGET_UPSERT || mode == TARGET_REPLACE) && part->key_count > 0;
}

/* count_part - part's counts added to *preview. */
static int count_part(struct load *load, const struct load_preview_primitives *p, size_t part,
                      struct load_preview *preview, struct iq_error *err)
{
    enum target_mode mode = load->plan->mode;
    bool keyed = matched_by_key(mode, &load->plan->parts[part]);
    int64_t staged = 0, matched = 0, same = 0, deleted = 0;
    int rc = p->staged_rows(load, part, &staged, err);
    if (rc == 0 && keyed)
        rc = p->matched_rows(load, part, &matched, &same, err);
    if (rc == 0 && mode == TARGET_REPLACE)
        rc = p->target_rows(load, part, keyed, &deleted, err);
    if (rc < 0)
        return rc;
    preview->rows_inserted += staged - matched;
    preview->rows_updated += matched - same;
    preview->rows_unchanged += same;
    preview->rows_deleted += deleted;
    return 0;
}

int store_load_preview_count(struct load *load, struct load_preview *ret_preview,
                             struct iq_error *err)
{
    memset(ret_preview, 0, sizeof(*ret_preview));
    const struct load_preview_primitives *p = load->ops->preview;
    if (!load->plan->dry_run)
        return iq_error_set(err, IQ_E_INTERNAL, "load_preview of a load that is not a dry run");
    int rc = p->ready(load, err);
    for (size_t i = 0; rc == 0 && i < load->plan->part_count; i++)
        rc = count_part(load, p, i, ret_preview, err);
    if (rc < 0) {
        memset(ret_preview, 0, sizeof(*ret_preview));
        return rc;
    }
    ret_preview->creates_target = p->creates_target(load);
    return 0;
}
