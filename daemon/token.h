/* Access tokens: what one is, how its secret is made, hashed and checked,
 * and what its scope lets a call do.  A token's text is "vmd_ID_SECRET":
 * ID (16 hex digits) names its row in the store, SECRET (64 hex digits,
 * 256 random bits) proves it; only SHA-256(SECRET) is stored.  The store
 * and the calls are elsewhere (token_store.c, auth.c); this file is pure,
 * so unit tests check it whole. */
#ifndef VMD_DAEMON_TOKEN_H
#define VMD_DAEMON_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define TOKEN_ID_LEN 16        /* hex digits */
#define TOKEN_SECRET_BYTES 32  /* 256 bits */
#define TOKEN_HASH_BYTES 32    /* SHA-256 */
#define TOKEN_TEXT_LEN (4 + TOKEN_ID_LEN + 1 + 2 * TOKEN_SECRET_BYTES)
#define TOKEN_LABEL_MAX 64
#define TOKEN_VMS_MAX 64       /* VMs in one scope */

enum token_kind { TOKEN_ADMIN, TOKEN_READ, TOKEN_VMS };

struct token {
	char id[TOKEN_ID_LEN + 1];
	char label[TOKEN_LABEL_MAX + 1];
	enum token_kind kind;
	struct json_object *scope;   /* owned: as given to token-create */
	int64_t created, expires, revoked;  /* unix seconds; 0: never */
	unsigned char hash[TOKEN_HASH_BYTES];
};

/* A new id and secret from the kernel's random source.  -1 if it fails. */
int token_generate(char id[TOKEN_ID_LEN + 1],
		   unsigned char secret[TOKEN_SECRET_BYTES]);
void token_hash(const unsigned char secret[TOKEN_SECRET_BYTES],
		unsigned char out[TOKEN_HASH_BYTES]);
/* "vmd_ID_SECRET" into buf (TOKEN_TEXT_LEN + 1 bytes). */
void token_format(const char *id, const unsigned char secret[TOKEN_SECRET_BYTES],
		  char *buf);
/* Split a token's text; -1 when it is not one (no secret is read then). */
int token_parse(const char *text, char id[TOKEN_ID_LEN + 1],
		unsigned char secret[TOKEN_SECRET_BYTES]);
/* Whether secret hashes to t's hash, compared in constant time. */
bool token_secret_ok(const struct token *t,
		     const unsigned char secret[TOKEN_SECRET_BYTES]);

/* Check scope (token-create's argument, schema-valid) and set t->kind and
 * t->scope (a new reference).  -1 with why (naming the member). */
int token_set_scope(struct token *t, struct json_object *scope, char *why,
		    size_t len);
/* "active", "expired" or "revoked" at time now. */
const char *token_state(const struct token *t, int64_t now);
/* The VMs of a TOKEN_VMS scope (admin and read tokens see every VM). */
bool token_sees_vm(const struct token *t, const char *vm);
/* Whether t allows operation op ("show", "watch", "console", "power")
 * on vm; "console" includes "watch". */
bool token_allows(const struct token *t, const char *vm, const char *op);
/* Whether t may run a command that needs role need (enum access_role) and
 * belongs to operation group op (the schema's "operation"; NULL: none),
 * on vm (its "vm" argument, NULL if none).  false with why. */
bool token_permits(const struct token *t, const char *command, int need,
		   const char *op, const char *vm, char *why, size_t len);
void token_clear(struct token *t);

#endif
