/*
 * gui.h - the admin GUI's files (src/web/), built into the binary by
 * cmake/embed_web.cmake and served by routes_gui.c. Each file is kept
 * twice, as written and gzipped, so that a browser gets the small copy and
 * any other client the plain one without the server compressing anything
 * at run time.
 */
#ifndef IMPORTQ_API_GUI_H
#define IMPORTQ_API_GUI_H

#include <stddef.h>

struct gui_asset {
    const char *name;         /* file name in src/web/: "index.html", "app.js" */
    const char *content_type; /* with charset for text */
    const unsigned char *data;
    size_t data_len;
    const unsigned char *gzip_data; /* the same bytes, gzip -9 */
    size_t gzip_len;
    const char *etag; /* quoted: "\"<hash of data>\"" */
};

/* Every file, terminated by a zeroed row (name NULL). */
extern const struct gui_asset gui_assets[];

/* A hash of every file: the assets live under /assets/<version>/, so a
 * new build never meets an old cached copy. */
extern const char gui_assets_version[];

#endif
