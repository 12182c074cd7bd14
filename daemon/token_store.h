/* Token rows in the store (table tokens, migration 0003): the hash of the
 * secret, never the secret.  STORE_OK, STORE_NOT_FOUND or STORE_ERR
 * (store_errmsg says why). */
#ifndef VMD_DAEMON_TOKEN_STORE_H
#define VMD_DAEMON_TOKEN_STORE_H

#include <stdint.h>
#include "daemon/token.h"

struct store;

int token_insert(struct store *s, const struct token *t);
/* Fills t (token_clear it after). */
int token_get(struct store *s, const char *id, struct token *t);
/* Sets revoked to now unless it already is; STORE_NOT_FOUND for no row. */
int token_revoke(struct store *s, const char *id, int64_t now);
/* Tokens neither revoked nor expired at now. */
int token_count_active(struct store *s, int64_t now);
/* Every token ordered by creation; stops early with cb's non-zero value. */
typedef int (*token_cb)(void *ctx, const struct token *t);
int token_foreach(struct store *s, token_cb cb, void *ctx);

#endif
