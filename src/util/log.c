/*
 * log.c - logfmt lines on stderr. The level is the one process-wide
 * setting (an atomic int); each line is built in memory and written with a
 * single write(2) so lines from threads never interleave.
 */
#include "util/log.h"

#include "core/error.h"
#include "core/timeutil.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int current_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(enum log_level level)
{
    atomic_store(&current_level, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&current_level);
}

int log_level_parse(const char *text, enum log_level *ret_level)
{
    for (int i = 0; text && i <= LOG_OFF; i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *ret_level = (enum log_level)i;
            return 0;
        }
    }
    return IQ_E_INVALID;
}

/* Appends value to f, quoted and escaped when it has spaces, quotes, = or controls. */
static void put_value(FILE *f, const char *value)
{
    if (!value) {
        fputs("null", f);
        return;
    }
    bool plain = *value != '\0';
    for (const char *p = value; *p && plain; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            plain = false;
    if (plain) {
        fputs(value, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < ' ' || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void log_event(enum log_level level, const char *msg, ...)
{
    if ((int)level < atomic_load(&current_level) || level >= LOG_OFF)
        return;
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f)
        return;
    char ts[TIME_RFC3339_LEN];
    fprintf(f, "ts=%s level=%s msg=", time_format_rfc3339(time_now_ms(), ts), level_names[level]);
    put_value(f, msg);
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *value = va_arg(ap, const char *);
        fprintf(f, " %s=", key);
        put_value(f, value);
    }
    va_end(ap);
    fputc('\n', f);
    fclose(f);
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
    free(line);
}
