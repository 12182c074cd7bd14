/* Who may do what.  Every connection's peer is known from SO_PEERCRED and
 * SO_PEERGROUPS: root, vmd's own user and members of group vmd-admin may do
 * anything; members of group vmd may look (list, show, consoles read-only,
 * logs); everyone else is refused with PermissionDenied. */
#ifndef VMD_DAEMON_ACCESS_H
#define VMD_DAEMON_ACCESS_H

#include <sys/types.h>

enum access_role { ROLE_NONE = 0, ROLE_READ = 1, ROLE_ADMIN = 2 };

#define ACCESS_GROUP_ADMIN "vmd-admin"
#define ACCESS_GROUP_READ "vmd"

/* The role of the peer of a connected unix socket. */
enum access_role access_role_of(int fd, uid_t *uid, pid_t *pid);
/* The role a command needs: "any", "read" or "admin" (schema "access"). */
enum access_role access_needed(const char *level);
const char *access_role_name(enum access_role r);

#endif
