/* Storage pools: a name and a directory each, from --pool NAME=DIR.  The
 * directories are made 0700: volume files are vmd's, and reach QEMU only
 * as descriptors vmd opened. */
#include "config.h"
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include "daemon/pool.h"
#include "daemon/volume.h"

static struct {
	char *name, *dir;
} pools[POOL_MAX];
static size_t npools;

static int find(const char *name, size_t n)
{
	for (size_t i = 0; i < npools; i++)
		if (strlen(pools[i].name) == n && !strncmp(pools[i].name, name, n))
			return (int)i;
	return -1;
}

static int add(const char *name, size_t n, const char *dir, char *err,
	       size_t len)
{
	if (npools == POOL_MAX) {
		snprintf(err, len, "--pool: at most %d pools", POOL_MAX);
		return -1;
	}
	if (find(name, n) >= 0) {
		snprintf(err, len, "--pool: pool '%.*s' given twice", (int)n, name);
		return -1;
	}
	pools[npools].name = strndup(name, n);
	pools[npools].dir = strdup(dir);
	if (!pools[npools].name || !pools[npools].dir) {
		snprintf(err, len, "--pool: out of memory");
		return -1;
	}
	npools++;
	return 0;
}

int pool_add(const char *spec, char *err, size_t len)
{
	const char *eq = strchr(spec, '=');

	/* named as volumes are: they appear in messages, rows and paths */
	if (!eq || !volume_name_ok(spec, (size_t)(eq - spec))) {
		snprintf(err, len, "--pool %s: expected NAME=DIR, a NAME of up to "
			 "64 letters, digits, '.', '_' and '-'", spec);
		return -1;
	}
	if (eq[1] != '/') {
		snprintf(err, len, "--pool %s: DIR must be an absolute path", spec);
		return -1;
	}
	return add(spec, (size_t)(eq - spec), eq + 1, err, len);
}

int pool_setup(const char *state_dir, char *err, size_t len)
{
	char buf[4096];

	if (find("default", 7) < 0) {
		snprintf(buf, sizeof buf, "%s/volumes", state_dir);
		if (add("default", 7, buf, err, len) < 0)
			return -1;
	}
	for (size_t i = 0; i < npools; i++) {
		struct stat st;
		if (mkdir(pools[i].dir, 0700) < 0 && errno != EEXIST) {
			snprintf(err, len, "pool %s: cannot create %s: %s",
				 pools[i].name, pools[i].dir, strerror(errno));
			return -1;
		}
		if (stat(pools[i].dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			snprintf(err, len, "pool %s: %s is not a directory",
				 pools[i].name, pools[i].dir);
			return -1;
		}
	}
	return 0;
}

void pool_free_all(void)
{
	for (size_t i = 0; i < npools; i++) {
		free(pools[i].name);
		free(pools[i].dir);
	}
	npools = 0;
}

const char *pool_dir(const char *name)
{
	int i = name ? find(name, strlen(name)) : -1;

	return i < 0 ? NULL : pools[i].dir;
}

int64_t pool_free_bytes(const char *name)
{
	const char *dir = pool_dir(name);
	struct statvfs sv;

	if (!dir) {
		errno = ENOENT;
		return -1;
	}
	if (statvfs(dir, &sv) < 0)
		return -1;
	return (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
}

int pool_path(const char *pool, const char *file, char *buf, size_t len)
{
	const char *dir = pool_dir(pool);

	if (!dir || snprintf(buf, len, "%s/%s", dir, file) >= (int)len)
		return -1;
	return 0;
}

size_t pool_count(void)
{
	return npools;
}

const char *pool_name_at(size_t i)
{
	return i < npools ? pools[i].name : NULL;
}
