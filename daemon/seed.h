/* A VM's cloud-init NoCloud seed (daemon/seed.c, daemon/seed_iso.c): the
 * documents made from its config's cloud_init block, and the ISO 9660
 * image labelled cidata that holds them, rebuilt at each start into
 * STATE/seeds/UUID.iso. */
#ifndef VMD_DAEMON_SEED_H
#define VMD_DAEMON_SEED_H

#include <stddef.h>
#include <json-c/json.h>
#include "rpc/errors.h"

struct vm;

#define SEED_LABEL "cidata"
#define SEED_IID_MAX 40 /* "iid-" and 32 hex digits */

struct seed {
	char *meta, *user, *network, *vendor; /* network, vendor: NULL if none */
	char iid[SEED_IID_MAX];
};

struct seed_file {
	const char *name, *data;
	size_t len;
};

/* The documents of config's cloud_init block (config checked and filled);
 * -1 when memory ran out. */
int seed_make(struct json_object *config, struct seed *s);
void seed_free(struct seed *s);
/* s's documents as files named as NoCloud wants them; how many. */
size_t seed_files(const struct seed *s, struct seed_file out[4]);

/* Write files as an ISO 9660 image (Rock Ridge, Joliet) labelled label to
 * path, through path.new renamed.  -1 with err set. */
int seed_iso_write(const char *path, const char *label,
		   const struct seed_file *files, size_t n, char *err, size_t cap);

/* Build vm's seed from its definition and open it read-only into *fd;
 * *fd is -1 (and a stale seed removed) when it has no cloud_init block.
 * -1 with a GenericError in f when it cannot be written. */
int seed_open(struct vm *vm, int *fd, struct rpc_fault *f);
/* vm-undefine: remove the seed of uuid. */
void seed_remove(const char *uuid);

#endif
