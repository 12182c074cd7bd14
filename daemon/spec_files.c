/* The files of a spec-apply (see spec_files.h).  The jobs run one after
 * the other: linked overlays take milliseconds each, and one apply then
 * holds at most one of the JOB_MAX job slots. */
#include "config.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon/job.h"
#include "daemon/log.h"
#include "daemon/pool.h"
#include "daemon/spec_files.h"
#include "daemon/store.h"
#include "daemon/vmd.h"

const struct spec_file *spec_files_find(const struct spec_files *s,
					const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->f[i].v.name, name))
			return &s->f[i];
	return NULL;
}

int spec_files_add(struct spec_files *s, const struct volume *v,
		   const struct volume *base, struct rpc_fault *f)
{
	struct spec_file *sf;
	struct volume old;
	struct stat st;

	if (spec_files_find(s, v->name) || volume_get(vmd.store, v->name, &old)
	    == STORE_OK || job_busy(v->name)) {
		rpc_fault_set(f, RPC_VOLUME_EXISTS, "volume '%s': %s", v->name,
			      spec_files_find(s, v->name) ? "the spec makes it "
			      "twice" : "a volume of that name exists already");
		return -1;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct spec_file *nf = realloc(s->f, cap * sizeof *nf);
		if (!nf) {
			rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
			return -1;
		}
		s->f = nf;
		s->cap = cap;
	}
	sf = memset(&s->f[s->n], 0, sizeof *sf);
	sf->v = *v;
	if (base)
		sf->base = *base;
	if (volume_path(v, sf->path, sizeof sf->path) < 0 ||
	    volume_tmp_path(v, sf->tmp, sizeof sf->tmp) < 0) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "volume '%s': no pool named "
			      "'%s' (vmd's --pool)", v->name, v->pool);
		return -1;
	}
	if (lstat(sf->path, &st) == 0) {
		rpc_fault_set(f, RPC_VOLUME_EXISTS, "volume '%s': pool '%s' already "
			      "has a file %s that is no volume", v->name, v->pool,
			      sf->path);
		return -1;
	}
	s->n++;
	return 0;
}

int spec_files_check_space(const struct spec_files *s, struct rpc_fault *f)
{
	for (size_t p = 0; p < pool_count(); p++) {
		const char *pool = pool_name_at(p);
		int64_t want = 0, room = pool_free_bytes(pool);
		for (size_t i = 0; i < s->n; i++)
			if (!s->f[i].base.name[0] && !strcmp(s->f[i].v.pool, pool))
				want += s->f[i].v.size;
		if (room >= 0 && want > room) {
			rpc_fault_set(f, RPC_INVALID_ARGUMENT, "spec.volumes: the new "
				      "volumes in pool '%s' take %" PRId64 " bytes, "
				      "more than it has free (%" PRId64 " bytes)",
				      pool, want, room);
			return -1;
		}
	}
	return 0;
}

static void start_next(struct spec_files *s);

static void file_made(void *ctx, struct job *j, const struct rpc_fault *err)
{
	struct spec_files *s = ctx;

	(void)j;
	if (err) {
		s->done(s->ctx, err);
		return;
	}
	s->f[s->next++].made = true;
	start_next(s);
}

static void start_next(struct spec_files *s)
{
	struct spec_file *sf = &s->f[s->next];
	char size[32], from[4096];
	struct rpc_fault f;

	if (s->next == s->n) {
		s->done(s->ctx, NULL);
		return;
	}
	snprintf(size, sizeof size, "%" PRId64, sf->v.size);
	char *empty[] = {(char *)job_qemu_img(), "create", "-q", "-f",
			 sf->v.format, sf->tmp, size, NULL};
	char *overlay[] = {(char *)job_qemu_img(), "create", "-q", "-f", "qcow2",
			   "-F", sf->base.format, "-b", from, sf->tmp, size, NULL};
	bool linked = sf->base.name[0] != 0;
	if (linked && volume_path(&sf->base, from, sizeof from) < 0) {
		rpc_fault_set(&f, RPC_VOLUME_NOT_FOUND, "volume '%s': its base '%s' "
			      "is in a pool vmd was not given", sf->v.name,
			      sf->base.name);
		s->done(s->ctx, &f);
		return;
	}
	struct job_spec spec = {
		.kind = linked ? "clone" : "create", .volume = sf->v.name,
		.argv = linked ? overlay : empty, .tmp_path = sf->tmp,
		.uid = s->uid,
	};
	if (!job_start(&spec, file_made, s, &f))
		s->done(s->ctx, &f);
}

void spec_files_make(struct spec_files *s, spec_files_cb done, void *ctx)
{
	struct rpc_fault f;

	s->done = done;
	s->ctx = ctx;
	s->next = 0;
	/* the names stay taken from the first job until the plan's end */
	for (size_t i = 0; i < s->n; i++)
		if (job_hold(s->f[i].v.name, s) < 0) {
			rpc_fault_set(&f, RPC_GENERIC_ERROR, "out of memory");
			done(ctx, &f);
			return;
		}
	start_next(s);
}

int spec_files_insert(struct spec_files *s)
{
	int rc = STORE_OK;

	for (size_t i = 0; rc == STORE_OK && i < s->n; i++)
		rc = volume_insert(vmd.store, &s->f[i].v);
	return rc;
}

void spec_files_remove(struct spec_files *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->f[i].made && unlink(s->f[i].tmp) < 0 && errno != ENOENT)
			log_msg(LOG_ERR, "spec-apply: cannot remove %s: %s",
				s->f[i].tmp, strerror(errno));
}

void spec_files_place(struct spec_files *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (rename(s->f[i].tmp, s->f[i].path) < 0)
			log_msg(LOG_ERR, "spec-apply: cannot rename %s to %s: %s",
				s->f[i].tmp, s->f[i].path, strerror(errno));
}

void spec_files_free(struct spec_files *s)
{
	job_release(s);
	free(s->f);
	memset(s, 0, sizeof *s);
}
