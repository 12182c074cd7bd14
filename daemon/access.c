/* Access control from the peer's credentials.  The groups come from
 * SO_PEERGROUPS (the peer's supplementary groups when it connected), not
 * from /etc/group lookups of its uid, so a process that dropped a group
 * does not get it back.  Group names are resolved on each connection, so
 * groups created after vmd started work at once. */
#include "config.h"
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "daemon/access.h"

static bool has_gid(gid_t want, gid_t primary, const gid_t *g, int n)
{
	if (want == primary)
		return true;
	for (int i = 0; i < n; i++)
		if (g[i] == want)
			return true;
	return false;
}

static bool in_group(const char *name, gid_t primary, const gid_t *g, int n)
{
	struct group *gr = getgrnam(name);

	return gr && has_gid(gr->gr_gid, primary, g, n);
}

/* The peer's supplementary groups (malloc'd, *n of them; NULL if none).
 * Asked with no room first, the kernel answers ERANGE and the size it
 * needs, which cannot change: the groups are those of connect() time.  So
 * a member of any number of groups keeps them all; if that fails, only
 * the primary group counts. */
static gid_t *peer_groups(int fd, int *n)
{
	socklen_t len = 0;
	gid_t *g;

	*n = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) == 0 ||
	    errno != ERANGE || !(g = malloc(len)))
		return NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
		free(g);
		return NULL;
	}
	*n = (int)(len / sizeof(gid_t));
	return g;
}

enum access_role access_role_of(int fd, uid_t *uid, pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	enum access_role role = ROLE_NONE;
	gid_t *groups;
	int n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return ROLE_NONE;
	*uid = cred.uid;
	*pid = cred.pid;
	if (cred.uid == 0 || cred.uid == geteuid())
		return ROLE_ADMIN;
	groups = peer_groups(fd, &n);
	if (in_group(ACCESS_GROUP_ADMIN, cred.gid, groups, n))
		role = ROLE_ADMIN;
	else if (in_group(ACCESS_GROUP_READ, cred.gid, groups, n))
		role = ROLE_READ;
	free(groups);
	return role;
}

enum access_role access_needed(const char *level)
{
	if (!level || !strcmp(level, "admin"))
		return ROLE_ADMIN;
	return !strcmp(level, "read") ? ROLE_READ : ROLE_NONE;
}

const char *access_role_name(enum access_role r)
{
	static const char *const names[] = {"no access", "vmd (read)",
					    "vmd-admin"};
	return names[r];
}
