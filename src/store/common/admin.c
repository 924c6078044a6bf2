/*
 * common/admin.c - backend-neutral helpers of the API's own records
 * (admin_ops.h): freeing tokens, audit pages and uploads; checking the
 * token and upload records callers hand in and their audit JSON
 * (common/admin.h). No SQL here.
 * The orchestration and phase-list clear functions live with their
 * records, not here.
 */
#include "store/common/admin.h"

#include "core/auth.h"
#include "store/common/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void token_info_clear(struct token_info *info)
{
    if (!info)
        return;
    free(info->name);
    free(info->created_by);
    memset(info, 0, sizeof(*info));
}

void token_list_clear(struct token_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        token_info_clear(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* audit_record_clear - free every string of a record read from the store
 * (struct audit_row owns them, though audit_record declares them const). */
static void audit_record_clear(struct audit_record *record)
{
    free((char *)record->actor);
    free((char *)record->action);
    free((char *)record->entity);
    free((char *)record->entity_id);
    free((char *)record->before_json);
    free((char *)record->after_json);
    free((char *)record->request_id);
    free((char *)record->client_addr);
    free((char *)record->prev_hash);
    memset(record, 0, sizeof(*record));
}

void audit_page_clear(struct audit_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->count; i++)
        audit_record_clear(&page->items[i].record);
    free(page->items);
    memset(page, 0, sizeof(*page));
}

void upload_info_clear(struct upload_info *info)
{
    if (!info)
        return;
    free(info->path);
    free(info->created_by);
    memset(info, 0, sizeof(*info));
}

void upload_list_clear(struct upload_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        upload_info_clear(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* ------------------------------------------------------------------------
 * Checks and audit JSON (common/admin.h)
 * ------------------------------------------------------------------------ */

/* is_hex_hash - 64 lower-case hex characters and nothing more. */
static bool is_hex_hash(const char *text)
{
    size_t i = 0;
    for (; text[i] && i < AUDIT_HASH_LEN; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return false;
    return i == AUDIT_HASH_LEN - 1 && text[i] == '\0';
}

int admin_token_check(const struct token_info *info, struct iq_error *err)
{
    if (!uuid_is_valid(info->id))
        return iq_error_set(err, IQ_E_INVALID, "token id \"%s\" is not a UUID", info->id);
    size_t len = info->name ? strlen(info->name) : 0;
    if (len == 0 || len > TOKEN_NAME_MAX)
        return iq_error_set(err, IQ_E_INVALID, "a token name has 1 to %d characters",
                            TOKEN_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)info->name[i] < 0x20 || info->name[i] == 0x7f)
            return iq_error_set(err, IQ_E_INVALID, "a token name has no control characters");
    if (!token_role_name((int)info->role))
        return iq_error_set(err, IQ_E_INVALID, "unknown token role %d", (int)info->role);
    if (!is_hex_hash(info->token_hash))
        return iq_error_set(err, IQ_E_INVALID, "a token hash is 64 lower-case hex characters");
    return 0;
}

char *admin_token_json(const char *name, const char *role, const char *revoked_at)
{
    json_t *json = revoked_at ? json_pack("{s:s,s:s,s:s}", "name", name, "role", role, "revoked_at",
                                          revoked_at)
                              : json_pack("{s:s,s:s}", "name", name, "role", role);
    char *text = store_json_text(json);
    json_decref(json);
    return text;
}

int admin_upload_check(const struct upload_info *info, struct iq_error *err)
{
    if (!uuid_is_valid(info->id))
        return iq_error_set(err, IQ_E_INVALID, "upload id \"%s\" is not a UUID", info->id);
    if (info->bytes < 0)
        return iq_error_set(err, IQ_E_INVALID, "an upload's size cannot be negative");
    if (!is_hex_hash(info->sha256))
        return iq_error_set(err, IQ_E_INVALID,
                            "an upload's sha256 is 64 lower-case hex characters");
    if (!info->path || !info->path[0])
        return iq_error_set(err, IQ_E_INVALID, "an upload needs its spool path");
    if (info->job_id[0] && !uuid_is_valid(info->job_id))
        return iq_error_set(err, IQ_E_INVALID, "upload job id \"%s\" is not a UUID", info->job_id);
    return 0;
}

char *admin_upload_json(const struct upload_info *info)
{
    json_t *json = json_pack("{s:s,s:I,s:s}", "id", info->id, "bytes", (json_int_t)info->bytes,
                             "sha256", info->sha256);
    char *text = store_json_text(json);
    json_decref(json);
    return text;
}

/* dup_or_null - strdup, NULL for NULL; *ret_failed on OOM. */
static char *dup_or_null(const char *text, bool *ret_failed)
{
    char *copy = text ? strdup(text) : NULL;
    if (text && !copy)
        *ret_failed = true;
    return copy;
}

int audit_row_copy(const struct audit_record *borrowed, const char *hash, struct audit_row *out,
                   struct iq_error *err)
{
    bool failed = false;
    out->record = (struct audit_record){
        .id = borrowed->id,
        .at_ms = borrowed->at_ms,
        .actor = dup_or_null(borrowed->actor, &failed),
        .action = dup_or_null(borrowed->action, &failed),
        .entity = dup_or_null(borrowed->entity, &failed),
        .entity_id = dup_or_null(borrowed->entity_id, &failed),
        .before_json = dup_or_null(borrowed->before_json, &failed),
        .after_json = dup_or_null(borrowed->after_json, &failed),
        .request_id = dup_or_null(borrowed->request_id, &failed),
        .client_addr = dup_or_null(borrowed->client_addr, &failed),
        .prev_hash = dup_or_null(borrowed->prev_hash, &failed),
    };
    snprintf(out->hash, sizeof(out->hash), "%s", hash ? hash : "");
    return failed ? iq_error_set(err, IQ_E_NOMEM, "out of memory reading audit rows") : 0;
}
