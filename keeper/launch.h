/* vmd's side of the keeper (keeper.h): where its program is and how to
 * start one.  Started with posix_spawn, not through emu/: the keeper is
 * vmd's program, not QEMU's. */
#ifndef VMD_KEEPER_LAUNCH_H
#define VMD_KEEPER_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

/* One port for the keeper to hold: QEMU's chardev connection, the socket
 * vmd will connect to, and the journal (read-write, append). */
struct keeper_port {
	int port, qemu_fd, listen_fd, journal_fd;
};

/* vmd-keeper beside the running program (a build tree), else where make
 * install put it. */
const char *keeper_program(void);
/* The same for any of vmd's helper programs, in path[0..cap). */
const char *libexec_program(const char *name, char *path, size_t cap);

/* Start a keeper for ports[0..n) in run_dir, becoming user when not NULL,
 * in a session of its own, with stdout and stderr in log_path (truncated).
 * The keeper holds the ports' descriptors (as 3, 4, 5, 6, ...) and no
 * other of vmd's; they stay open in vmd too.  The pid, or -1 with err set (a
 * missing program is an error here, not a silent exit later). */
pid_t keeper_launch(const char *run_dir, const char *user,
		    const struct keeper_port *ports, int n,
		    const char *log_path, char *err, size_t errlen);

#endif
