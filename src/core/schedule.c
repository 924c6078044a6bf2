/*
 * schedule.c - checking a schedule's editable fields (schedule_spec_parse),
 * the job a schedule makes (schedule_job_spec), its next fire time and the
 * JSON of a stored schedule. Pure: no I/O. Not here: storing schedules
 * (store/common/schedule.c) or firing them (the engine).
 */
#include "core/schedule.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Policies
 * ------------------------------------------------------------------------ */

#define SCHEDULE_POLICY_TEXT(name, text) text,
static const char *const misfire_names[] = {SCHEDULE_MISFIRES(SCHEDULE_POLICY_TEXT)};
static const char *const overlap_names[] = {SCHEDULE_OVERLAPS(SCHEDULE_POLICY_TEXT)};
#undef SCHEDULE_POLICY_TEXT

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* name_index - the index of text in names, -1 when absent. */
static int name_index(const char *text, const char *const *names, size_t count)
{
    for (size_t i = 0; text && i < count; i++)
        if (strcmp(text, names[i]) == 0)
            return (int)i;
    return -1;
}

const char *schedule_misfire_name(enum schedule_misfire misfire)
{
    return (size_t)misfire < COUNT_OF(misfire_names) ? misfire_names[misfire] : "unknown";
}

int schedule_misfire_parse(const char *text, enum schedule_misfire *ret_misfire)
{
    int i = name_index(text, misfire_names, COUNT_OF(misfire_names));
    if (i < 0)
        return IQ_E_INVALID;
    *ret_misfire = (enum schedule_misfire)i;
    return 0;
}

const char *schedule_overlap_name(enum schedule_overlap overlap)
{
    return (size_t)overlap < COUNT_OF(overlap_names) ? overlap_names[overlap] : "unknown";
}

int schedule_overlap_parse(const char *text, enum schedule_overlap *ret_overlap)
{
    int i = name_index(text, overlap_names, COUNT_OF(overlap_names));
    if (i < 0)
        return IQ_E_INVALID;
    *ret_overlap = (enum schedule_overlap)i;
    return 0;
}

/* ------------------------------------------------------------------------
 * The job template
 * ------------------------------------------------------------------------ */

/*
 * copy_fields - src's field errors into err with prefix before each field
 * name ("job." + "target.table"); src's message when it has no fields.
 */
static int copy_fields(struct iq_error *err, const struct iq_error *src, const char *prefix)
{
    if (src->field_count == 0)
        return iq_error_add_field(err, "job", "%s", iq_error_message(src));
    for (size_t i = 0; i < src->field_count; i++) {
        size_t len = strlen(prefix) + strlen(src->fields[i].field) + 1;
        char *field = malloc(len);
        if (!field)
            return iq_error_set(err, IQ_E_NOMEM, "out of memory");
        snprintf(field, len, "%s%s", prefix, src->fields[i].field);
        iq_error_add_field(err, field, "%s", src->fields[i].message);
        free(field);
    }
    return IQ_E_INVALID;
}

/* expand_path - a copy of job whose source.path is expanded at fire_ms in zone_name. */
static int expand_path(const json_t *job, const char *zone_name, int64_t fire_ms, json_t **ret_job,
                       struct iq_error *err)
{
    *ret_job = json_deep_copy(job);
    if (!*ret_job)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    json_t *source = json_object_get(*ret_job, "source");
    const char *path = json_string_value(json_object_get(source, "path"));
    if (!path)
        return 0; /* the job spec parser names what is missing */
    struct cron_zone *zone = NULL;
    struct cron_local_time local;
    struct iq_error local_err = {0};
    char *expanded = NULL;
    int rc = cron_zone_open(zone_name && zone_name[0] ? zone_name : CRON_DEFAULT_ZONE, &zone,
                            &local_err);
    if (rc == 0)
        rc = cron_zone_local_time(zone, fire_ms, &local, &local_err);
    if (rc == 0)
        rc = cron_template_expand(path, &local, &expanded, &local_err);
    cron_zone_free(zone);
    if (rc == IQ_E_NOMEM)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    else if (rc < 0)
        rc = iq_error_add_field(err, "job.source.path", "%s", iq_error_message(&local_err));
    else if (json_object_set_new(source, "path", json_string(expanded)) < 0)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    free(expanded);
    iq_error_clear(&local_err);
    if (rc < 0) {
        json_decref(*ret_job);
        *ret_job = NULL;
    }
    return rc;
}

