/*
 * config.c - defaults, INI file (inih), IMPORTQ_* environment and the
 * typed value parsers. Every option is one row of CONFIG_OPTIONS; the
 * setter finds the row by key and stores into the matching struct field
 * through an offset table, so adding an option is one line in config.h.
 */
#include "util/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct config_option config_options[] = {
#define CONFIG_OPTION_ROW(field, key, type, def, help) {key, CONFIG_##type, def, help},
    CONFIG_OPTIONS(CONFIG_OPTION_ROW)
#undef CONFIG_OPTION_ROW
    {NULL, CONFIG_STRING, NULL, NULL},
};

static const size_t field_offsets[] = {
#define CONFIG_OFFSET_ROW(field, key, type, def, help) offsetof(struct config, field),
    CONFIG_OPTIONS(CONFIG_OFFSET_ROW)
#undef CONFIG_OFFSET_ROW
};

/* "max_concurrent", "MAX-CONCURRENT" ... compare equal to "max-concurrent". */
static bool key_matches(const char *option_key, const char *key)
{
    for (; *option_key && *key; option_key++, key++) {
        char a = *option_key == '_' ? '-' : *option_key;
        char b = *key == '_' ? '-' : (char)tolower((unsigned char)*key);
        if (a != b)
            return false;
    }
    return *option_key == '\0' && *key == '\0';
}

int config_parse_int(const char *text, int64_t *ret_value)
{
    if (!text || !isdigit((unsigned char)*text))
        return IQ_E_INVALID;
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno || *end != '\0' || value > INT_MAX)
        return IQ_E_INVALID;
    *ret_value = value;
    return 0;
}

/* Parses "<digits><unit>" pieces with a unit table; bare digits use bare_unit. */
struct unit {
    const char *name;
    int64_t factor;
};

static int parse_with_units(const char *text, const struct unit *units, int64_t bare_unit,
                            bool allow_sequence, int64_t *ret_value)
{
    if (!text || !*text)
        return IQ_E_INVALID;
    int64_t total = 0;
    const char *p = text;
    int pieces = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return IQ_E_INVALID;
        errno = 0;
        char *end;
        long long number = strtoll(p, &end, 10);
        if (errno || number < 0)
            return IQ_E_INVALID;
        p = end;
        const char *unit_start = p;
        while (isalpha((unsigned char)*p))
            p++;
        size_t unit_len = (size_t)(p - unit_start);
        int64_t factor = -1;
        if (unit_len == 0) {
            if (*p != '\0' || pieces > 0)
                return IQ_E_INVALID;
            factor = bare_unit;
        } else {
            for (const struct unit *u = units; u->name; u++) {
                if (strlen(u->name) == unit_len && strncasecmp(u->name, unit_start, unit_len) == 0) {
                    factor = u->factor;
                    break;
                }
            }
        }
        if (factor < 0)
            return IQ_E_INVALID;
        if (number > INT64_MAX / factor || total > INT64_MAX - number * factor)
            return IQ_E_INVALID;
        total += number * factor;
        pieces++;
        if (!allow_sequence && *p)
            return IQ_E_INVALID;
    }
    *ret_value = total;
    return 0;
}

int config_parse_duration_ms(const char *text, int64_t *ret_ms)
{
    static const struct unit units[] = {
        {"ms", 1},          {"s", 1000},        {"sec", 1000},     {"m", 60000},
        {"min", 60000},     {"h", 3600000},     {"d", 86400000},   {NULL, 0},
    };
    return parse_with_units(text, units, 1000, true, ret_ms);
}

int config_parse_size(const char *text, int64_t *ret_bytes)
{
    static const struct unit units[] = {
        {"b", 1},
        {"k", 1024},           {"kb", 1000},          {"kib", 1024},
        {"m", 1024 * 1024},    {"mb", 1000 * 1000},   {"mib", 1024 * 1024},
        {"g", 1 << 30},        {"gb", 1000000000},    {"gib", 1 << 30},
        {NULL, 0},
    };
    return parse_with_units(text, units, 1, false, ret_bytes);
}

