/* Tokens on calls (see auth.h).  Every failure is logged with the peer and
 * the token's id when it has one, never with its secret, and counted by
 * authlimit.c; refusals while a peer is locked out are logged at most
 * once a second, with how many there were. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include "daemon/access.h"
#include "daemon/auth.h"
#include "daemon/authlimit.h"
#include "daemon/log.h"
#include "daemon/store.h"
#include "daemon/token_store.h"
#include "daemon/vmd.h"
#include "rpc/schema.h"

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Refusals of a locked-out peer: one log line a second at most. */
static void log_locked(const struct call *c, int wait)
{
	static time_t last;
	static unsigned long quiet;
	time_t now = time(NULL);

	if (now == last) {
		quiet++;
		return;
	}
	log_warn("client %s: token refused unchecked: too many failed tokens "
		 "from uid %d (%lu more refused since the last line; next "
		 "check in %d s)", c->who, (int)c->uid, quiet, wait);
	last = now;
	quiet = 0;
}

/* A failed token: log (id only), count, and reply. */
static bool refuse(struct call *c, const char *id, const char *why,
		   const char *desc)
{
	log_warn("client %s: token %s refused for %s: %s", c->who,
		 id ? id : "(malformed)", c->command, why);
	authlimit_fail(c->uid, mono_now());
	call_error(c, RPC_PERMISSION_DENIED, "%s", desc);
	return false;
}

/* Checks the secret, then the state (only to a holder of the secret may
 * vmd say that the token was revoked or expired). */
static bool check(struct call *c, struct token *t, const char *id,
		  const unsigned char *secret)
{
	int64_t now = (int64_t)time(NULL);
	int rc = token_get(vmd.store, id, t);
	char desc[128];

	if (rc == STORE_ERR) {
		call_error(c, RPC_GENERIC_ERROR, "store: %s", store_errmsg(vmd.store));
		return false;
	}
	if (rc != STORE_OK)
		return refuse(c, id, "unknown id", "invalid token");
	if (!token_secret_ok(t, secret))
		return refuse(c, id, "wrong secret", "invalid token");
	if (strcmp(token_state(t, now), "active")) {
		snprintf(desc, sizeof desc, "token %s (%s) has %s", id, t->label,
			 t->revoked ? "been revoked" : "expired");
		return refuse(c, id, token_state(t, now), desc);
	}
	return true;
}

bool auth_token(struct call *c)
{
	unsigned char secret[TOKEN_SECRET_BYTES];
	char id[TOKEN_ID_LEN + 1];
	int wait = authlimit_wait(c->uid, mono_now());
	struct token *t;
	bool ok;

	if (wait) {
		log_locked(c, wait);
		call_error(c, RPC_PERMISSION_DENIED, "too many failed tokens from "
			   "uid %d; try again in %d s", (int)c->uid, wait);
		return false;
	}
	if (token_parse(c->token_text, id, secret) < 0)
		return refuse(c, NULL, "not a vmd token", "invalid token: "
			      "expected vmd_ID_SECRET");
	if (!(t = calloc(1, sizeof *t))) {
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return false;
	}
	ok = check(c, t, id, secret);
	OPENSSL_cleanse(secret, sizeof secret);
	if (!ok) {
		auth_token_free(t);
		return false;
	}
	c->token = t;
	c->role = t->kind == TOKEN_ADMIN ? ROLE_ADMIN : ROLE_READ;
	size_t n = strlen(c->who);
	snprintf(c->who + n, sizeof c->who - n, " token=%s", t->id);
	return true;
}

bool auth_permits(struct call *c, struct json_object *spec, int need)
{
	struct json_object *op = NULL;
	char why[256];

	json_object_object_get_ex(spec, "operation", &op);
	if (token_permits(c->token, c->command, need, json_object_get_string(op),
			  rpc_member_str(c->args, "vm"), why, sizeof why))
		return true;
	call_error(c, RPC_PERMISSION_DENIED, "%s", why);
	return false;
}

bool auth_may_type(const struct call *c, const char *vm)
{
	if (c->token)
		return c->token->kind != TOKEN_READ &&
		       token_allows(c->token, vm, "console");
	return c->role >= ROLE_ADMIN;
}

bool auth_sees_vm(const struct call *c, const char *vm)
{
	return !c->token || token_sees_vm(c->token, vm);
}

bool auth_event_visible(const struct token *t, struct json_object *event)
{
	struct json_object *data, *vm;

	if (t->kind != TOKEN_VMS)
		return true;
	return json_object_object_get_ex(event, "data", &data) &&
	       json_object_object_get_ex(data, "vm", &vm) &&
	       json_object_is_type(vm, json_type_string) &&
	       token_sees_vm(t, json_object_get_string(vm));
}

void auth_token_free(struct token *t)
{
	if (t)
		token_clear(t);
	free(t);
}
