/*
 * migrations.h - the SQL migrations embedded at build time
 * (cmake/embed_migrations.cmake) from src/store/<backend>/migrations/, one table per backend.
 * Each table ends with a {0, NULL, NULL} sentinel.
 */
#ifndef IMPORTQ_STORE_MIGRATIONS_H
#define IMPORTQ_STORE_MIGRATIONS_H

struct migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct migration migrations_sqlite[];
extern const struct migration migrations_postgres[];

#endif
