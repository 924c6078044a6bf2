/*
 * audit.h - the tamper-evident audit record: its fields and the hash chain.
 * Each row's hash covers its own fields and the previous row's hash, so
 * editing or deleting any row (but the newest, which an external copy of the
 * head hash guards) breaks verification from that row on.
 */
#ifndef IMPORTQ_CORE_AUDIT_H
#define IMPORTQ_CORE_AUDIT_H

#include <stdint.h>

/* Hex SHA-256 plus NUL. */
#define AUDIT_HASH_LEN 65

/* The hash that stands before the first row. */
#define AUDIT_GENESIS_HASH \
    "0000000000000000000000000000000000000000000000000000000000000000"

/* Who made a change: passed by the API (token name) or engine ("engine"). */
struct audit_context {
    const char *actor;       /* never NULL in a mutation */
    const char *request_id;  /* X-Request-Id, may be NULL */
    const char *client_addr; /* may be NULL */
};

/* One audit row. Strings may be NULL (hashed as absent, distinct from ""). */
struct audit_record {
    int64_t id;              /* 1, 2, 3 ... contiguous */
    int64_t at_ms;
    const char *actor;
    const char *action;      /* "job.create", "job.cancel", ... */
    const char *entity;      /* "job", "lock", "token", ... */
    const char *entity_id;
    const char *before_json; /* compact JSON text or NULL */
    const char *after_json;
    const char *request_id;
    const char *client_addr;
    const char *prev_hash;   /* AUDIT_HASH_LEN-1 hex chars */
};

/*
 * audit_hash - SHA-256 (libsodium) over prev_hash and every field of
 * record, each length-prefixed so no two records hash alike by shifting
 * text between fields. Writes lower-case hex into ret_hex.
 */
void audit_hash(const struct audit_record *record, char ret_hex[AUDIT_HASH_LEN]);

#endif
