/* Tokens (see token.h).  Why SHA-256 and not a slow password hash: the
 * secret is 256 bits from the kernel's random source, not something a
 * person chose, so there is no dictionary to try; a stolen store gives
 * an attacker 2^256 guesses to make per token whatever the hash costs.
 * A slow hash would only slow down every call vmd serves. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include "daemon/access.h"
#include "daemon/token.h"

static const char hexd[] = "0123456789abcdef";

static void to_hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexd[p[i] >> 4];
		out[2 * i + 1] = hexd[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_val(char c)
{
	const char *p = c ? strchr(hexd, c) : NULL;

	return p ? (int)(p - hexd) : -1;
}

/* n bytes from 2n lowercase hex digits; -1 on anything else. */
static int from_hex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_val(s[2 * i]), lo = hi < 0 ? -1 : hex_val(s[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int token_generate(char id[TOKEN_ID_LEN + 1],
		   unsigned char secret[TOKEN_SECRET_BYTES])
{
	unsigned char raw[TOKEN_ID_LEN / 2];

	if (RAND_bytes(raw, sizeof raw) != 1 ||
	    RAND_bytes(secret, TOKEN_SECRET_BYTES) != 1)
		return -1;
	to_hex(raw, sizeof raw, id);
	return 0;
}

void token_hash(const unsigned char secret[TOKEN_SECRET_BYTES],
		unsigned char out[TOKEN_HASH_BYTES])
{
	SHA256(secret, TOKEN_SECRET_BYTES, out);
}

void token_format(const char *id, const unsigned char secret[TOKEN_SECRET_BYTES],
		  char *buf)
{
	char hex[2 * TOKEN_SECRET_BYTES + 1];

	to_hex(secret, TOKEN_SECRET_BYTES, hex);
	snprintf(buf, TOKEN_TEXT_LEN + 1, "vmd_%s_%s", id, hex);
	OPENSSL_cleanse(hex, sizeof hex);
}

int token_parse(const char *text, char id[TOKEN_ID_LEN + 1],
		unsigned char secret[TOKEN_SECRET_BYTES])
{
	unsigned char raw[TOKEN_ID_LEN / 2];

	if (strlen(text) != TOKEN_TEXT_LEN || strncmp(text, "vmd_", 4) ||
	    text[4 + TOKEN_ID_LEN] != '_' ||
	    from_hex(text + 4, raw, sizeof raw) < 0 ||
	    from_hex(text + 5 + TOKEN_ID_LEN, secret, TOKEN_SECRET_BYTES) < 0)
		return -1;
	memcpy(id, text + 4, TOKEN_ID_LEN);
	id[TOKEN_ID_LEN] = '\0';
	return 0;
}

bool token_secret_ok(const struct token *t,
		     const unsigned char secret[TOKEN_SECRET_BYTES])
{
	unsigned char h[TOKEN_HASH_BYTES];

	token_hash(secret, h);
	return CRYPTO_memcmp(h, t->hash, sizeof h) == 0;
}

/* Each VM named once: two entries would make "allow" ambiguous. */
static int check_vms(struct json_object *scope, char *why, size_t len)
{
	size_t n = json_object_array_length(scope);

	if (n == 0) {
		snprintf(why, len, "scope: an empty list of VMs allows nothing");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(scope, i), *va;
		json_object_object_get_ex(a, "vm", &va);
		for (size_t j = 0; j < i; j++) {
			struct json_object *b = json_object_array_get_idx(scope, j), *vb;
			json_object_object_get_ex(b, "vm", &vb);
			if (!strcmp(json_object_get_string(va), json_object_get_string(vb))) {
				snprintf(why, len, "scope[%zu].vm: VM '%s' is "
					 "already in scope[%zu]", i,
					 json_object_get_string(va), j);
				return -1;
			}
		}
	}
	return 0;
}

int token_set_scope(struct token *t, struct json_object *scope, char *why,
		    size_t len)
{
	if (json_object_is_type(scope, json_type_string)) {
		t->kind = strcmp(json_object_get_string(scope), "admin") ?
			  TOKEN_READ : TOKEN_ADMIN;
	} else {
		if (check_vms(scope, why, len) < 0)
			return -1;
		t->kind = TOKEN_VMS;
	}
	json_object_put(t->scope);
	t->scope = json_object_get(scope);
	return 0;
}

const char *token_state(const struct token *t, int64_t now)
{
	if (t->revoked)
		return "revoked";
	return t->expires && now >= t->expires ? "expired" : "active";
}

/* The scope entry of vm, or NULL. */
static struct json_object *entry_of(const struct token *t, const char *vm)
{
	if (t->kind != TOKEN_VMS || !vm)
		return NULL;
	for (size_t i = 0; i < json_object_array_length(t->scope); i++) {
		struct json_object *e = json_object_array_get_idx(t->scope, i), *v;
		if (json_object_object_get_ex(e, "vm", &v) &&
		    !strcmp(json_object_get_string(v), vm))
			return e;
	}
	return NULL;
}

bool token_sees_vm(const struct token *t, const char *vm)
{
	return t->kind != TOKEN_VMS || entry_of(t, vm);
}

bool token_allows(const struct token *t, const char *vm, const char *op)
{
	struct json_object *e = entry_of(t, vm), *allow;

	if (t->kind == TOKEN_ADMIN)
		return true;
	if (!e || !json_object_object_get_ex(e, "allow", &allow))
		return false;
	for (size_t i = 0; i < json_object_array_length(allow); i++) {
		const char *a = json_object_get_string(
			json_object_array_get_idx(allow, i));
		if (!strcmp(a, op) || (!strcmp(op, "watch") && !strcmp(a, "console")))
			return true;
	}
	return false;
}

bool token_permits(const struct token *t, const char *command, int need,
		   const char *op, const char *vm, char *why, size_t len)
{
	if (t->kind == TOKEN_ADMIN || (t->kind == TOKEN_READ && need <= ROLE_READ))
		return true;
	if (t->kind == TOKEN_READ) {
		snprintf(why, len, "token %s is read-only; %s needs an admin "
			 "token", t->id, command);
		return false;
	}
	if (op && (!strcmp(op, "any") || !strcmp(op, "list")))
		return true;
	if (!op || !vm) {
		snprintf(why, len, "token %s is scoped to VMs; %s is not an "
			 "operation on one VM", t->id, command);
		return false;
	}
	if (!token_allows(t, vm, op)) {
		snprintf(why, len, "token %s does not allow \"%s\" (%s) on VM "
			 "'%s'", t->id, op, command, vm);
		return false;
	}
	return true;
}

void token_clear(struct token *t)
{
	json_object_put(t->scope);
	t->scope = NULL;
}
