/*
 * error.c - error kinds table and struct iq_error helpers.
 * Allocation failures while recording detail are swallowed: the error code
 * is still returned, only the text is lost.
 */
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *iq_err_name(int code)
{
    switch (code) {
#define IQ_ERROR_NAME(name, value, http, str) \
    case (value):                             \
        return (str);
        IQ_ERROR_KINDS(IQ_ERROR_NAME)
#undef IQ_ERROR_NAME
    }
    return "internal";
}

int iq_err_http_status(int code)
{
    switch (code) {
#define IQ_ERROR_HTTP(name, value, http, str) \
    case (value):                             \
        return (http);
        IQ_ERROR_KINDS(IQ_ERROR_HTTP)
#undef IQ_ERROR_HTTP
    }
    return 500;
}

int iq_error_setv(struct iq_error *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    char *text = NULL;
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    free(err->message);
    err->message = text;
    return code;
}

int iq_error_set(struct iq_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    iq_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int iq_error_add_field(struct iq_error *err, const char *field, const char *fmt, ...)
{
    if (!err)
        return IQ_E_INVALID;
    if (err->code == IQ_E_OK)
        err->code = IQ_E_INVALID;
    if (err->field_count == err->field_capacity) {
        size_t cap = err->field_capacity ? err->field_capacity * 2 : 8;
        struct iq_field_error *grown = realloc(err->fields, cap * sizeof(*grown));
        if (!grown)
            return IQ_E_INVALID;
        err->fields = grown;
        err->field_capacity = cap;
    }
    char *message = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&message, fmt, ap) < 0)
        message = NULL;
    va_end(ap);
    char *name = strdup(field ? field : "");
    if (!message || !name) {
        free(message);
        free(name);
        return IQ_E_INVALID;
    }
    err->fields[err->field_count].field = name;
    err->fields[err->field_count].message = message;
    err->field_count++;
    return IQ_E_INVALID;
}

void iq_error_clear(struct iq_error *err)
{
    if (!err)
        return;
    for (size_t i = 0; i < err->field_count; i++) {
        free(err->fields[i].field);
        free(err->fields[i].message);
    }
    free(err->fields);
    free(err->message);
    memset(err, 0, sizeof(*err));
}

const char *iq_error_message(const struct iq_error *err)
{
    if (!err)
        return "unknown error";
    if (err->message)
        return err->message;
    return iq_err_name(err->code);
}
