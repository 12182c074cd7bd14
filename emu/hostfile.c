/* Opening a VM's host files as the QEMU user.  When vmd is root, a forked
 * child drops to that user (its groups, gid, uid, in that order, as QEMU's
 * -runas does), opens each file and sends the descriptors back over a
 * SOCK_SEQPACKET pair with SCM_RIGHTS, one message per file.  Opening with
 * O_NONBLOCK keeps a FIFO from blocking the child; fstat then refuses
 * anything but the kinds a request allows. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emu/hostfile.h"

#define MAX_GROUPS 256

/* What happened to one request: sent from the child, with its fd. */
enum stage { ST_OK, ST_OPEN, ST_KIND };
struct result {
	int stage;
	int err;     /* errno for ST_OPEN */
};

struct user {
	const char *name;   /* NULL: this process */
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_GROUPS];
	int ngroups;
};

static bool kind_ok(const struct emu_file_req *r, mode_t m)
{
	switch (r->kind) {
	case EMU_FILE_DISK:
		return S_ISREG(m) || S_ISBLK(m);
	case EMU_FILE_REGULAR:
		return S_ISREG(m);
	case EMU_FILE_CHARDEV:
		return S_ISCHR(m);
	}
	return false;
}

static const char *kind_wanted(enum emu_file_kind k)
{
	return k == EMU_FILE_DISK ? "not a regular file or block device" :
	       k == EMU_FILE_REGULAR ? "not a regular file" :
	       "not a character device";
}

/* Opens r with this process's rights: *fd on ST_OK. */
static struct result open_one(const struct emu_file_req *r, int *fd)
{
	struct result res = {ST_OK, 0};
	struct stat st;

	*fd = open(r->path, (r->write ? O_RDWR : O_RDONLY) | O_CLOEXEC |
		      O_NOCTTY | O_NONBLOCK);
	if (*fd < 0)
		return (struct result){ST_OPEN, errno};
	if (fstat(*fd, &st) < 0)
		res = (struct result){ST_OPEN, errno};
	else if (!kind_ok(r, st.st_mode))
		res = (struct result){ST_KIND, 0};
	else if (r->kind != EMU_FILE_CHARDEV &&
		 fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK) < 0)
		res = (struct result){ST_OPEN, errno};
	if (res.stage != ST_OK) {
		close(*fd);
		*fd = -1;
	}
	return res;
}

/* --- the child ---------------------------------------------------------- */

static int send_result(int sock, struct result res, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {&res, sizeof res};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		memset(&u, 0, sizeof u);
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static void child(int sock, const struct user *u,
		  const struct emu_file_req *reqs, size_t n)
{
	int fd;

	if (setgroups(u->ngroups, u->groups) < 0 || setgid(u->gid) < 0 ||
	    setuid(u->uid) < 0 || (u->uid != 0 && setuid(0) == 0))
		_exit(2);
	for (size_t i = 0; i < n; i++) {
		struct result res = open_one(&reqs[i], &fd);
		if (send_result(sock, res, fd) < 0 || res.stage != ST_OK)
			_exit(res.stage == ST_OK ? 1 : 0);
		close(fd);
	}
	_exit(0);
}

/* --- the parent --------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* One result and its descriptor; -2 on timeout, -1 on EOF (the child could
 * not become the user) or a short message. */
static int recv_result(int sock, long long deadline, struct result *res,
		       int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {res, sizeof *res};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	struct pollfd p = {sock, POLLIN, 0};
	ssize_t got;
	int left;

	*fd = -1;
	do {
		left = (int)(deadline - now_ms());
	} while (left > 0 && poll(&p, 1, left) < 0 && errno == EINTR);
	if (left <= 0)
		return -2;
	if (!(p.revents & POLLIN))
		return -1;
	got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (k >= 1)
				memcpy(fd, CMSG_DATA(cm), sizeof(int));
		}
	return got == (ssize_t)sizeof *res ? 0 : -1;
}

static void describe(const struct emu_file_req *r, const struct user *u,
		     struct result res, char *err, size_t len)
{
	char who[160];
	const char *how = r->write ? "read-write" : "read-only";

	if (u->name)
		snprintf(who, sizeof who, "the QEMU user %s", u->name);
	else
		snprintf(who, sizeof who, "vmd's user (uid %u, which QEMU runs "
			 "as)", (unsigned)u->uid);
	if (res.stage == ST_KIND) {
		snprintf(err, len, "%s %s: %s", r->what, r->path, kind_wanted(r->kind));
	} else if (res.err == EACCES || res.err == EPERM) {
		char owner[96] = "give it to that user";
		if (u->name)
			snprintf(owner, sizeof owner, "chown it to %s", u->name);
		snprintf(err, len, "%s %s: %s cannot open it %s: %s (%s or make "
			 "it %s for that user)", r->what, r->path, who, how,
			 strerror(res.err), owner,
			 r->write ? "readable and writable" : "readable");
	} else {
		snprintf(err, len, "%s %s: %s cannot open it %s: %s", r->what,
			 r->path, who, how, strerror(res.err));
	}
}

