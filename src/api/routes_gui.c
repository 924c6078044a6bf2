/*
 * routes_gui.c - the admin GUI: GET / (index.html) and GET
 * /assets/{version}/{file} (its styles and script modules), served from
 * the copies built into the binary (gui.h). No token is needed to load the
 * page; the page asks for one and sends it with every API call.
 *
 * Headers: a Content-Security-Policy that allows scripts, styles and
 * connections from this origin only (no inline script or style, no eval,
 * no framing); nosniff; the gzipped copy when the client accepts gzip.
 * Caching: index.html is revalidated every time (ETag, 304); the assets
 * live under the build's version, so they are cached for a year and
 * marked immutable. An asset of another version is a 404: the page that
 * asked for it is older than this binary and is reloaded by its user.
 *
 * Not for: the API (router.c), or any file outside src/web/.
 */
#include "api/gui.h"
#include "api/routes.h"

#include <stdlib.h>
#include <string.h>

#define GUI_CSP                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "                  \
    "form-action 'self'; frame-ancestors 'none'"

/* gui_asset_find - the embedded file called name, or NULL. */
static const struct gui_asset *gui_asset_find(const char *name)
{
    for (const struct gui_asset *a = gui_assets; a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

/* accepts_gzip - whether Accept-Encoding names gzip with a q above 0. */
static bool accepts_gzip(const struct api_request *req)
{
    const char *value = api_header_value(req, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    const char *at = value ? strcasestr(value, "gzip") : NULL;
    if (!at)
        return false;
    const char *end = strchr(at, ',');
    const char *q = strstr(at, "q=");
    if (!q || (end && q > end))
        return true;
    return strtod(q + 2, NULL) > 0;
}

/* etag_matches - whether If-None-Match names etag (or is "*"). */
static bool etag_matches(const struct api_request *req, const char *etag)
{
    const char *value = api_header_value(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
    return value && (strcmp(value, "*") == 0 || strstr(value, etag) != NULL);
}

/* gui_send - answer with asset a under cache_control. */
static void gui_send(struct api_request *req, struct api_response *res, const struct gui_asset *a,
                     const char *cache_control)
{
    api_header_add(res, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    api_header_add(res, MHD_HTTP_HEADER_ETAG, a->etag);
    api_header_add(res, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    api_header_add(res, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, GUI_CSP);
    api_header_add(res, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    api_header_add(res, "Referrer-Policy", "no-referrer");
    if (etag_matches(req, a->etag)) {
        api_reply_take(res, 304, NULL, NULL, 0);
        return;
    }
    if (accepts_gzip(req)) {
        api_header_add(res, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        api_reply_text(res, 200, a->content_type, (const char *)a->gzip_data, a->gzip_len);
    } else {
        api_reply_text(res, 200, a->content_type, (const char *)a->data, a->data_len);
    }
}

void route_gui_index(struct api_request *req, struct api_response *res)
{
    const struct gui_asset *a = gui_asset_find("index.html");
    if (!a) {
        api_reply_problem(req, res, IQ_E_NOT_FOUND, "this binary was built without the GUI");
        return;
    }
    gui_send(req, res, a, "no-cache");
}

void route_gui_asset(struct api_request *req, struct api_response *res)
{
    const char *version = req->params[0], *name = req->params[1];
    const struct gui_asset *a = gui_asset_find(name);
    if (strcmp(version, gui_assets_version) != 0 || !a || strcmp(name, "index.html") == 0) {
        api_reply_problem(req, res, IQ_E_NOT_FOUND,
                          "no such GUI file in this build (reload the page)");
        return;
    }
    gui_send(req, res, a, "public, max-age=31536000, immutable");
}
