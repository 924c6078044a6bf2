/*
 * routes_whoami.c - GET /api/v2/whoami: the caller's token name and role,
 * and what that role may do, so that a client (the admin GUI) can turn off
 * the actions its token would be refused. Only the caller's own token is
 * described; nothing secret is in the answer.
 */
#include "api/routes.h"

#include "core/auth.h"

void route_whoami(struct api_request *req, struct api_response *res)
{
    static const char *const allowed[] = {NULL};
    if (api_query_reject_unknown(req, res, allowed))
        return;
    enum token_role role = req->principal.role;
    json_t *can = json_pack("{s:b, s:b, s:b}", "read", role >= ROLE_VIEWER, "operate",
                            role >= ROLE_OPERATOR, "administer", role >= ROLE_ADMIN);
    api_reply_json(res, 200,
                   json_pack("{s:s, s:s, s:o}", "name", req->principal.name, "role",
                             token_role_name((int)role), "can", can));
}
