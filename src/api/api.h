/*
 * api.h - the HTTP API of one importq node (CONTRACT §3): a libmicrohttpd
 * daemon with a pool of threads, a router with one small handler per
 * route, bearer-token auth with roles, RFC 9457 problem+json errors.
 *
 * The API calls down only: into the store (one pooled connection per
 * request) and into the engine (engine_wake after a submission). It holds
 * no job state of its own, so any number of nodes can serve it.
 *
 * Not for: the admin GUI's assets, schedules, alerts and history (later
 * issues).
 */
#ifndef IMPORTQ_API_API_H
#define IMPORTQ_API_API_H

#include "core/error.h"
#include "util/config.h"

#include <stdint.h>

struct api;
struct engine;
struct metrics;

struct api_options {
    const struct config *config; /* db, listen, limits, TLS, spool_dir; must
                                    outlive the api */
    struct engine *engine;       /* woken after submissions; may be NULL */
    const char *version;         /* reported by /healthz; NULL = "dev" */
    struct metrics *metrics;     /* where requests are counted and GET /metrics
                                    reads; NULL: no metrics (GET /metrics 404).
                                    Must outlive the api, as must version. */
};

/*
 * api_start - bind config->listen and start serving. Refuses (IQ_E_INVALID)
 * a non-loopback address while no active token exists, and a TLS setup
 * with only one of tls_cert/tls_key. Returns 0 and a running api (stop it
 * with api_stop), or a negative code with err set (IQ_E_IO when the
 * address cannot be bound, IQ_E_DB when the database is unreachable).
 */
int api_start(const struct api_options *opts, struct api **ret_api, struct iq_error *err);

/* api_port - the TCP port actually bound (useful with port 0). */
int api_port(const struct api *api);

/*
 * api_stop - stop accepting, finish the requests in flight, close every
 * pooled connection and free the api. NULL-safe.
 */
void api_stop(struct api *api);

#endif
