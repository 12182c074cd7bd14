/* vmd's state and runtime directories: ownership checks and the lock that
 * keeps a second vmd off a state directory. */
#ifndef VMD_DAEMON_DIRS_H
#define VMD_DAEMON_DIRS_H

/* 0 if path is a directory owned by vmd's user and not writable by group
 * or others; -1 after logging why not. */
int dirs_check_own(const char *path);
/* Lock STATE/lock (flock) for vmd's life: the descriptor, or -1 after
 * logging "another vmd (pid N) uses STATE". */
int dirs_lock_state(const char *state_dir);

#endif
