/*
 * postgres/uploads.c - uploaded files on PostgreSQL (importq_uploads):
 * recording one (audited), reading one, finding the ones whose spool file
 * may go, and forgetting one. The files themselves are the API's and the
 * maintenance thread's; linking an upload to the job that reads it is
 * job_create's.
 */
#include "store/postgres/internal.h"

#include "core/timeutil.h"
#include "core/uuid7.h"
#include "store/common/admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UPLOAD_SELECT                                                                              \
    "SELECT u.id::text, u.bytes, u.sha256, u.path, u.created_by,"                                  \
    " floor(extract(epoch FROM u.created_at) * 1000)::bigint, u.job_id::text"                      \
    " FROM importq_uploads u"

/* create_in_tx - upload_create's body inside its transaction. */
static int create_in_tx(struct pg_store *ps, const struct upload_info *info,
                        const struct audit_context *actx, struct iq_error *err)
{
    char bytes[24], created_at[TIME_RFC3339_LEN];
    snprintf(bytes, sizeof(bytes), "%" PRId64, info->bytes);
    time_format_rfc3339(info->created_at_ms ? info->created_at_ms : pg_now_ms(ps), created_at);
    const char *values[7] = {info->id,
                             bytes,
                             info->sha256,
                             info->path,
                             info->created_by,
                             created_at,
                             info->job_id[0] ? info->job_id : NULL};
    int rc = pg_exec(ps, "recording an upload",
                     "INSERT INTO importq_uploads (id, bytes, sha256, path, created_by, created_at,"
                     " job_id) VALUES ($1::uuid, $2::bigint, $3, $4, $5, $6::timestamptz,"
                     " $7::uuid)",
                     7, values, NULL, err);
    char *after = rc == 0 ? admin_upload_json(info) : NULL;
    if (rc == 0 && !after)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (rc == 0)
        rc = pg_audit_append(ps, actx, "upload.create", "upload", info->id, NULL, after, err);
    free(after);
    return rc;
}

/*
 * pg_upload_create - see store_ops.upload_create: the row (created_at =
 * info->created_at_ms, or now when 0) and its "upload.create" audit row
 * in one transaction. IQ_E_INVALID for a malformed info.
 */
int pg_upload_create(struct store *s, const struct upload_info *info,
                     const struct audit_context *actx, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    int rc = admin_upload_check(info, err);
    if (rc == 0)
        rc = pg_tx_begin(ps, err);
    if (rc < 0)
        return rc;
    return pg_tx_finish(ps, create_in_tx(ps, info, actx, err), err);
}

/* decode_upload - one UPLOAD_SELECT row into *info (upload_info_clear, also on failure). */
static int decode_upload(const PGresult *res, int row, struct upload_info *info,
                         struct iq_error *err)
{
    memset(info, 0, sizeof(*info));
    snprintf(info->id, sizeof(info->id), "%s", PQgetvalue(res, row, 0));
    info->bytes = pg_text_to_int64(PQgetvalue(res, row, 1));
    snprintf(info->sha256, sizeof(info->sha256), "%s", PQgetvalue(res, row, 2));
    info->path = strdup(PQgetvalue(res, row, 3));
    if (!PQgetisnull(res, row, 4))
        info->created_by = strdup(PQgetvalue(res, row, 4));
    info->created_at_ms = pg_text_to_int64(PQgetvalue(res, row, 5));
    snprintf(info->job_id, sizeof(info->job_id), "%s", PQgetvalue(res, row, 6)); /* "" for NULL */
    if (!info->path || (!PQgetisnull(res, row, 4) && !info->created_by))
        return iq_error_set(err, IQ_E_NOMEM, "out of memory reading uploads");
    return 0;
}

/*
 * pg_upload_get - see store_ops.upload_get. IQ_E_NOT_FOUND for an unknown
 * or malformed id; *ret_info: upload_info_clear (also after a failure).
 */
int pg_upload_get(struct store *s, const char *id, struct upload_info *ret_info,
                  struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_info, 0, sizeof(*ret_info));
    if (!id || !uuid_is_valid(id))
        return iq_error_set(err, IQ_E_NOT_FOUND, "upload %s not found", id ? id : "(null)");
    const char *values[1] = {id};
    PGresult *res;
    int rc = pg_exec(ps, "reading an upload", UPLOAD_SELECT " WHERE u.id = $1::uuid", 1, values,
                     &res, err);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = iq_error_set(err, IQ_E_NOT_FOUND, "upload %s not found", id);
    else
        rc = decode_upload(res, 0, ret_info, err);
    PQclear(res);
    if (rc < 0)
        upload_info_clear(ret_info);
    return rc;
}

/*
 * pg_uploads_expired - see store_ops.uploads_expired: one statement,
 * oldest first. *ret_list: upload_list_clear, also after a failure.
 */
int pg_uploads_expired(struct store *s, int64_t cutoff_ms, struct upload_list *ret_list,
                       struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    memset(ret_list, 0, sizeof(*ret_list));
    char cutoff[TIME_RFC3339_LEN];
    const char *values[1] = {time_format_rfc3339(cutoff_ms, cutoff)};
    PGresult *res;
    int rc =
        pg_exec(ps, "listing expired uploads",
                UPLOAD_SELECT " LEFT JOIN stg_import_queue q ON q.id = u.job_id"
                              " WHERE q.status = 'COMPLETED' OR (u.created_at < $1::timestamptz"
                              " AND (u.job_id IS NULL OR (q.status IN ('FAILED', 'CANCELLED')"
                              " AND q.finished_at < $1::timestamptz)))"
                              " ORDER BY u.created_at, u.id",
                1, values, &res, err);
    if (rc < 0)
        return rc;
    size_t rows = (size_t)PQntuples(res);
    if (rows > 0 && !(ret_list->items = calloc(rows, sizeof(*ret_list->items))))
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        ret_list->count = i + 1;
        rc = decode_upload(res, (int)i, &ret_list->items[i], err);
    }
    PQclear(res);
    if (rc < 0)
        upload_list_clear(ret_list);
    return rc;
}

/*
 * pg_upload_delete - see store_ops.upload_delete: one DELETE, not audited
 * (the row only tracks a spool file that is gone). An unknown id is 0
 * too, so two nodes cleaning up at once both succeed.
 */
int pg_upload_delete(struct store *s, const char *id, struct iq_error *err)
{
    struct pg_store *ps = pg_store_of(s);
    if (!id || !uuid_is_valid(id))
        return 0;
    const char *values[1] = {id};
    return pg_exec(ps, "forgetting an upload", "DELETE FROM importq_uploads WHERE id = $1::uuid", 1,
                   values, NULL, err);
}
