/* vmctl's way to vmd's socket: which one (-s, $VMD_SOCKET, or the default
 * for root or for the user's own vmd), a refusal to use a default socket
 * directory someone else could control, and messages that say what to do
 * when the connection fails.
 *
 * The default socket of a non-root user lies in $XDG_RUNTIME_DIR/vmd or
 * /tmp/vmd-UID.  /tmp is shared: another user can make /tmp/vmd-UID first
 * and listen there, and vmctl would hand them every request, secrets in VM
 * definitions included.  So, as ssh-agent does, a default socket directory
 * must belong to the user and be writable by no one else.  A socket named
 * with -s or $VMD_SOCKET is the user's explicit choice and is not checked. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "rpc/client.h"

#define SYSTEM_SOCKET "/run/vmd/vmd.sock"

/* Refuse dir unless it is the user's own, writable by the user alone.  A
 * missing directory is left to connect(), which says vmd is not running. */
static void check_dir(struct ctl *ctl, const char *dir)
{
	struct stat st;
	uid_t me = geteuid();

	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT)
			return;
		ctl_fail(ctl, EXIT_CONNECT, "GenericError", "cannot use the socket "
			 "directory %s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		ctl_fail(ctl, EXIT_CONNECT, "GenericError", "refusing the socket "
			 "directory %s: it is not a directory%s; remove it, or "
			 "name a socket with -s or VMD_SOCKET", dir,
			 S_ISLNK(st.st_mode) ? " but a symbolic link" : "");
	if (st.st_uid != me)
		ctl_fail(ctl, EXIT_CONNECT, "GenericError", "refusing the socket "
			 "directory %s: it belongs to uid %u, not to you (uid %u), "
			 "who could answer in vmd's place; remove it, or name a "
			 "socket with -s or VMD_SOCKET", dir, (unsigned)st.st_uid,
			 (unsigned)me);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		ctl_fail(ctl, EXIT_CONNECT, "GenericError", "refusing the socket "
			 "directory %s: others may write to it (mode %04o), and "
			 "could put their own socket there; chmod go-w %s, or name "
			 "a socket with -s or VMD_SOCKET", dir,
			 (unsigned)(st.st_mode & 07777), dir);
}

/* $VMD_SOCKET, else the system socket for root, else the user instance's
 * (after checking its directories). */
static const char *default_socket(struct ctl *ctl)
{
	static char path[4096];
	const char *env = getenv("VMD_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[4000];

	if (env != NULL && *env != '\0')
		return env;
	if (geteuid() == 0)
		return SYSTEM_SOCKET;
	if (xdg != NULL && *xdg != '\0') {
		check_dir(ctl, xdg);
		snprintf(dir, sizeof(dir), "%s/vmd", xdg);
	} else {
		snprintf(dir, sizeof(dir), "/tmp/vmd-%u", (unsigned)geteuid());
	}
	check_dir(ctl, dir);
	snprintf(path, sizeof(path), "%s/vmd.sock", dir);
	return path;
}

/* Who may use the socket, for "Permission denied". */
static void access_hint(const char *socket, char *buf, size_t len)
{
	struct stat st;
	struct group *g;

	if (stat(socket, &st) < 0) {
		snprintf(buf, len, "its directory is closed to you; members of "
			 "group vmd may look, members of vmd-admin also change "
			 "things");
		return;
	}
	g = getgrgid(st.st_gid);
	if (g != NULL && strcmp(g->gr_name, "vmd") == 0)
		snprintf(buf, len, "the socket admits group vmd: its members may "
			 "look (list, show, console --ro), members of vmd-admin "
			 "also change things; ask an administrator to add you, "
			 "then log in again");
	else
		snprintf(buf, len, "the socket belongs to uid %u, group %s, mode "
			 "%04o", (unsigned)st.st_uid, g ? g->gr_name : "?",
			 (unsigned)(st.st_mode & 07777));
}

static void connect_failed(struct ctl *ctl, int dflt, int err)
{
	char hint[512];

	if (err == EACCES || err == EPERM)
		access_hint(ctl->socket, hint, sizeof(hint));
	else if (err == ENOENT || err == ECONNREFUSED)
		snprintf(hint, sizeof(hint), "vmd is not running (%s)%s",
			 err == ENOENT ? "no socket there" :
			 "nobody listens on that socket",
			 dflt ? "; this is the default socket, -s or VMD_SOCKET "
			 "names another" : "");
	else
		snprintf(hint, sizeof(hint), "is vmd running?");
	ctl_fail(ctl, EXIT_CONNECT, "GenericError", "cannot connect to %s: %s: %s",
		 ctl->socket, strerror(err), hint);
}

void ctl_connect(struct ctl *ctl)
{
	int dflt = ctl->socket == NULL;
	char err[512];
	int saved;

	if (ctl->rpc != NULL)
		return;
	if (dflt)
		ctl->socket = default_socket(ctl);
	errno = 0;
	ctl->rpc = rpc_client_connect_max(ctl->socket, VMCTL_MAX_REPLY, err,
					  sizeof(err));
	saved = errno;
	/* errno names the cause plainly; err is for failures without one
	 * (a path too long for a unix socket). */
	if (ctl->rpc == NULL && saved == 0)
		ctl_fail(ctl, EXIT_CONNECT, "GenericError",
			 "cannot connect: %s", err);
	if (ctl->rpc == NULL)
		connect_failed(ctl, dflt && getenv("VMD_SOCKET") == NULL, saved);
	/* from the environment, not argv: ps shows every user a command line */
	if (getenv("VMD_TOKEN") && *getenv("VMD_TOKEN") &&
	    rpc_client_set_token(ctl->rpc, getenv("VMD_TOKEN")) < 0)
		ctl_fail(ctl, EXIT_CONNECT, "GenericError", "out of memory");
	if (rpc_client_negotiate(ctl->rpc, ctl->timeout_ms, err, sizeof(err)) < 0)
		ctl_fail(ctl, EXIT_CONNECT, "GenericError",
			 "cannot negotiate with %s: %s", ctl->socket, err);
}
