/* Host files a VM configuration names (disks, kernel, initrd, parallel
 * devices), opened by vmd with the rights of the user QEMU runs as and
 * handed to QEMU as descriptors.  QEMU itself would open them as root,
 * before -runas drops privileges, following any symlink: that let a VM's
 * definer reach files only root may touch.  Opened as the QEMU user, a path
 * gives access to exactly what that user could open anyway. */
#ifndef VMD_EMU_HOSTFILE_H
#define VMD_EMU_HOSTFILE_H

#include <stdbool.h>
#include <stddef.h>

enum emu_file_kind {
	EMU_FILE_DISK,      /* regular file or block device */
	EMU_FILE_REGULAR,   /* regular file (kernel, initrd) */
	EMU_FILE_CHARDEV,   /* character device (parallel port) */
};

struct emu_file_req {
	const char *what;         /* "disk", "kernel"...: for messages */
	const char *path;
	enum emu_file_kind kind;
	bool write;               /* read-write, else read-only */
	bool qcow2;               /* refuse a backing or external data file */
	int fd;                   /* out: O_CLOEXEC descriptor, -1 until open */
};

/* Opens every request with the rights of user (a user name: from a short
 * forked child that switches to it and passes the descriptors back), or
 * of this process when user is NULL.  Each is opened at most timeout_ms
 * after the call.  0, or -1 with err naming the first file that failed,
 * the user and the reason, and nothing left open. */
int emu_open_files(const char *user, struct emu_file_req *reqs, size_t n,
		   int timeout_ms, char *err, size_t errlen);
void emu_close_files(struct emu_file_req *reqs, size_t n);

/* NULL if the qcow2 image on fd names no other file QEMU would open (a
 * backing file or an external data file); otherwise why, in buf. */
const char *emu_qcow2_problem(int fd, char *buf, size_t len);

#endif
