/* token-create, token-list and token-revoke (admin).  The secret exists in
 * vmd only while token-create builds its reply; the store gets its hash.
 * A revoked token's open sessions close at once (server_token_gone). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/store.h"
#include "daemon/token_store.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "rpc/schema.h"

/* Live tokens at once: each is a row and, while used, a session. */
#define TOKENS_ACTIVE_MAX 4096

static struct json_object *token_json(const struct token *t, int64_t now)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(t->id));
	json_object_object_add(o, "label", json_object_new_string(t->label));
	json_object_object_add(o, "scope", json_object_get(t->scope));
	json_object_object_add(o, "created", json_object_new_int64(t->created));
	if (t->expires)
		json_object_object_add(o, "expires", json_object_new_int64(t->expires));
	if (t->revoked)
		json_object_object_add(o, "revoked", json_object_new_int64(t->revoked));
	json_object_object_add(o, "state", json_object_new_string(token_state(t, now)));
	return o;
}

/* expires_in (seconds from now) or expires_at (unix seconds), not both;
 * 0 for never, -1 after replying. */
static int64_t expiry_arg(struct call *c, int64_t now)
{
	struct json_object *in = NULL, *at = NULL;

	json_object_object_get_ex(c->args, "expires_in", &in);
	json_object_object_get_ex(c->args, "expires_at", &at);
	if (in && at) {
		call_error(c, RPC_INVALID_ARGUMENT, "token-create: give expires_in "
			   "or expires_at, not both");
		return -1;
	}
	if (at && json_object_get_int64(at) <= now) {
		call_error(c, RPC_INVALID_ARGUMENT, "token-create: expires_at %lld "
			   "is not in the future (now %lld)",
			   (long long)json_object_get_int64(at), (long long)now);
		return -1;
	}
	return in ? now + json_object_get_int64(in) :
	       at ? json_object_get_int64(at) : 0;
}

/* Each VM of a scope exists now (a token for a name nobody has would
 * quietly grant a VM defined later under it). */
static int check_vms_exist(struct call *c, struct json_object *scope)
{
	if (!json_object_is_type(scope, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(scope); i++) {
		const char *vm = rpc_member_str(json_object_array_get_idx(scope, i),
						"vm");
		if (!vm_find(vm)) {
			call_error(c, RPC_VM_NOT_FOUND, "token-create: scope[%zu].vm: "
				   "no VM named '%s'", i, vm);
			return -1;
		}
	}
	return 0;
}

/* A label goes into log lines and tables: no control characters. */
static int check_label(struct call *c, const char *label)
{
	for (const unsigned char *p = (const unsigned char *)label; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			call_error(c, RPC_INVALID_ARGUMENT, "token-create: label: "
				   "control character at byte %d",
				   (int)(p - (const unsigned char *)label));
			return -1;
		}
	return 0;
}

/* The token's row, or an error replied. */
static int create_row(struct call *c, struct token *t, int64_t now)
{
	int active = token_count_active(vmd.store, now);

	if (active >= TOKENS_ACTIVE_MAX) {
		call_error(c, RPC_BUSY, "token-create: %d tokens are active (at "
			   "most %d); revoke some first", active, TOKENS_ACTIVE_MAX);
		return -1;
	}
	if (active < 0 || token_insert(vmd.store, t) != STORE_OK) {
		call_error(c, RPC_GENERIC_ERROR, "store: %s", store_errmsg(vmd.store));
		return -1;
	}
	return 0;
}

void cmd_token_create(struct call *c)
{
	struct json_object *scope = NULL, *r;
	unsigned char secret[TOKEN_SECRET_BYTES];
	char text[TOKEN_TEXT_LEN + 1], why[256];
	int64_t now = (int64_t)time(NULL);
	struct token t = {.created = now};

	json_object_object_get_ex(c->args, "scope", &scope);
	snprintf(t.label, sizeof t.label, "%s", call_str(c, "label"));
	if (check_label(c, t.label) < 0 || (t.expires = expiry_arg(c, now)) < 0 ||
	    check_vms_exist(c, scope) < 0)
		return;
	if (token_set_scope(&t, scope, why, sizeof why) < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "token-create: %s", why);
		return;
	}
	if (token_generate(t.id, secret) < 0) {
		token_clear(&t);
		call_error(c, RPC_GENERIC_ERROR, "token-create: no random bytes");
		return;
	}
	token_hash(secret, t.hash);
	if (create_row(c, &t, now) < 0) {
		OPENSSL_cleanse(secret, sizeof secret);
		token_clear(&t);
		return;
	}
	store_event_add(vmd.store, NULL, NULL, "token-create", NULL, NULL,
			t.id, c->who);
	log_info("token %s (%s) created by %s", t.id, t.label, c->who);
	token_format(t.id, secret, text);
	OPENSSL_cleanse(secret, sizeof secret);
	r = token_json(&t, now);
	json_object_object_add(r, "token", json_object_new_string(text));
	OPENSSL_cleanse(text, sizeof text);
	token_clear(&t);
	call_reply_synced(c, r);
}

static int list_one(void *ctx, const struct token *t)
{
	json_object_array_add(ctx, token_json(t, (int64_t)time(NULL)));
	return 0;
}

void cmd_token_list(struct call *c)
{
	struct json_object *arr = json_object_new_array();

	if (token_foreach(vmd.store, list_one, arr) != 0) {
		json_object_put(arr);
		call_error(c, RPC_GENERIC_ERROR, "store: %s", store_errmsg(vmd.store));
		return;
	}
	call_return(c, arr);
}

void cmd_token_revoke(struct call *c)
{
	const char *id = call_str(c, "id");
	int64_t now = (int64_t)time(NULL);
	int rc = token_revoke(vmd.store, id, now);

	if (rc == STORE_NOT_FOUND) {
		call_error(c, RPC_INVALID_ARGUMENT, "token-revoke: id: no token "
			   "'%s' (see token-list)", id);
		return;
	}
	if (rc != STORE_OK) {
		call_error(c, RPC_GENERIC_ERROR, "store: %s", store_errmsg(vmd.store));
		return;
	}
	store_event_add(vmd.store, NULL, NULL, "token-revoke", NULL, NULL, id,
			c->who);
	log_info("token %s revoked by %s", id, c->who);
	server_token_gone(id, "token-revoked");
	call_reply_synced(c, NULL);
}
