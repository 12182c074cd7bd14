/* The state and runtime directories: vmd's own, and one vmd at a time.
 * A directory another user made, or may write into, is refused (as
 * ssh-agent and systemd refuse them): whoever controls it could put a fake
 * vmd's socket there and receive what clients send, secrets included. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon/dirs.h"
#include "daemon/log.h"

int dirs_check_own(const char *path)
{
	struct stat st;
	uid_t me = geteuid();

	/* a symlink others may replace is as bad as their directory */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != me &&
	    st.st_uid != 0) {
		log_err("%s is a symlink owned by uid %d, not by vmd's user (uid "
			"%d); refusing to use it", path, (int)st.st_uid, (int)me);
		return -1;
	}
	if (stat(path, &st) < 0) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_err("%s is not a directory", path);
		return -1;
	}
	if (st.st_uid != me) {
		log_err("%s is owned by uid %d, not by vmd's user (uid %d); "
			"refusing to use it: remove it, or give vmd a directory "
			"of its own", path, (int)st.st_uid, (int)me);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_err("%s is writable by its group or others (mode %04o); "
			"refusing to use it: chmod go-w %s", path,
			(unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

int dirs_lock_state(const char *state_dir)
{
	char path[4096], pid[32] = "";
	int fd;

	snprintf(path, sizeof path, "%s/lock", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_err("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		if (e == EWOULDBLOCK)
			log_err("another vmd (pid %s) uses %s; exiting",
				*pid ? pid : "unknown", state_dir);
		else
			log_err("cannot lock %s: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	/* the pid is only for that message: the lock is the flock */
	snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
		log_warn("cannot write %s: %s", path, strerror(errno));
	return fd;  /* held open, and so locked, until vmd exits */
}
