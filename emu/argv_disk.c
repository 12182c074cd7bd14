/* QEMU's -drive options for a VM's disks: a path disk's descriptor, or a
 * volume's with the descriptors of its bases as explicit backing nodes.
 * Split from argv.c, which is otherwise the rest of the command line. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "emu/argv_int.h"

static const char *const disk_formats[] = {
	"raw", "raw", "qcow2", "qcow2", NULL, NULL };
static const char *const disk_buses[] = {
	"virtio", "virtio", "ide", "ide", NULL, NULL };

/* The disk's file: its path, or the fd set holding vmd's descriptor.
 * QEMU hands out a set's member by access mode (O_RDWR or O_RDONLY) and
 * never opens the path, so a set holds exactly one description: OFD locks
 * QEMU takes through a second one would outlive their fd (the set keeps
 * it) and refuse later permission changes ("Failed to get write lock" on
 * drive-backup).  Hence auto-read-only=off: with it on, QEMU opens a
 * writable -drive read-only first. */
static void add_fd(struct build *b, int fd, size_t set, size_t disk)
{
	argv_add(b, "-add-fd");
	argv_addf(b, "fd=%d,set=%zu,opaque=disk%zu", fd, set, disk);
}

static const char *disk_file(struct build *b, struct pool *p, size_t i,
			     const char *path, const struct emu_launch *l)
{
	char set[32];

	if (!l->fds)
		return argv_esc(b, p, path);
	if (l->fds->disk[i] < 0) {
		argv_fail(b, "disks[%zu]: no descriptor for %s", i, path);
		return "";
	}
	add_fd(b, l->fds->disk[i], i, i);
	snprintf(set, sizeof set, "/dev/fdset/%zu", i);
	return argv_esc(b, p, set);
}

/* The bases of a volume disk as its backing nodes, nearest first:
 * ",backing.driver=qcow2,backing.file.filename=/dev/fdset/N,backing.
 * backing.driver=raw,...".  Each is a read-only fd set of its own, numbered
 * after the disks'.  The last base has no backing file (vmd made it). */
static void chain_opts(struct build *b, size_t i, const struct emu_chain *ch,
		       char *opts, size_t len)
{
	char prefix[8 * EMU_CHAIN_MAX + 1] = "";
	size_t used = 0;

	for (size_t k = 0; k < ch->n && k < EMU_CHAIN_MAX; k++) {
		size_t set = VMD_DISK_MAX + i * EMU_CHAIN_MAX + k;
		strcat(prefix, "backing.");
		add_fd(b, ch->fd[k], set, i);
		if (used >= len)
			break;
		used += (size_t)snprintf(opts + used, len - used,
			",%sdriver=%s,%sfile.driver=file,%sfile.filename="
			"/dev/fdset/%zu", prefix, ch->fmt[k], prefix, prefix, set);
	}
}

/* A disk's file and format: a path disk's from the config, a volume's
 * from vmd (l->fds->chain), with its bases. */
static const char *disk_source(struct build *b, struct pool *p, size_t i,
			       struct json_object *d, const struct emu_launch *l,
			       const char **format, char *bases, size_t len)
{
	const char *path = argv_opt_str(b, d, "disks[].", "path");
	const char *volume = argv_opt_str(b, d, "disks[].", "volume");
	const struct emu_chain *ch = l->fds ? &l->fds->chain[i] : NULL;

	bases[0] = 0;
	if (volume) {
		if (!ch || !ch->format) {
			argv_fail(b, "disks[%zu]: volume %s has no descriptor", i,
				  volume);
			return "";
		}
		*format = ch->format;
		chain_opts(b, i, ch, bases, len);
		return disk_file(b, p, i, volume, l);
	}
	/* A path starting with '/' is never read as a protocol
	 * prefix ("nbd:", "json:") by QEMU's block layer. */
	if (!path || path[0] != '/') {
		argv_fail(b, "disks[%zu].path: an absolute path is required", i);
		return "";
	}
	return disk_file(b, p, i, path, l);
}

void argv_add_disks(struct build *b, struct pool *p, struct json_object *c,
		    const struct emu_launch *l)
{
	struct json_object *disks = argv_get_array(b, c, "disks", true);
	size_t n = disks ? json_object_array_length(disks) : 0;

	if (n > VMD_DISK_MAX) {
		argv_fail(b, "disks: at most %d, got %zu", VMD_DISK_MAX, n);
		return;
	}
	for (size_t i = 0; i < n && !b->failed; i++) {
		struct json_object *d = argv_get_item(b, disks, i, "disks");
		const char *format = argv_pick(b, "disks[].format",
			argv_get_str(b, d, "disks[].", "format"), disk_formats);
		const char *bus = argv_pick(b, "disks[].bus",
			argv_get_str(b, d, "disks[].", "bus"), disk_buses);
		bool ro = argv_get_bool(b, d, "disks[].", "readonly");
		char bases[1024];

		if (b->failed)
			return;
		/* QEMU's ide-hd refuses a read-only block node ("Block node
		 * is read-only"); say so before QEMU does. */
		if (ro && strcmp(bus, "ide") == 0) {
			argv_fail(b, "disks[%zu]: an IDE disk cannot be read-only in "
			     "QEMU; use bus virtio", i);
			return;
		}
		const char *file = disk_source(b, p, i, d, l, &format, bases,
					       sizeof bases);
		argv_add(b, "-drive");
		argv_addf(b, "file=%s,format=%s,if=%s,id=disk%zu%s%s", file, format,
		     bus, i, ro ? ",readonly=on" : l->fds ? ",auto-read-only=off" : "",
		     bases);
	}
}
