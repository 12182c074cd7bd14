/* Starting a keeper.  posix_spawn does what vmd needs in one call: a new
 * session (a Ctrl-C aimed at a foreground vmd must not reach the keepers),
 * default signal handling and an empty mask (vmd blocks and handles some),
 * and exactly the port descriptors inherited (file_actions).  Exec
 * failures come back as its return value. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "keeper/keeper.h"
#include "keeper/launch.h"
#include "schemas/limits.h"

extern char **environ;

const char *libexec_program(const char *name, char *path, size_t cap)
{
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", path, cap > strlen(name) + 1 ? cap - strlen(name) - 1 : 0);
	if (n > 0 && (path[n] = '\0', slash = strrchr(path, '/'))) {
		strcpy(slash + 1, name);
		if (access(path, X_OK) == 0)
			return path;
	}
	snprintf(path, cap, "%s/%s", PKGLIBEXECDIR, name);
	return path;
}

const char *keeper_program(void)
{
	static char path[PATH_MAX];

	return path[0] ? path : libexec_program(KEEPER_PROGRAM, path, sizeof path);
}

/* In the child, port k's descriptors become 3 + 3k, 4 + 3k and 5 + 3k
 * and every other one above 2 is closed: the keeper runs as the QEMU user
 * and must hold nothing of vmd's but its ports, also not a descriptor vmd
 * failed to mark close-on-exec.  Each goes to a number above all of them
 * first, so that no dup2 overwrites one not yet moved (a port descriptor
 * may even be 0, 1 or 2 when vmd was started with those closed). */
static int file_actions(posix_spawn_file_actions_t *fa,
			const struct keeper_port *ports, int n,
			const char *log_path)
{
	int fds[3 * VMD_SERIAL_MAX], nfd = 0, hi = 3 + 3 * n, rc = 0;

	for (int i = 0; i < n; i++) {
		fds[nfd++] = ports[i].qemu_fd;
		fds[nfd++] = ports[i].listen_fd;
		fds[nfd++] = ports[i].journal_fd;
	}
	for (int k = 0; k < nfd; k++)
		if (fds[k] >= hi)
			hi = fds[k] + 1;
	for (int k = 0; k < nfd && !rc; k++)
		rc = posix_spawn_file_actions_adddup2(fa, fds[k], hi + k);
	if (!rc)
		rc = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null",
						      O_RDONLY, 0);
	if (!rc)
		rc = posix_spawn_file_actions_addopen(fa, STDOUT_FILENO, log_path,
						      O_WRONLY | O_CREAT | O_TRUNC,
						      0600);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(fa, STDOUT_FILENO,
						      STDERR_FILENO);
	for (int k = 0; k < nfd && !rc; k++)
		rc = posix_spawn_file_actions_adddup2(fa, hi + k, 3 + k);
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(fa, 3 + nfd);
	return rc;
}

static int attributes(posix_spawnattr_t *at)
{
	sigset_t all, none;
	int rc;

	sigfillset(&all);
	sigemptyset(&none);
	rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSID |
				      POSIX_SPAWN_SETSIGDEF |
				      POSIX_SPAWN_SETSIGMASK);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(at, &all);
	if (!rc)
		rc = posix_spawnattr_setsigmask(at, &none);
	return rc;
}

pid_t keeper_launch(const char *run_dir, const char *user,
		    const struct keeper_port *ports, int n,
		    const char *log_path, char *err, size_t errlen)
{
	char arg[VMD_SERIAL_MAX][64];
	char *argv[6 + VMD_SERIAL_MAX] = {(char *)keeper_program(), "--dir",
					  (char *)run_dir};
	int argc = 3, rc;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid = -1;

	if (user) {
		argv[argc++] = "--user";
		argv[argc++] = (char *)user;
	}
	if (n > VMD_SERIAL_MAX) {
		snprintf(err, errlen, "%d ports, at most %d", n, VMD_SERIAL_MAX);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(arg[i], sizeof arg[i], "%d:%d:%d:%d", ports[i].port,
			 3 + 3 * i, 4 + 3 * i, 5 + 3 * i);  /* see file_actions */
		argv[argc++] = arg[i];
	}
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		goto out;
	if ((rc = posix_spawnattr_init(&at)) == 0) {
		if (!(rc = file_actions(&fa, ports, n, log_path)) &&
		    !(rc = attributes(&at)))
			rc = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
		posix_spawnattr_destroy(&at);
	}
	posix_spawn_file_actions_destroy(&fa);
out:
	if (rc) {
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
		return -1;
	}
	return pid;
}