int schedule_job_spec(const json_t *job, const char *zone_name, int64_t fire_ms,
                      const struct job_spec_defaults *defaults, struct job_spec **ret_spec,
                      struct iq_error *err)
{
    *ret_spec = NULL;
    if (!json_is_object(job))
        return iq_error_add_field(err, "job", "a job spec object is required");
    json_t *expanded = NULL;
    int rc = expand_path(job, zone_name, fire_ms, &expanded, err);
    if (rc < 0)
        return rc;
    struct iq_error spec_err = {0};
    rc = job_spec_parse(expanded, defaults, ret_spec, &spec_err);
    json_decref(expanded);
    if (rc == IQ_E_NOMEM)
        rc = iq_error_set(err, IQ_E_NOMEM, "out of memory");
    else if (rc < 0)
        rc = copy_fields(err, &spec_err, "job.");
    iq_error_clear(&spec_err);
    return rc;
}

/* ------------------------------------------------------------------------
 * Checking a request
 * ------------------------------------------------------------------------ */

void schedule_spec_clear(struct schedule_spec *spec)
{
    if (!spec)
        return;
    free(spec->name);
    free(spec->cron);
    free(spec->timezone);
    json_decref(spec->job);
    memset(spec, 0, sizeof(*spec));
}

static const char *const known_fields[] = {"name",    "cron",    "timezone",     "job",
                                           "misfire", "overlap", "catch_up_max", "enabled"};

/* check_unknown - a field error for each member of body that is not a schedule's. */
static int check_unknown(json_t *body, struct iq_error *err)
{
    int rc = 0;
    const char *key;
    json_t *value;
    json_object_foreach(body, key, value)
    {
        (void)value;
        if (name_index(key, known_fields, COUNT_OF(known_fields)) < 0)
            rc = iq_error_add_field(err, key, "unknown field");
    }
    return rc;
}

