/*
 * framing.c - the checks on a request's line and headers that
 * libmicrohttpd 0.9.75 does not make, run before anything else looks at
 * the request. Each failure is answered 400 (or 414/431 for size) as
 * problem+json and the connection is closed, since a server that guesses
 * where an ambiguous request ends can be made to read the next request
 * differently from a proxy in front of it (request smuggling).
 *
 * What libmicrohttpd lets through and these refuse:
 *   - more than one Content-Length (it uses the first),
 *   - Transfer-Encoding with Content-Length (it reads chunked and keeps
 *     the connection), Transfer-Encoding other than exactly "chunked"
 *     (it reads an unknown coding until the client closes), more than
 *     one Transfer-Encoding, Transfer-Encoding in HTTP/1.0,
 *   - HTTP/1.1 without exactly one Host,
 *   - a header name with a space or another non-token byte before its
 *     colon ("Transfer-Encoding : chunked" is not Transfer-Encoding to
 *     it, but is to some proxies),
 *   - %00 anywhere in the target (it cuts the decoded path or argument
 *     there), a space, control or non-ASCII byte in the target,
 *   - a target over API_MAX_TARGET_BYTES (414) and headers over
 *     API_MAX_HEADER_BYTES (431): libmicrohttpd's own limits sit above
 *     these (its memory pool, see server.c), so these answers are ours.
 *
 * Not checked here (see server.c for what libmicrohttpd answers itself).
 */
#include "api/api_internal.h"

#include <string.h>
#include <strings.h>

/* is_token_byte - RFC 9110 tchar. */
static bool is_token_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int api_check_target(const char *raw_target, struct iq_error *err)
{
    if (!raw_target)
        return 0; /* libmicrohttpd refuses a request line without one */
    size_t len = strlen(raw_target);
    if (len > API_MAX_TARGET_BYTES)
        return iq_error_set(err, IQ_E_URI_TOO_LONG, "the request target is over %d bytes",
                            API_MAX_TARGET_BYTES);
    for (const char *c = raw_target; *c; c++) {
        unsigned char byte = (unsigned char)*c;
        if (byte <= 0x20 || byte >= 0x7f)
            return iq_error_set(err, IQ_E_BAD_REQUEST,
                                "the request target has a space, control or non-ASCII byte "
                                "(0x%02x); percent-encode it",
                                byte);
        if (c[0] == '%' && c[1] == '0' && c[2] == '0')
            return iq_error_set(err, IQ_E_BAD_REQUEST,
                                "the request target may not contain %%00 (a NUL byte)");
    }
    return 0;
}

/* What one pass over the request's headers found. */
struct header_census {
    int content_length_count;
    int transfer_encoding_count;
    int host_count;
    const char *transfer_encoding;
    const char *bad_name; /* the first name that is not a token */
    size_t bytes;         /* names, values and separators */
};

static enum MHD_Result census_cb(void *cls, enum MHD_ValueKind kind, const char *name,
                                 const char *value)
{
    (void)kind;
    struct header_census *census = cls;
    census->bytes += strlen(name) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    bool token = *name != '\0';
    for (const char *c = name; *c && token; c++)
        token = is_token_byte((unsigned char)*c);
    if (!token && !census->bad_name)
        census->bad_name = name;
    if (strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        census->content_length_count++;
    else if (strcasecmp(name, MHD_HTTP_HEADER_HOST) == 0)
        census->host_count++;
    else if (strcasecmp(name, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        census->transfer_encoding_count++;
        census->transfer_encoding = value ? value : "";
    }
    return MHD_YES;
}

int api_check_framing(struct MHD_Connection *connection, const char *version, struct iq_error *err)
{
    struct header_census census = {0};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, census_cb, &census);
    bool http_1_0 = version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
    if (census.bytes > API_MAX_HEADER_BYTES)
        return iq_error_set(err, IQ_E_HEADERS_TOO_LARGE, "the request headers are over %d bytes",
                            API_MAX_HEADER_BYTES);
    if (census.bad_name)
        return iq_error_set(err, IQ_E_BAD_REQUEST,
                            "a header name has a space or a byte not allowed in a name: "
                            "\"%.64s\"",
                            census.bad_name);
    if (census.content_length_count > 1)
        return iq_error_set(err, IQ_E_BAD_REQUEST, "more than one Content-Length header");
    if (census.transfer_encoding_count > 1)
        return iq_error_set(err, IQ_E_BAD_REQUEST, "more than one Transfer-Encoding header");
    if (census.transfer_encoding_count == 1) {
        if (census.content_length_count > 0)
            return iq_error_set(err, IQ_E_BAD_REQUEST,
                                "Content-Length and Transfer-Encoding together");
        if (http_1_0)
            return iq_error_set(err, IQ_E_BAD_REQUEST, "Transfer-Encoding in an HTTP/1.0 request");
        if (strcasecmp(census.transfer_encoding, "chunked") != 0)
            return iq_error_set(err, IQ_E_BAD_REQUEST,
                                "Transfer-Encoding \"%.32s\": only \"chunked\" is accepted",
                                census.transfer_encoding);
    }
    if (!http_1_0 && census.host_count != 1)
        return iq_error_set(err, IQ_E_BAD_REQUEST,
                            "an HTTP/1.1 request needs exactly one Host header");
    return 0;
}
