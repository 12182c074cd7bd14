/* daemon/access.c: the role of a peer from its credentials.  Each case
 * forks a child that takes a uid, a primary group and supplementary groups
 * and connects to an abstract unix socket; access_role_of() judges the
 * accepted end.  getgrnam is wrapped (vmd-admin and vmd get fixed gids, so
 * /etc/group does not matter), and so are malloc and free: a buffer comes
 * with room to spare filled with vmd-admin's gid, so a read past the peer's
 * groups shows; an allocation fails on demand; every one must be freed.
 * Needs root (to become the peer); skipped otherwise. */
#include "config.h"

#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/access.h"

#define GID_ADMIN 4242
#define GID_READ 4243
#define PEER_UID 14001
#define OTHER_GID 14002
#define VMD_UID 14003     /* vmd's own user, when it is not root */

static int fail_mallocs, outstanding;

struct group *__real_getgrnam(const char *name);
struct group *__wrap_getgrnam(const char *name);
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
void __real_free(void *p);
void __wrap_free(void *p);

struct group *__wrap_getgrnam(const char *name)
{
	static struct group admin = {.gr_name = "vmd-admin", .gr_gid = GID_ADMIN};
	static struct group reader = {.gr_name = "vmd", .gr_gid = GID_READ};

	if (!strcmp(name, ACCESS_GROUP_ADMIN))
		return &admin;
	if (!strcmp(name, ACCESS_GROUP_READ))
		return &reader;
	return NULL;
}

#define SPARE 16  /* gids past the end, all vmd-admin's */

void *__wrap_malloc(size_t n)
{
	gid_t *g;

	if (fail_mallocs > 0) {
		fail_mallocs--;
		return NULL;
	}
	if (!(g = __real_malloc(n + SPARE * sizeof(gid_t))))
		return NULL;
	for (size_t i = 0; i < n / sizeof(gid_t) + SPARE; i++)
		g[i] = GID_ADMIN;
	outstanding++;
	return g;
}

void __wrap_free(void *p)
{
	if (p)
		outstanding--;
	__real_free(p);
}

static int listen_abstract(struct sockaddr_un *sa, socklen_t *len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
		 "vmd-test-access-%d", (int)getpid());
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			   strlen(sa->sun_path + 1));
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)sa, *len), 0);
	assert_int_equal(listen(fd, 1), 0);
	return fd;
}

/* The child: become uid/gid/groups, connect, wait for the parent's close. */
static void peer(const struct sockaddr_un *sa, socklen_t len, uid_t uid,
		 gid_t gid, const gid_t *groups, size_t n)
{
	int fd;
	char c;

	if (setgroups(n, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		_exit(2);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, len) < 0)
		_exit(3);
	while (read(fd, &c, 1) > 0)
		;
	_exit(0);
}

/* The role vmd (running as vmd_euid) gives that peer. */
static enum access_role role_as(uid_t vmd_euid, uid_t uid, gid_t gid,
				const gid_t *groups, size_t n)
{
	struct sockaddr_un sa;
	socklen_t len;
	int lfd = listen_abstract(&sa, &len), fd, status;
	enum access_role role;
	uid_t got_uid = (uid_t)-1;
	pid_t got_pid = 0, child = fork();

	assert_true(child >= 0);
	if (child == 0)
		peer(&sa, len, uid, gid, groups, n);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(seteuid(vmd_euid), 0);
	role = access_role_of(fd, &got_uid, &got_pid);
	assert_int_equal(seteuid(0), 0);
	close(fd);
	close(lfd);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(got_uid, uid);
	assert_int_equal(got_pid, child);
	assert_int_equal(outstanding, 0);
	return role;
}

static enum access_role role(gid_t gid, const gid_t *groups, size_t n)
{
	return role_as(0, PEER_UID, gid, groups, n);
}

/* Becoming the peer takes root. */
static void need_root(void)
{
	fail_mallocs = 0;
	outstanding = 0;
	if (geteuid() != 0)
		skip();
}

/* Root and vmd's own user are admins whatever their groups. */
static void test_root_and_own_user(void **state)
{
	(void)state;
	need_root();
	assert_int_equal(role_as(VMD_UID, 0, 0, NULL, 0), ROLE_ADMIN);
	assert_int_equal(role_as(VMD_UID, VMD_UID, OTHER_GID, NULL, 0), ROLE_ADMIN);
	assert_int_equal(role_as(VMD_UID, PEER_UID, OTHER_GID, NULL, 0), ROLE_NONE);
}

static void test_groups(void **state)
{
	const gid_t none[] = {OTHER_GID}, rd[] = {GID_READ},
		    adm[] = {GID_READ, GID_ADMIN}, rd_other[] = {OTHER_GID, GID_READ};

	(void)state;
	need_root();
	assert_int_equal(role(OTHER_GID, NULL, 0), ROLE_NONE);
	assert_int_equal(role(OTHER_GID, none, 1), ROLE_NONE);
	assert_int_equal(role(OTHER_GID, rd, 1), ROLE_READ);
	assert_int_equal(role(OTHER_GID, rd_other, 2), ROLE_READ);
	assert_int_equal(role(OTHER_GID, adm, 2), ROLE_ADMIN);
	/* the primary group counts as much */
	assert_int_equal(role(GID_READ, NULL, 0), ROLE_READ);
	assert_int_equal(role(GID_ADMIN, NULL, 0), ROLE_ADMIN);
	assert_int_equal(role(GID_READ, none, 1), ROLE_READ);
}

/* More groups than the first guess of the buffer: none is lost, and
 * nothing past the last one is read. */
static void test_many_groups(void **state)
{
	gid_t g[300];

	(void)state;
	need_root();
	for (size_t i = 0; i < 300; i++)
		g[i] = (gid_t)(20000 + i);
	assert_int_equal(role(OTHER_GID, g, 300), ROLE_NONE);
	g[299] = GID_READ;
	assert_int_equal(role(OTHER_GID, g, 300), ROLE_READ);
	g[0] = GID_ADMIN;
	assert_int_equal(role(OTHER_GID, g, 300), ROLE_ADMIN);
	g[0] = GID_READ;
	assert_int_equal(role(OTHER_GID, g, 1), ROLE_READ);
}

/* Out of memory for the groups: only the primary group counts. */
static void test_groups_nomem(void **state)
{
	const gid_t rd[] = {GID_READ};

	(void)state;
	need_root();
	fail_mallocs = 1;
	assert_int_equal(role(OTHER_GID, rd, 1), ROLE_NONE);
	fail_mallocs = 1;
	assert_int_equal(role(GID_READ, rd, 1), ROLE_READ);
}

static void test_needed_and_names(void **state)
{
	(void)state;
	assert_int_equal(access_needed("admin"), ROLE_ADMIN);
	assert_int_equal(access_needed(NULL), ROLE_ADMIN);
	assert_int_equal(access_needed("read"), ROLE_READ);
	assert_int_equal(access_needed("any"), ROLE_NONE);
	assert_string_equal(access_role_name(ROLE_NONE), "no access");
	assert_string_equal(access_role_name(ROLE_READ), "vmd (read)");
	assert_string_equal(access_role_name(ROLE_ADMIN), "vmd-admin");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_and_own_user),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_many_groups),
		cmocka_unit_test(test_groups_nomem),
		cmocka_unit_test(test_needed_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