static int lookup_user(const char *name, struct user *u, char *err, size_t len)
{
	struct passwd *pw;

	u->name = name;
	if (!name) {
		u->uid = geteuid();
		return 0;
	}
	errno = 0;
	if (!(pw = getpwnam(name))) {
		snprintf(err, len, "the QEMU user %s does not exist%s%s", name,
			 errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	u->ngroups = MAX_GROUPS;
	if (getgrouplist(name, pw->pw_gid, u->groups, &u->ngroups) < 0) {
		snprintf(err, len, "the QEMU user %s is in more than %d groups",
			 name, MAX_GROUPS);
		return -1;
	}
	return 0;
}

/* After each request is open: the qcow2 check, and the message. */
static int check_opened(struct emu_file_req *r, const struct user *u,
			struct result res, char *err, size_t len)
{
	char why[512];

	if (res.stage != ST_OK) {
		describe(r, u, res, err, len);
		return -1;
	}
	if (r->qcow2 && emu_qcow2_problem(r->fd, why, sizeof why)) {
		snprintf(err, len, "%s %s: %s", r->what, r->path, why);
		return -1;
	}
	return 0;
}

static int open_via_child(const struct user *u, struct emu_file_req *reqs,
			  size_t n, int timeout_ms, char *err, size_t len)
{
	long long deadline = now_ms() + timeout_ms;
	int sv[2], status, rc = 0, fd;
	struct result res;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, len, "socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, len, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		child(sv[1], u, reqs, n);
	}
	close(sv[1]);
	for (size_t i = 0; i < n && rc == 0; i++) {
		int got = recv_result(sv[0], deadline, &res, &fd);
		if (got == -2)
			snprintf(err, len, "%s %s: the QEMU user %s could not open "
				 "it within %d ms", reqs[i].what, reqs[i].path,
				 u->name, timeout_ms);
		else if (got < 0)
			snprintf(err, len, "%s %s: cannot open it as the QEMU user "
				 "%s: vmd could not switch to that user",
				 reqs[i].what, reqs[i].path, u->name);
		if (got < 0) {
			rc = -1;
			break;
		}
		reqs[i].fd = fd;
		rc = check_opened(&reqs[i], u, res, err, len);
	}
	close(sv[0]);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return rc;
}

int emu_open_files(const char *user, struct emu_file_req *reqs, size_t n,
		   int timeout_ms, char *err, size_t errlen)
{
	struct user u;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		reqs[i].fd = -1;
	if (lookup_user(user, &u, err, errlen) < 0)
		return -1;
	if (user) {
		rc = open_via_child(&u, reqs, n, timeout_ms, err, errlen);
	} else {
		for (size_t i = 0; i < n && rc == 0; i++) {
			struct result res = open_one(&reqs[i], &reqs[i].fd);
			rc = check_opened(&reqs[i], &u, res, err, errlen);
		}
	}
	if (rc < 0)
		emu_close_files(reqs, n);
	return rc;
}

void emu_close_files(struct emu_file_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (reqs[i].fd >= 0)
			close(reqs[i].fd);
		reqs[i].fd = -1;
	}
}

/* --- qcow2 -------------------------------------------------------------- */

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

const char *emu_qcow2_problem(int fd, char *buf, size_t len)
{
	unsigned char h[80];
	char name[256];
	ssize_t got = pread(fd, h, sizeof h, 0);

	/* not qcow2 at all: QEMU says so itself, and opens nothing else */
	if (got < 72 || be(h, 4) != 0x514649fb)
		return NULL;
	uint64_t off = be(h + 8, 8), size = be(h + 16, 4);
	if (off) {
		if (size >= sizeof name)
			size = sizeof name - 1;
		ssize_t k = pread(fd, name, size, (off_t)off);
		name[k > 0 ? k : 0] = '\0';
		for (char *c = name; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		snprintf(buf, len, "the qcow2 image has a backing file (%s); vmd "
			 "does not pass backing files to QEMU: flatten it with "
			 "qemu-img convert", name);
		return buf;
	}
	/* version 3 incompatible feature bit 2: an external data file */
	if (be(h + 4, 4) >= 3 && got >= 80 && (be(h + 72, 8) & 4)) {
		snprintf(buf, len, "the qcow2 image has an external data file; "
			 "vmd does not pass those to QEMU");
		return buf;
	}
	return NULL;
}
