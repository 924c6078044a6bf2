/*
 * common/load_preview.h - a dry run's counting rule (store_load_preview)
 * written once for both backends: which counts each mode takes from the
 * staged rows and the target, over a few counting steps each backend
 * writes in its own SQL (struct load_preview_primitives). Not here: any
 * SQL text (tests/store/check_layers.sh), the checks that come before
 * (load_check), or a transaction: the steps run in the load's own.
 */
#ifndef IMPORTQ_STORE_COMMON_LOAD_PREVIEW_H
#define IMPORTQ_STORE_COMMON_LOAD_PREVIEW_H

#include "store/common/backend.h"

/*
 * struct load_preview_primitives - the counting steps of one backend.
 * Each runs inside the load's transaction, after load_check, on part
 * index part of the plan; each returns 0 or a negative IQ_E_* with detail
 * in err (the load has then failed: only load_abort is left).
 */
struct load_preview_primitives {
    /* ready - 0 when the load may be counted: a dry-run plan whose
     * load_check ran and nothing failed since; the backend also checks
     * here what promote's statements would refuse before any row (SQLite
     * prepares them), so that a dry run fails where the real run would. */
    int (*ready)(struct load *load, struct iq_error *err);
    /* creates_target - whether part 0's table did not exist before this
     * load (it exists now only inside the load's transaction). */
    bool (*creates_target)(struct load *load);
    /* staged_rows - rows of part still staged: the ones promote would write. */
    int (*staged_rows)(struct load *load, size_t part, int64_t *ret_count, struct iq_error *err);
    /* matched_rows - staged rows of part whose key values a row of the
     * target has (*ret_matched), and of those the ones for which such a
     * row also holds the same value in every loaded non-key column
     * (*ret_same; every matched row when all loaded columns are key). */
    int (*matched_rows)(struct load *load, size_t part, int64_t *ret_matched, int64_t *ret_same,
                        struct iq_error *err);
    /* target_rows - rows of part's table; with unmatched_only, only those
     * whose key values no staged row has (a NULL key matches nothing). */
    int (*target_rows)(struct load *load, size_t part, bool unmatched_only, int64_t *ret_count,
                       struct iq_error *err);
};

/*
 * store_load_preview_count - the rule: struct load_preview (store/load.h)
 * from load's primitives (load->ops->preview). Returns 0, or the first
 * failing step's code.
 */
int store_load_preview_count(struct load *load, struct load_preview *ret_preview,
                             struct iq_error *err);

#endif
