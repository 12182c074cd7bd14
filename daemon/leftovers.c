/* What a VM leaves on disk, and when it goes.  The run directory
 * (RUN/vms/UUID) loses its sockets when QEMU ends and goes as a whole on
 * undefine; its journals stay until the next start, since they may hold
 * console bytes a full log disk kept out of the log.  The console logs
 * (STATE/logs/UUID) of an undefined VM stay --log-retention days after
 * their newest file changed (undefine touches one), are swept at start-up
 * and daily, and go at once with vm-undefine "purge". */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "daemon/leftovers.h"
#include "daemon/log.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "daemon/vm_paths.h"

#define SWEEP_INTERVAL_S (24 * 3600)
/* Written into an undefined VM's log directory: its name, for people, and
 * by its mtime the moment the retention counts from. */
#define UNDEFINED_NOTE "undefined"

static struct event *sweep_timer;

/* Remove dir and the files in it (vmd makes no deeper trees there);
 * symlinks are removed, never followed. */
static int remove_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *d;
	DIR *dp;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (!(dp = fdopendir(fd))) {
		close(fd);
		return -1;
	}
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") &&
		    unlinkat(fd, d->d_name, 0) < 0 && errno == EISDIR)
			unlinkat(fd, d->d_name, AT_REMOVEDIR);
	closedir(dp);
	return rmdir(dir) == 0 || errno == ENOENT ? 0 : -1;
}

void leftovers_stopped(const struct vm *vm)
{
	char path[4096];

	if (!vm->run_dir)
		return;
	vm_run_path(path, sizeof path, vm->run_dir, VM_RUN_QMP);
	unlink(path);
	for (int i = 0; i < VMD_SERIAL_MAX; i++) {
		vm_port_path(path, sizeof path, vm->run_dir, i, VM_PORT_SOCK);
		unlink(path);
		vm_port_path(path, sizeof path, vm->run_dir, i, VM_PORT_KEEP);
		unlink(path);
	}
}

static void logs_dir(const char *uuid, char *buf, size_t cap)
{
	vm_log_dir_path(buf, cap, vmd.state_dir, uuid);
}

void leftovers_undefined(const char *uuid, const char *name, bool purge)
{
	char path[4096];

	vm_run_dir_path(path, sizeof path, vmd.run_dir, uuid);
	if (remove_dir(path) < 0)
		log_warn("cannot remove %s: %s", path, strerror(errno));
	logs_dir(uuid, path, sizeof path);
	if (purge) {
		if (remove_dir(path) < 0)
			log_warn("cannot remove %s: %s", path, strerror(errno));
		return;
	}
	size_t n = strlen(path);
	snprintf(path + n, sizeof path - n, "/" UNDEFINED_NOTE);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	if (fd < 0)
		return;  /* no logs (never started), or nothing we can do */
	if (dprintf(fd, "%s\n", name) < 0)
		log_warn("cannot write %s: %s", path, strerror(errno));
	close(fd);
}

/* The newest mtime of the files in dir, 0 if none. */
static time_t newest(const char *dir)
{
	struct dirent *d;
	struct stat st;
	time_t t = 0;
	DIR *dp = opendir(dir);

	if (!dp)
		return 0;
	while ((d = readdir(dp)))
		if (d->d_name[0] != '.' && fstatat(dirfd(dp), d->d_name, &st,
						   AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_mtime > t)
			t = st.st_mtime;
	closedir(dp);
	return t;
}

static bool is_uuid(const char *s)
{
	static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof form - 1)
		return false;
	for (size_t i = 0; form[i]; i++)
		if (form[i] == '-' ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return true;
}

int leftovers_sweep(void)
{
	char top[4096], dir[4096];
	struct dirent *d;
	DIR *dp;
	time_t limit = time(NULL) - (time_t)vmd.log_retention * 86400;
	int removed = 0;

	if (vmd.log_retention <= 0)
		return 0;
	vm_log_dir_path(top, sizeof top, vmd.state_dir, NULL);
	if (!(dp = opendir(top)))
		return 0;
	while ((d = readdir(dp))) {
		if (!is_uuid(d->d_name) || vm_find(d->d_name))
			continue;
		logs_dir(d->d_name, dir, sizeof dir);
		if (newest(dir) > limit)
			continue;
		if (remove_dir(dir) < 0) {
			log_warn("cannot remove expired logs %s: %s", dir, strerror(errno));
			continue;
		}
		log_info("removed the console logs of undefined VM %s (older than "
			 "%d days)", d->d_name, vmd.log_retention);
		removed++;
	}
	closedir(dp);
	return removed;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = {SWEEP_INTERVAL_S, 0};

	leftovers_sweep();
	evtimer_add(sweep_timer, &tv);
}

void leftovers_start(void)
{
	if (vmd.log_retention <= 0)
		return;
	sweep_timer = evtimer_new(vmd.base, on_sweep, NULL);
	if (sweep_timer)
		on_sweep(-1, 0, NULL);
	else
		leftovers_sweep();
}

void leftovers_stop(void)
{
	if (sweep_timer)
		event_free(sweep_timer);
	sweep_timer = NULL;
}