int config_parse_bool(const char *text, bool *ret_value)
{
    static const char *const truthy[] = {"1", "true", "yes", "on", NULL};
    static const char *const falsy[] = {"0", "false", "no", "off", NULL};
    for (int i = 0; text && truthy[i]; i++) {
        if (strcasecmp(text, truthy[i]) == 0) {
            *ret_value = true;
            return 0;
        }
        if (strcasecmp(text, falsy[i]) == 0) {
            *ret_value = false;
            return 0;
        }
    }
    return IQ_E_INVALID;
}

static const char *type_hint(enum config_type type)
{
    switch (type) {
    case CONFIG_INT:
        return "a non-negative integer";
    case CONFIG_DURATION:
        return "a duration like 90s, 5min, 1h30m or 250ms";
    case CONFIG_SIZE:
        return "a size like 1MiB, 512k or 10MB";
    case CONFIG_BOOL:
        return "true or false";
    case CONFIG_STRING:
        break;
    }
    return "a string";
}

int config_set(struct config *cfg, const char *key, const char *value, const char *origin,
               struct iq_error *err)
{
    for (size_t i = 0; config_options[i].key; i++) {
        const struct config_option *opt = &config_options[i];
        if (!key_matches(opt->key, key))
            continue;
        char *field = (char *)cfg + field_offsets[i];
        int rc = 0;
        switch (opt->type) {
        case CONFIG_STRING: {
            char *copy = strdup(value ? value : "");
            if (!copy)
                return iq_error_set(err, IQ_E_NOMEM, "out of memory");
            free(*(char **)field);
            *(char **)field = copy;
            return 0;
        }
        case CONFIG_INT:
            rc = config_parse_int(value, (int64_t *)field);
            break;
        case CONFIG_DURATION:
            rc = config_parse_duration_ms(value, (int64_t *)field);
            break;
        case CONFIG_SIZE:
            rc = config_parse_size(value, (int64_t *)field);
            break;
        case CONFIG_BOOL:
            rc = config_parse_bool(value, (bool *)field);
            break;
        }
        if (rc < 0)
            return iq_error_set(err, IQ_E_INVALID, "%s: invalid %s \"%s\": expected %s", origin,
                                opt->key, value ? value : "", type_hint(opt->type));
        return 0;
    }
    return iq_error_set(err, IQ_E_NOT_FOUND, "%s: unknown setting \"%s\"", origin, key);
}

int config_init(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; config_options[i].key; i++) {
        struct iq_error err = {0};
        int rc = config_set(cfg, config_options[i].key, config_options[i].default_value,
                            "default", &err);
        iq_error_clear(&err);
        if (rc < 0) {
            config_clear(cfg);
            return rc;
        }
    }
    return 0;
}

void config_clear(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->target_count; i++) {
        free(cfg->targets[i].name);
        free(cfg->targets[i].url);
    }
    free(cfg->targets);
    cfg->targets = NULL;
    cfg->target_count = 0;
    for (size_t i = 0; config_options[i].key; i++) {
        if (config_options[i].type == CONFIG_STRING) {
            char **field = (char **)((char *)cfg + field_offsets[i]);
            free(*field);
            *field = NULL;
        }
    }
}

/* The same rule as a target table name: ^[A-Za-z_][A-Za-z0-9_]{0,62}$ */
static bool target_name_is_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 63 || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_'))
            return false;
    return true;
}

