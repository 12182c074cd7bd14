/* Volumes: disk images vmd owns, each a row in the store (table volumes,
 * migration 0002) and a file in a pool (pool.h).  A linked clone names
 * its base volume (backing); a base (readonly) is never written again.
 * This is the API the volume-* commands and the templates build on: rows
 * in and out, lookups, and who uses a volume (VMs, other volumes). */
#ifndef VMD_DAEMON_VOLUME_H
#define VMD_DAEMON_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define VOLUME_NAME_MAX 64
#define VOLUME_CHAIN_MAX 8     /* a disk and its bases, at most */

struct volume {
	char name[VOLUME_NAME_MAX + 1];
	char pool[VOLUME_NAME_MAX + 1];
	char file[VOLUME_NAME_MAX + 16];  /* in the pool: NAME.FORMAT */
	char format[8];                   /* "raw" or "qcow2" */
	int64_t size;                     /* virtual size, bytes */
	char backing[VOLUME_NAME_MAX + 1];/* base volume, "" for none */
	bool readonly;                    /* a base: never written again */
	int64_t created;                  /* unix seconds */
};

/* A volume's (or a pool's) name: 1 to 64 letters, digits, '.', '_', '-',
 * not starting with '.' or '-' (it becomes a file name). */
bool volume_name_ok(const char *s, size_t n);

/* Fills v for a new volume: its file name in the pool and the time.  -1
 * when the name or format is not valid. */
int volume_init(struct volume *v, const char *name, const char *pool,
		const char *format, int64_t size, const char *backing);

/* Rows.  STORE_OK, STORE_EXISTS (insert: the name is taken),
 * STORE_NOT_FOUND, or STORE_ERR (store_errmsg says why). */
int volume_insert(struct store *s, const struct volume *v);
int volume_get(struct store *s, const char *name, struct volume *out);
int volume_delete(struct store *s, const char *name);
int volume_set_size(struct store *s, const char *name, int64_t size);
int volume_set_readonly(struct store *s, const char *name, bool readonly);
/* Every volume ordered by name; stops early with cb's non-zero value. */
typedef int (*volume_cb)(void *ctx, const struct volume *v);
int volume_foreach(struct store *s, volume_cb cb, void *ctx);
/* Volumes whose backing is name, ordered by name. */
int volume_foreach_child(struct store *s, const char *name, volume_cb cb,
			 void *ctx);

/* The file's path: POOL_DIR/FILE.  -1 when its pool is not configured. */
int volume_path(const struct volume *v, char *buf, size_t len);
/* How many bases stand under v (its backing, that one's, ...), counting
 * no further than max + 1. */
size_t volume_bases(struct store *s, const struct volume *v, size_t max);
/* Its temporary name, POOL_DIR/.FILE.part: the only name a job writes,
 * and the one a start of vmd sweeps (pool_sweep.c). */
int volume_tmp_path(const struct volume *v, char *buf, size_t len);

#endif
