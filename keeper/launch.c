/* Starting a keeper.  posix_spawn does what vmd needs in one call: a new
 * session (a Ctrl-C aimed at a foreground vmd must not reach the keepers),
 * default signal handling and an empty mask (vmd blocks and handles some),
 * and exactly the port descriptors inherited: vmd opens everything
 * close-on-exec, and a dup2 onto itself clears that flag in the child
 * only.  Exec failures come back as its return value. */
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

const char *keeper_program(void)
{
	static char path[PATH_MAX];
	ssize_t n;
	char *slash;

	if (path[0])
		return path;
	n = readlink("/proc/self/exe", path, sizeof path - sizeof KEEPER_PROGRAM - 1);
	if (n > 0 && (path[n] = '\0', slash = strrchr(path, '/'))) {
		strcpy(slash + 1, KEEPER_PROGRAM);
		if (access(path, X_OK) == 0)
			return path;
	}
	snprintf(path, sizeof path, "%s/%s", PKGLIBEXECDIR, KEEPER_PROGRAM);
	return path;
}

static int keep_fd(posix_spawn_file_actions_t *fa, int fd)
{
	return posix_spawn_file_actions_adddup2(fa, fd, fd);
}

static int file_actions(posix_spawn_file_actions_t *fa,
			const struct keeper_port *ports, int n,
			const char *log_path)
{
	int rc = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null",
						  O_RDONLY, 0);

	if (!rc)
		rc = posix_spawn_file_actions_addopen(fa, STDOUT_FILENO, log_path,
						      O_WRONLY | O_CREAT | O_TRUNC,
						      0600);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(fa, STDOUT_FILENO,
						      STDERR_FILENO);
	for (int i = 0; i < n && !rc; i++)
		if (!(rc = keep_fd(fa, ports[i].qemu_fd)) &&
		    !(rc = keep_fd(fa, ports[i].listen_fd)))
			rc = keep_fd(fa, ports[i].journal_fd);
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
	for (int i = 0; i < n && i < VMD_SERIAL_MAX; i++) {
		snprintf(arg[i], sizeof arg[i], "%d:%d:%d:%d", ports[i].port,
			 ports[i].qemu_fd, ports[i].listen_fd, ports[i].journal_fd);
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
