/* Connection limits (climit.h).  Counts per uid are kept in a small array:
 * a host has few distinct users talking to vmd at once. */
#include "config.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "daemon/climit.h"
#include "daemon/log.h"
#include "daemon/vmd.h"

struct uid_count {
	uid_t uid;
	int n;
};

static struct uid_count *uids;
static size_t nuids, cap;
static int total;
static uint64_t admitted, refused;  /* since vmd started, for metrics */

int climit_max(void)
{
	return vmd.max_clients > 0 ? vmd.max_clients : CLIMIT_DEFAULT_MAX;
}

int climit_per_uid(void)
{
	return vmd.max_clients_per_uid > 0 ? vmd.max_clients_per_uid :
	       CLIMIT_DEFAULT_PER_UID;
}

int climit_reserve(void)
{
	int max = climit_max(), r = vmd.admin_reserve;

	if (r < 0)
		r = max / 8 < CLIMIT_DEFAULT_RESERVE ? max / 8 : CLIMIT_DEFAULT_RESERVE;
	return r < max ? r : max - 1;
}

static struct uid_count *find(uid_t uid)
{
	for (size_t i = 0; i < nuids; i++)
		if (uids[i].uid == uid)
			return &uids[i];
	return NULL;
}

/* The entry of uid, made if needed; NULL when out of memory. */
static struct uid_count *get(uid_t uid)
{
	struct uid_count *u = find(uid);

	if (u)
		return u;
	if (nuids == cap) {
		size_t ncap = cap ? cap * 2 : 16;
		struct uid_count *p = realloc(uids, ncap * sizeof *p);
		if (!p)
			return NULL;
		uids = p;
		cap = ncap;
	}
	uids[nuids] = (struct uid_count){uid, 0};
	return &uids[nuids++];
}

static bool exempt(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

int climit_admit(uid_t uid, enum access_role role, char *why, size_t len)
{
	int max = climit_max(), reserve = climit_reserve();
	struct uid_count *u = find(uid);

	if (total >= max) {
		snprintf(why, len, "too many clients (at most %d); try again "
			 "later (--max-clients)", max);
		return -1;
	}
	if (!exempt(uid) && u && u->n >= climit_per_uid()) {
		snprintf(why, len, "too many connections from uid %d (at most %d "
			 "per user, --max-clients-per-uid); close some and try "
			 "again", (int)uid, climit_per_uid());
		return -1;
	}
	if (role < ROLE_ADMIN && total >= max - reserve) {
		snprintf(why, len, "too many clients: the last %d of %d places "
			 "are kept for root and vmd-admin (--admin-reserve); try "
			 "again later", reserve, max);
		return -1;
	}
	if (!(u = get(uid))) {
		snprintf(why, len, "out of memory; try again later");
		return -1;
	}
	u->n++;
	total++;
	admitted++;
	return 0;
}

void climit_release(uid_t uid)
{
	struct uid_count *u = find(uid);

	total--;
	if (u && --u->n == 0)
		*u = uids[--nuids];  /* order does not matter */
}

/* A client refused for being one too many would flood the log if it
 * retried in a loop: one line a second says who and how many more. */
void climit_refuse(int fd, enum rpc_dialect d, uid_t uid, pid_t pid,
		   const char *why)
{
	static time_t last;
	static unsigned quiet;
	time_t now = time(NULL);
	struct json_object *msg = rpc_reply_error(d, NULL, RPC_BUSY, why);

	refused++;
	size_t len;
	char *s = msg ? rpc_emit(msg, &len) : NULL;

	/* a new socket's send buffer takes these few bytes at once */
	if (s && send(fd, s, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("client uid=%d: cannot send the refusal", (int)uid);
	free(s);
	json_object_put(msg);
	close(fd);
	if (now == last) {
		quiet++;
		return;
	}
	if (quiet)
		log_warn("%u more clients refused in the second before", quiet);
	log_warn("client uid=%d pid=%d refused: %s", (int)uid, (int)pid, why);
	last = now;
	quiet = 0;
}

int climit_clients(void)
{
	return total;
}

uint64_t climit_admitted(void)
{
	return admitted;
}

uint64_t climit_refused(void)
{
	return refused;
}
