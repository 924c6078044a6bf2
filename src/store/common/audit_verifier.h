/*
 * audit_verifier.h - the walk over the audit chain that both backends'
 * audit_verify share: they read rows in id order and feed them here one
 * at a time, so memory stays flat however long the trail is, and both
 * judge a row by exactly the same rules. Store-internal; no SQL.
 */
#ifndef IMPORTQ_STORE_AUDIT_VERIFIER_H
#define IMPORTQ_STORE_AUDIT_VERIFIER_H

#include "store/admin_ops.h"

#include <stdbool.h>
#include <stdint.h>

struct audit_verifier {
    struct audit_verify_result *result; /* borrowed, filled as rows come */
    int64_t next_id;                    /* the id the next row must have */
    char prev_hash[AUDIT_HASH_LEN];     /* the hash the next row must link to */
};

/* audit_verifier_start - an empty chain so far: result ok, next id 1, genesis hash. */
void audit_verifier_start(struct audit_verifier *v, struct audit_verify_result *result);

/*
 * audit_verifier_row - check one row (record with its stored prev_hash,
 * and the hash stored beside it): its id must be the next one, its hash
 * must be audit_hash of its fields, and its prev_hash the previous row's
 * hash. Returns true while the chain holds; false at the first break,
 * with result->ok false, first_bad_id and reason set (stop reading then).
 */
bool audit_verifier_row(struct audit_verifier *v, const struct audit_record *record,
                        const char *stored_hash);

/*
 * audit_verifier_unreadable - the row with this id cannot even be decoded
 * (a time that does not parse): a break at that row with reason. Returns
 * false.
 */
bool audit_verifier_unreadable(struct audit_verifier *v, int64_t id, const char *reason);

#endif
