/*
 * log.h - leveled, one-line-per-event logging in logfmt to stderr:
 *   ts=2026-11-28T21:31:03.123Z level=info msg="job started" job=0193... table=users
 * Only the top of the program (main, the engine's and API's handlers) logs;
 * library code returns errors instead (STYLE: log once, where handled).
 */
#ifndef IMPORTQ_UTIL_LOG_H
#define IMPORTQ_UTIL_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

/* log_set_level / log_level_parse ("debug", "info", "warn", "error", "off"). */
void log_set_level(enum log_level level);
int log_level_parse(const char *text, enum log_level *ret_level);
enum log_level log_get_level(void);

/*
 * log_event - write one logfmt line if level is enabled. The variadic part
 * is key/value string pairs ending with NULL:
 *   log_event(LOG_INFO, "job started", "job", id, "table", t, NULL);
 * Values are quoted and escaped when they need it. Thread-safe (one write(2)).
 */
void log_event(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#endif
