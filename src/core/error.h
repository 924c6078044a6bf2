/*
 * error.h - the error kinds of importq and the caller-supplied detail struct.
 *
 * Every fallible function returns int: 0 on success, a negative IQ_E_* code
 * on failure. Human detail (message, per-field errors) goes into a
 * struct iq_error supplied by the caller; library code never prints.
 * One X-macro table gives each kind its enum value, its stable string name
 * (used as the problem "type" suffix and error.code) and the HTTP status the
 * API answers with, so no layer has to guess.
 */
#ifndef IMPORTQ_CORE_ERROR_H
#define IMPORTQ_CORE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/*      name            value  http  string */
#define IQ_ERROR_KINDS(X)                                   \
    X(OK,               0,    200, "ok")                    \
    X(INVALID,         -1,    422, "invalid")               \
    X(BAD_REQUEST,     -2,    400, "bad_request")           \
    X(NOT_FOUND,       -3,    404, "not_found")             \
    X(CONFLICT,        -4,    409, "conflict")              \
    X(QUEUE_FULL,      -5,    429, "queue_full")            \
    X(UNAUTHORIZED,    -6,    401, "unauthorized")          \
    X(FORBIDDEN,       -7,    403, "forbidden")             \
    X(TOO_LARGE,       -8,    413, "too_large")             \
    X(UNSUPPORTED,     -9,    415, "unsupported_media_type") \
    X(METHOD,         -10,    405, "method_not_allowed")    \
    X(DB,             -11,    500, "database")              \
    X(IO,             -12,    500, "io")                    \
    X(NOMEM,          -13,    500, "out_of_memory")         \
    X(INTERNAL,       -14,    500, "internal")              \
    X(UNAVAILABLE,    -15,    503, "unavailable")           \
    X(CANCELLED,      -16,    409, "cancelled")             \
    X(TIMEOUT,        -17,    504, "timeout")               \
    X(STALE,          -18,    409, "stale")                 \
    X(REJECTED,       -19,    422, "rejected")              \
    X(NOT_SUPPORTED,  -20,    501, "not_supported")     \
    X(URI_TOO_LONG,   -21,    414, "uri_too_long")      \
    X(HEADERS_TOO_LARGE, -22, 431, "header_fields_too_large") \
    X(NO_SPACE,       -23,    507, "insufficient_storage")

enum iq_err {
#define IQ_ERROR_ENUM(name, value, http, str) IQ_E_##name = (value),
    IQ_ERROR_KINDS(IQ_ERROR_ENUM)
#undef IQ_ERROR_ENUM
};

/* One field-level problem: "target.columns[2].type" + "unknown type \"strng\"". */
struct iq_field_error {
    char *field;
    char *message;
};

/*
 * struct iq_error - detail of a failure, filled by the callee.
 * Zero-initialise it ({0}) before use; iq_error_clear() frees what it holds
 * and leaves it reusable. message is NULL until something set it.
 */
struct iq_error {
    int code;                       /* enum iq_err */
    char *message;                  /* owned; NULL when unset */
    struct iq_field_error *fields;  /* owned array */
    size_t field_count;
    size_t field_capacity;
};

/* iq_err_name - stable lower-case name of an error code ("not_found"). */
const char *iq_err_name(int code);

/* iq_err_http_status - HTTP status for an error code (500 for unknown codes). */
int iq_err_http_status(int code);

/*
 * iq_error_set - record code and a printf-style message in err (which may be
 * NULL). Replaces an earlier message but keeps field errors.
 * Returns code, so callers can write: return iq_error_set(err, IQ_E_..., ...).
 */
int iq_error_set(struct iq_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int iq_error_setv(struct iq_error *err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * iq_error_add_field - append a field error (err may be NULL). Sets
 * err->code to IQ_E_INVALID when it was still OK. Returns IQ_E_INVALID.
 */
int iq_error_add_field(struct iq_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* iq_error_clear - free the contents of err (NULL-safe) and zero it. */
void iq_error_clear(struct iq_error *err);

/* iq_error_message - err->message, or the kind's name when no message was set. */
const char *iq_error_message(const struct iq_error *err);

#endif