int config_set_target(struct config *cfg, const char *name, const char *url, struct iq_error *err)
{
    if (!target_name_is_valid(name))
        return iq_error_set(err, IQ_E_INVALID, "target database name \"%s\" is not an identifier",
                            name);
    for (size_t i = 0; i < cfg->target_count; i++) {
        if (strcmp(cfg->targets[i].name, name) == 0) {
            char *copy = strdup(url);
            if (!copy)
                return iq_error_set(err, IQ_E_NOMEM, "out of memory");
            free(cfg->targets[i].url);
            cfg->targets[i].url = copy;
            return 0;
        }
    }
    if (cfg->target_count == CONFIG_MAX_TARGETS)
        return iq_error_set(err, IQ_E_INVALID, "more than %d target databases", CONFIG_MAX_TARGETS);
    struct config_target *grown = realloc(cfg->targets, (cfg->target_count + 1) * sizeof(*grown));
    if (!grown)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    cfg->targets = grown;
    struct config_target *t = &cfg->targets[cfg->target_count];
    t->name = strdup(name);
    t->url = strdup(url);
    if (!t->name || !t->url) {
        free(t->name);
        free(t->url);
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    cfg->target_count++;
    return 0;
}

const char *config_target_url(const struct config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->target_count; i++)
        if (strcmp(cfg->targets[i].name, name) == 0)
            return cfg->targets[i].url;
    return NULL;
}

struct ini_state {
    struct config *cfg;
    const char *path;
    struct iq_error *err;
    int rc;
};

/* inih calls this per key; returning 0 makes ini_parse_file report the line. */
static int ini_handler_cb(void *user, const char *section, const char *name, const char *value)
{
    struct ini_state *state = user;
    if (state->rc < 0)
        return 0;
    if (strncmp(section, "target.", 7) == 0) {
        if (strcmp(name, "url") != 0)
            state->rc = iq_error_set(state->err, IQ_E_INVALID,
                                     "[%s]: unknown key \"%s\" (a target has only url)", section,
                                     name);
        else
            state->rc = config_set_target(state->cfg, section + 7, value, state->err);
        return state->rc == 0;
    }
    if (section[0] != '\0' && strcmp(section, "importq") != 0) {
        state->rc = iq_error_set(state->err, IQ_E_INVALID, "unknown section [%s]", section);
        return 0;
    }
    state->rc = config_set(state->cfg, name, value, "setting", state->err);
    if (state->rc == IQ_E_NOT_FOUND)
        state->rc = IQ_E_INVALID;
    return state->rc == 0;
}

int config_load_file(struct config *cfg, const char *path, struct iq_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return iq_error_set(err, IQ_E_IO, "cannot read config file %s: %s", path, strerror(errno));
    struct ini_state state = {cfg, path, err, 0};
    int line = ini_parse_file(f, ini_handler_cb, &state);
    fclose(f);
    if (state.rc < 0) {
        char *detail = strdup(iq_error_message(err));
        iq_error_set(err, state.rc, "%s:%d: %s", path, line, detail ? detail : "invalid setting");
        free(detail);
        return state.rc;
    }
    if (line != 0)
        return iq_error_set(err, IQ_E_INVALID, "%s:%d: syntax error", path, line);
    return 0;
}

void config_env_name(const char *key, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "IMPORTQ_");
    for (const char *p = key; *p && n + 1 < size; p++)
        buf[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    if (n < size)
        buf[n] = '\0';
}

int config_load_env(struct config *cfg, const char *(*getenv_fn)(const char *name),
                    char *const *envp, struct iq_error *err)
{
    static const char prefix[] = "IMPORTQ_TARGET_";
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *eq = strchr(envp[i], '=');
        if (strncmp(envp[i], prefix, sizeof(prefix) - 1) != 0 || !eq)
            continue;
        char name[80];
        size_t len = (size_t)(eq - envp[i]) - (sizeof(prefix) - 1);
        if (len >= sizeof(name))
            return iq_error_set(err, IQ_E_INVALID, "target database name in %.*s is too long",
                                (int)(eq - envp[i]), envp[i]);
        for (size_t k = 0; k < len; k++)
            name[k] = (char)tolower((unsigned char)envp[i][sizeof(prefix) - 1 + k]);
        name[len] = '\0';
        int rc = config_set_target(cfg, name, eq + 1, err);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; config_options[i].key; i++) {
        char name[64];
        config_env_name(config_options[i].key, name, sizeof(name));
        const char *value = getenv_fn(name);
        if (!value)
            continue;
        int rc = config_set(cfg, config_options[i].key, value, name, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}
