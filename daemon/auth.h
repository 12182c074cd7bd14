/* Tokens on calls.  A request may carry "token": "vmd_ID_SECRET" beside
 * "execute" (or "method"); then the call's rights are the token's alone,
 * whatever the peer's groups, so a gateway with no rights of its own can
 * pass each of its callers' tokens on one connection.  Without a token
 * the peer's credentials decide (access.c), as before.  A token given to
 * qmp_capabilities decides which events the session gets; one given to
 * console-attach is the console session's; either session is closed when
 * its token is revoked or expires. */
#ifndef VMD_DAEMON_AUTH_H
#define VMD_DAEMON_AUTH_H

#include <stdbool.h>
#include <json-c/json.h>
#include "daemon/server.h"
#include "daemon/token.h"

/* Check c->token_text and set c->token (and c->role, c->who).  false after
 * replying PermissionDenied: a malformed, unknown, wrong, revoked or
 * expired token, or a peer with too many failures (authlimit.h). */
bool auth_token(struct call *c);
/* Whether the token of c allows command (whose schema entry is spec);
 * false after replying PermissionDenied. */
bool auth_permits(struct call *c, struct json_object *spec, int need);
/* Whether c may type into vm's console (mode "rw"). */
bool auth_may_type(const struct call *c, const char *vm);
/* Whether c (with or without a token) may see vm at all. */
bool auth_sees_vm(const struct call *c, const char *vm);
/* Whether a session bound to t gets event (VM-scoped tokens: only events
 * about their VMs). */
bool auth_event_visible(const struct token *t, struct json_object *event);
void auth_token_free(struct token *t);

#endif
