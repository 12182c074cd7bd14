/* Start QEMU as vmd's own child: fork, setsid, exec, with no double fork, so
 * vmd reaps it the moment it exits.  The child's stdout and stderr go to a
 * log file that vmd shows when QEMU fails to start. */
#ifndef VMD_EMU_SPAWN_H
#define VMD_EMU_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* keep_fds: descriptors the child inherits (CLOEXEC cleared in the child
 * only), -1 entries ignored.  log_path: created/truncated, mode 0600.
 * Returns the pid, or -1 with err set (exec failures are reported through a
 * CLOEXEC pipe, so "no such binary" is an error here, not a crash later). */
pid_t emu_spawn(char *const argv[], const int *keep_fds, size_t nkeep,
		const char *log_path, char *err, size_t errlen);

/* Process start time (field 22 of /proc/PID/stat, clock ticks since boot),
 * 0 if the process does not exist or has exited (a zombie). Used to tell a PID reused by another
 * process from our QEMU. */
unsigned long long emu_proc_starttime(pid_t pid);

/* Last lines of a QEMU log, for error messages: at most cap-1 bytes of the
 * file's tail, newlines turned into "; " and trailing whitespace dropped. */
void emu_log_tail(const char *log_path, char *buf, size_t cap);

#endif
