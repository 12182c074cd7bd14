/* QEMU's command line, built from a validated VM configuration (see
 * schemas/vm-config.json).  Every value that reaches an option goes through
 * emu_opt_escape(): QEMU splits option strings on commas and reads ",," as a
 * literal comma.  Nothing here passes through a shell. */
#ifndef VMD_EMU_ARGV_H
#define VMD_EMU_ARGV_H

#include <stddef.h>
#include <json-c/json.h>
#include "schemas/limits.h"

/* Append s to dst with every ',' doubled.  Returns a malloc'd string. */
char *emu_opt_escape(const char *s);

struct emu_argv {
	char **v;       /* NULL-terminated */
	size_t n, cap;
};
void emu_argv_init(struct emu_argv *a);
int emu_argv_add(struct emu_argv *a, const char *s);            /* copies */
int emu_argv_addf(struct emu_argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void emu_argv_free(struct emu_argv *a);
/* One line for logs: arguments quoted where needed. Caller frees. */
char *emu_argv_render(const struct emu_argv *a);

/* Descriptors of the host files a config names, opened by vmd as the QEMU
 * user (emu/hostfile.h); -1 where unused.  Disks reach QEMU as fd sets
 * (-add-fd, file=/dev/fdset/N), read-write or read-only as configured; the
 * kernel, initrd and parallel devices as /proc/self/fd/N, which QEMU opens
 * while it starts, before -runas. */
#define EMU_CHAIN_MAX 7    /* bases under one disk, at most */

/* A disk that is a volume (vmd's own file): its format, and the images
 * under it (a linked clone's base, its base's base...), each its own
 * descriptor, nearest first, passed to QEMU as the backing nodes so that
 * QEMU opens no backing file by the name in the image. */
struct emu_chain {
	const char *format;        /* the disk's format; NULL: not a volume */
	size_t n;
	int fd[EMU_CHAIN_MAX];
	const char *fmt[EMU_CHAIN_MAX];
};

struct emu_fds {
	int disk[VMD_DISK_MAX];
	struct emu_chain chain[VMD_DISK_MAX];
	int kernel, initrd;
	int parallel[VMD_PARALLEL_MAX];
	int seed;  /* the cloud-init seed (emu/cdrom.h), read-only */
	int tap[VMD_NIC_MAX];   /* a bridge NIC's tap (vmd made it: -netdev
	                           tap,fd=N) */
	int vhost[VMD_NIC_MAX]; /* ... and its /dev/vhost-net, or -1 */
};

struct emu_launch {
	const char *qemu;          /* binary, e.g. /usr/bin/qemu-system-x86_64 */
	const char *accel;         /* resolved: "kvm" or "tcg" */
	int qmp_fd;                /* listening socket QEMU serves QMP on */
	int console_fds[VMD_SERIAL_MAX]; /* listening sockets, one per serial port
	                              (every type: QEMU's side of a port is
	                              always a socket vmd holds), -1 unused */
	const char *run_dir;       /* private dir for this VM (pid file etc.) */
	int sandbox;               /* add -sandbox on (with spawn, resource
	                              control and, without runas, privilege
	                              changes denied) */
	const char *runas;         /* user QEMU drops to after setup, or NULL */
	const struct emu_fds *fds; /* NULL: QEMU opens the paths itself (for
	                              tools and tests; vmd always sets it) */
};

/* Build argv for config (a vm-config object already validated against the
 * schema and filled with its defaults, rpc_schema_fill(): one the schema
 * defaults that is missing is an error here, never guessed).  Always: -nodefaults -no-user-config -S -display none (unless
 * display vnc) -name guest=NAME -uuid UUID -machine TYPE,accel=ACCEL -smp
 * -m, QMP on qmp_fd, serial ports, parallel ports, disks, NICs, boot.  0, or -1 with err set
 * (e.g. more console ports than fds). */
int emu_build_argv(struct json_object *config, const struct emu_launch *l,
		   struct emu_argv *out, char *err, size_t errlen);

/* The machine type a config gives, or when it gives none the one for its
 * arch (vm-config.json's machine): "pc" on x86_64 and i386, "virt" on the
 * others.  Not a schema default, so that it follows a changed arch. */
const char *emu_machine(const char *arch, const char *machine);

#endif
