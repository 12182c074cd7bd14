/* What the volume handlers share (cmd_volume.c, cmd_volume_copy.c): one
 * operation that ends when its qemu-img job ends. */
#ifndef VMD_DAEMON_CMD_VOLUME_H
#define VMD_DAEMON_CMD_VOLUME_H

#include "daemon/dispatch.h"
#include "daemon/job.h"
#include "daemon/volume.h"

struct vop {
	struct call *c;
	struct volume v;         /* the volume made or changed */
	char path[4096];         /* its file */
	char tmp[4200];          /* where qemu-img writes a new one */
	char src[4096];          /* the source's file (clone, import) */
	int src_fd;              /* an imported host file, or -1 */
	struct volume base;      /* a linked clone's base */
};

/* A new operation making volume name in pool: the name free, the pool
 * known, the paths set.  NULL after replying. */
struct vop *vop_new(struct call *c, const char *name, const char *pool,
		    const char *format);
void vop_free(struct vop *op);
/* The volume named by argument key, or -1 after replying VolumeNotFound. */
int vop_get(struct call *c, const char *key, struct volume *v);
/* Runs qemu-img argv for op; done is told how it ended (then frees op).
 * After a refusal it has replied and freed op. */
void vop_run(struct vop *op, const char *kind, char **argv, int64_t total,
	     job_done_cb done);
/* The volume as volume-show's and the commands' replies give it. */
struct json_object *vop_volume_json(const struct volume *v);
/* A job_done_cb (ctx: the vop): inserts the volume made, then replies it
 * once synced; the file goes when the row cannot be written. */
void vop_created(void *ctx, struct job *j, const struct rpc_fault *err);
/* "a, b, c" of an array of names, for a message. */
const char *vop_joined(struct json_object *names, char *buf, size_t len);

#endif
