/* What a vmd killed in the middle of a job left in its pools: temporary
 * files (.NAME.FMT.part, the only names jobs write).  One whose volume
 * row was stored is complete (rows go in only once every file is made)
 * and is put in place; any other is removed.  Nothing else in a pool is
 * touched: a file of another name may be the administrator's. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon/log.h"
#include "daemon/pool.h"
#include "daemon/pool_sweep.h"
#include "daemon/store.h"
#include "daemon/volume.h"

/* The volume name of temporary file d ("." NAME "." FMT ".part") into
 * name, its file (NAME.FMT) into file; false for any other name. */
static bool temporary(const char *d, char *name, char *file, size_t len)
{
	size_t n = strlen(d);
	const char *dot;

	if (n < 7 || d[0] != '.' || strcmp(d + n - 5, ".part") ||
	    n - 6 >= len)
		return false;
	snprintf(file, len, "%.*s", (int)(n - 6), d + 1);
	if (!(dot = strrchr(file, '.')) ||
	    (strcmp(dot, ".raw") && strcmp(dot, ".qcow2")))
		return false;
	snprintf(name, len, "%.*s", (int)(dot - file), file);
	return volume_name_ok(name, strlen(name));
}

/* The file of pool's volume name is stored as file. */
static bool stored(struct store *s, const char *pool, const char *name,
		   const char *file)
{
	struct volume v;

	return volume_get(s, name, &v) == STORE_OK && !strcmp(v.pool, pool) &&
	       !strcmp(v.file, file);
}

static void sweep_one(struct store *s, const char *pool, const char *d)
{
	char name[VOLUME_NAME_MAX + 16], file[sizeof name], tmp[4200],
	     path[4200];
	struct stat st;

	if (!temporary(d, name, file, sizeof name) ||
	    pool_path(pool, d, tmp, sizeof tmp) < 0 ||
	    pool_path(pool, file, path, sizeof path) < 0 ||
	    lstat(tmp, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if (stored(s, pool, name, file) && lstat(path, &st) < 0) {
		if (rename(tmp, path) == 0)
			log_warn("pool %s: put %s in place as %s: volume '%s' was "
				 "stored just before vmd stopped", pool, d, file,
				 name);
		else
			log_err("pool %s: cannot rename %s to %s: %s", pool, d,
				file, strerror(errno));
	} else if (unlink(tmp) == 0) {
		log_warn("pool %s: removed %s, the partial file of a job that "
			 "vmd's end cut short", pool, d);
	} else {
		log_err("pool %s: cannot remove %s: %s", pool, d, strerror(errno));
	}
}

void pool_sweep(struct store *s)
{
	for (size_t i = 0; i < pool_count(); i++) {
		const char *pool = pool_name_at(i);
		DIR *dir = opendir(pool_dir(pool));
		struct dirent *e;

		if (!dir) {
			log_err("pool %s: %s: %s", pool, pool_dir(pool),
				strerror(errno));
			continue;
		}
		while ((e = readdir(dir)))
			sweep_one(s, pool, e->d_name);
		closedir(dir);
	}
}
