/* Storage pools: directories vmd owns, where volume files live.  Named
 * with --pool NAME=DIR (repeatable); the pool "default" is
 * STATE_DIR/volumes unless given. */
#ifndef VMD_DAEMON_POOL_H
#define VMD_DAEMON_POOL_H

#include <stddef.h>
#include <stdint.h>

#define POOL_MAX 16

/* Record one --pool NAME=DIR.  0, or -1 with err. */
int pool_add(const char *spec, char *err, size_t len);
/* Adds "default" (STATE_DIR/volumes) unless given, and creates every
 * pool's directory (0700).  0, or -1 with err. */
int pool_setup(const char *state_dir, char *err, size_t len);
void pool_free_all(void);

/* The directory of a pool, or NULL when there is no such pool. */
const char *pool_dir(const char *name);
/* Bytes an unprivileged writer may still put in the pool (statvfs), or
 * -1 with errno. */
int64_t pool_free_bytes(const char *name);
/* DIR/file of a pool into buf; -1 when it does not fit or no pool. */
int pool_path(const char *pool, const char *file, char *buf, size_t len);
size_t pool_count(void);
const char *pool_name_at(size_t i);

#endif
