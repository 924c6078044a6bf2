/*
 * audit_verifier.c - the rules of a sound audit chain (audit_verifier.h):
 * rows numbered 1, 2, 3 ... without gaps, each hash recomputed from the
 * row's own fields, each prev_hash equal to the previous row's hash. The
 * hash itself is core/audit.c's; reading the rows is each backend's.
 */
#include "store/common/audit_verifier.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void audit_verifier_start(struct audit_verifier *v, struct audit_verify_result *result)
{
    memset(result, 0, sizeof(*result));
    result->ok = true;
    v->result = result;
    v->next_id = 1;
    memcpy(v->prev_hash, AUDIT_GENESIS_HASH, AUDIT_HASH_LEN);
}

/* broken - record the first break (id, printf-style reason); returns false. */
static bool broken(struct audit_verifier *v, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool broken(struct audit_verifier *v, int64_t id, const char *fmt, ...)
{
    v->result->ok = false;
    v->result->first_bad_id = id;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->result->reason, sizeof(v->result->reason), fmt, ap);
    va_end(ap);
    return false;
}

bool audit_verifier_row(struct audit_verifier *v, const struct audit_record *record,
                        const char *stored_hash)
{
    v->result->rows_checked++;
    int64_t id = record->id;
    if (id > v->next_id && id - 1 == v->next_id)
        return broken(v, id, "row %" PRId64 " missing", v->next_id);
    if (id > v->next_id)
        return broken(v, id, "rows %" PRId64 " to %" PRId64 " missing", v->next_id, id - 1);
    if (id < v->next_id)
        return broken(v, id, "id out of sequence (expected %" PRId64 ")", v->next_id);
    char computed[AUDIT_HASH_LEN];
    audit_hash(record, computed);
    if (!stored_hash || strcmp(stored_hash, computed) != 0)
        return broken(v, id, "hash mismatch: the row's fields are not what was recorded");
    if (!record->prev_hash || strcmp(record->prev_hash, v->prev_hash) != 0) {
        if (id == 1)
            return broken(v, id, "prev_hash is not the genesis hash");
        return broken(v, id, "prev_hash does not match the hash of row %" PRId64, id - 1);
    }
    memcpy(v->prev_hash, computed, AUDIT_HASH_LEN);
    v->next_id = id + 1;
    return true;
}

bool audit_verifier_unreadable(struct audit_verifier *v, int64_t id, const char *reason)
{
    v->result->rows_checked++;
    return broken(v, id, "%s", reason);
}