/* read_string - body[key] copied into *ret (NULL when absent); a field error when not a string. */
static int read_string(json_t *body, const char *key, char **ret, struct iq_error *err)
{
    json_t *value = json_object_get(body, key);
    *ret = NULL;
    if (!value || json_is_null(value))
        return 0;
    if (!json_is_string(value))
        return iq_error_add_field(err, key, "must be a string");
    *ret = strdup(json_string_value(value));
    return *ret ? 0 : iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* check_name - present, non-empty, bounded. */
static int check_name(const struct schedule_spec *spec, struct iq_error *err)
{
    if (!spec->name || !spec->name[0])
        return iq_error_add_field(err, "name", "a schedule needs a name");
    if (strlen(spec->name) > SCHEDULE_MAX_NAME_LEN)
        return iq_error_add_field(err, "name", "at most %d bytes", SCHEDULE_MAX_NAME_LEN);
    return 0;
}

/* check_cron_zone - the expression and (unless check_zone is false) the zone, each on its field. */
static int check_cron_zone(json_t *body, struct schedule_spec *spec, bool check_zone,
                           struct iq_error *err)
{
    int rc = 0;
    struct iq_error local = {0};
    json_t *cron = json_object_get(body, "cron");
    if (!spec->cron && (!cron || json_is_null(cron)))
        rc = iq_error_add_field(err, "cron",
                                "a schedule needs a cron expression or an RFC 3339 "
                                "time");
    else if (!spec->cron)
        rc = IQ_E_INVALID; /* not a string: read_string named it */
    else if (cron_parse(spec->cron, &spec->expr, &local) < 0)
        rc = iq_error_add_field(err, "cron", "%s", iq_error_message(&local));
    iq_error_clear(&local);
    if (check_zone && cron_zone_check(spec->timezone, &local) < 0)
        rc = iq_error_add_field(err, "timezone", "%s", iq_error_message(&local));
    iq_error_clear(&local);
    return rc;
}

/* check_policies - misfire, overlap, catch_up_max, enabled (defaults when absent). */
static int check_policies(json_t *body, struct schedule_spec *spec, struct iq_error *err)
{
    int rc = 0;
    json_t *value = json_object_get(body, "misfire");
    if (value && !json_is_null(value) &&
        schedule_misfire_parse(json_string_value(value), &spec->misfire) < 0)
        rc = iq_error_add_field(err, "misfire", "must be skip, run_once or catch_up");
    value = json_object_get(body, "overlap");
    if (value && !json_is_null(value) &&
        schedule_overlap_parse(json_string_value(value), &spec->overlap) < 0)
        rc = iq_error_add_field(err, "overlap", "must be allow, skip or queue");
    value = json_object_get(body, "catch_up_max");
    if (value && !json_is_null(value)) {
        json_int_t n = json_is_integer(value) ? json_integer_value(value) : 0;
        if (n < 1 || n > SCHEDULE_CATCH_UP_MAX_LIMIT)
            rc = iq_error_add_field(err, "catch_up_max", "must be an integer from 1 to %d",
                                    SCHEDULE_CATCH_UP_MAX_LIMIT);
        else
            spec->catch_up_max = (int)n;
    }
    value = json_object_get(body, "enabled");
    if (value && !json_is_null(value)) {
        if (!json_is_boolean(value))
            rc = iq_error_add_field(err, "enabled", "must be true or false");
        else
            spec->enabled = json_is_true(value);
    }
    return rc;
}

/* check_job - the template: an object, no per-job keys, a valid spec once expanded. */
static int check_job(json_t *body, struct schedule_spec *spec,
                     const struct job_spec_defaults *defaults, struct iq_error *err)
{
    json_t *job = json_object_get(body, "job");
    if (!json_is_object(job))
        return iq_error_add_field(err, "job", "a job spec object is required");
    int rc = 0;
    if (json_object_get(job, "request_id"))
        rc = iq_error_add_field(err, "job.request_id",
                                "not allowed in a schedule: each fire makes a new job");
    if (json_object_get(job, "scheduled_at"))
        rc = iq_error_add_field(err, "job.scheduled_at",
                                "not allowed in a schedule: the fire time is the job's time");
    if (json_object_get(json_object_get(job, "source"), "upload"))
        rc = iq_error_add_field(err, "job.source.upload",
                                "not allowed in a schedule: use source.path (placeholders "
                                "{date} {time} {datetime} name each fire's file)");
    /* A sample fire time: any instant checks the placeholders and the spec. */
    struct job_spec *parsed = NULL;
    const char *zone = cron_zone_check(spec->timezone, NULL) == 0 ? spec->timezone : NULL;
    int parse_rc =
        schedule_job_spec(job, zone, 1767225600000 /* 2026-01-01 */, defaults, &parsed, err);
    job_spec_free(parsed);
    if (parse_rc < 0)
        return parse_rc;
    spec->job = json_incref(job);
    return rc;
}

int schedule_spec_parse(json_t *body, const struct job_spec_defaults *defaults,
                        struct schedule_spec *ret_spec, struct iq_error *err)
{
    memset(ret_spec, 0, sizeof(*ret_spec));
    ret_spec->misfire = SCHEDULE_MISFIRE_RUN_ONCE;
    ret_spec->overlap = SCHEDULE_OVERLAP_SKIP;
    ret_spec->catch_up_max = SCHEDULE_CATCH_UP_MAX_DEFAULT;
    ret_spec->enabled = true;
    if (!json_is_object(body))
        return iq_error_add_field(err, "body", "a JSON object is required");
    int rc = check_unknown(body, err);
    bool bad_zone = false;
    if (read_string(body, "name", &ret_spec->name, err) < 0)
        rc = IQ_E_INVALID;
    if (read_string(body, "cron", &ret_spec->cron, err) < 0)
        rc = IQ_E_INVALID;
    if (read_string(body, "timezone", &ret_spec->timezone, err) < 0)
        rc = IQ_E_INVALID, bad_zone = true;
    if (err && err->code == IQ_E_NOMEM)
        return IQ_E_NOMEM;
    if (!ret_spec->timezone && !(ret_spec->timezone = strdup(CRON_DEFAULT_ZONE)))
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    if (check_name(ret_spec, err) < 0)
        rc = IQ_E_INVALID;
    if (check_cron_zone(body, ret_spec, !bad_zone, err) < 0)
        rc = IQ_E_INVALID;
    if (check_policies(body, ret_spec, err) < 0)
        rc = IQ_E_INVALID;
    int job_rc = check_job(body, ret_spec, defaults, err);
    if (job_rc == IQ_E_NOMEM)
        return job_rc;
    return job_rc < 0 ? job_rc : rc;
}

/* ------------------------------------------------------------------------
 * Fire times
 * ------------------------------------------------------------------------ */

int schedule_next_run(const char *cron, const char *zone_name, int64_t after_ms,
                      int64_t *ret_next_ms, struct iq_error *err)
{
    *ret_next_ms = 0;
    struct cron_expr expr;
    struct cron_zone *zone = NULL;
    struct iq_error local = {0};
    int rc = cron_parse(cron, &expr, &local);
    if (rc < 0) {
        rc = iq_error_add_field(err, "cron", "%s", iq_error_message(&local));
        iq_error_clear(&local);
        return rc;
    }
    rc = cron_zone_open(zone_name && zone_name[0] ? zone_name : CRON_DEFAULT_ZONE, &zone, &local);
    if (rc < 0) {
        rc = rc == IQ_E_NOMEM ? iq_error_set(err, rc, "out of memory")
                              : iq_error_add_field(err, "timezone", "%s", iq_error_message(&local));
        iq_error_clear(&local);
        return rc;
    }
    rc = cron_next_after(&expr, after_ms, zone, ret_next_ms, &local);
    cron_zone_free(zone);
    if (rc == IQ_E_NOT_FOUND) {
        *ret_next_ms = 0;
        rc = 0;
    } else if (rc < 0) {
        rc = iq_error_set(err, rc, "%s", iq_error_message(&local));
    }
    iq_error_clear(&local);
    return rc;
}

/* ------------------------------------------------------------------------
 * The stored schedule
 * ------------------------------------------------------------------------ */

void schedule_clear(struct schedule *schedule)
{
    if (!schedule)
        return;
    free(schedule->name);
    free(schedule->cron);
    free(schedule->timezone);
    json_decref(schedule->job);
    free(schedule->last_status);
    free(schedule->last_job_id);
    free(schedule->created_by);
    memset(schedule, 0, sizeof(*schedule));
}

/* time_or_null - RFC 3339 text of ms, JSON null for 0. */
static json_t *time_or_null(int64_t ms)
{
    char buf[TIME_RFC3339_LEN];
    return ms ? json_string(time_format_rfc3339(ms, buf)) : json_null();
}

/* string_or_null - a JSON string of text, JSON null for NULL. */
static json_t *string_or_null(const char *text)
{
    return text ? json_string(text) : json_null();
}

json_t *schedule_to_json(const struct schedule *s)
{
    json_t *job = s->job ? json_deep_copy(s->job) : json_object();
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:i, s:b, s:o, s:o, s:o, s:o, s:I, "
                     "s:I, s:I, s:o, s:o, s:o}",
                     "id", s->id, "name", s->name ? s->name : "", "cron", s->cron ? s->cron : "",
                     "timezone", s->timezone ? s->timezone : CRON_DEFAULT_ZONE, "job", job,
                     "misfire", schedule_misfire_name(s->misfire), "overlap",
                     schedule_overlap_name(s->overlap), "catch_up_max", s->catch_up_max, "enabled",
                     s->enabled, "next_run_at", time_or_null(s->next_run_at_ms), "last_run_at",
                     time_or_null(s->last_run_at_ms), "last_status", string_or_null(s->last_status),
                     "last_job_id", string_or_null(s->last_job_id), "run_count",
                     (json_int_t)s->run_count, "success_count", (json_int_t)s->success_count,
                     "failure_count", (json_int_t)s->failure_count, "created_by",
                     string_or_null(s->created_by), "created_at", time_or_null(s->created_at_ms),
                     "updated_at", time_or_null(s->updated_at_ms));
}
