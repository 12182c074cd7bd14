/* The files one spec-apply makes before it commits: the spec's new empty
 * volumes (qemu-img create) and the overlays of its VMs made from
 * templates (qemu-img create -b BASE), one job after the other.  Files
 * cannot join the store's transaction, so they are made first under their
 * temporary names and their rows go in with the definitions
 * (spec_files_insert), after which they take their names
 * (spec_files_place); when anything fails, spec_files_remove takes every
 * file made away again. */
#ifndef VMD_DAEMON_SPEC_FILES_H
#define VMD_DAEMON_SPEC_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "daemon/volume.h"
#include "rpc/errors.h"

struct spec_file {
	struct volume v;          /* the row, inserted at commit */
	struct volume base;       /* an overlay's base; name "" for none */
	char path[4096];
	char tmp[4200];           /* the file until its row is committed */
	bool made;
};

/* Told once: err NULL when every file is made. */
typedef void (*spec_files_cb)(void *ctx, const struct rpc_fault *err);

struct spec_files {
	struct spec_file *f;
	size_t n, cap, next;      /* next: the file being made */
	uid_t uid;                /* who asked, for job-list */
	spec_files_cb done;
	void *ctx;
};

/* Plan a new volume v (its base set for an overlay): -1 with f when its
 * name is taken (a row, a job, a file, or an earlier file of s:
 * VolumeExists) or its pool unknown (InvalidArgument). */
int spec_files_add(struct spec_files *s, const struct volume *v,
		   const struct volume *base, struct rpc_fault *f);
/* The planned volume named name, or NULL. */
const struct spec_file *spec_files_find(const struct spec_files *s,
					const char *name);
/* The new empty volumes fit their pools' free space: -1 with f naming
 * the pool. */
int spec_files_check_space(const struct spec_files *s, struct rpc_fault *f);
/* Makes every file, one qemu-img job after the other; done is told once.
 * Never blocks: the jobs' callbacks go on. */
void spec_files_make(struct spec_files *s, spec_files_cb done, void *ctx);
/* Inserts every row into the open transaction: STORE_OK or the error. */
int spec_files_insert(struct spec_files *s);
/* The rows are committed: each file takes its name. */
void spec_files_place(struct spec_files *s);
/* Removes the files made (after a failure). */
void spec_files_remove(struct spec_files *s);
void spec_files_free(struct spec_files *s);

#endif
