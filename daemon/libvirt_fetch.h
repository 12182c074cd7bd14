/* Reading a domain from a libvirt connection without blocking the loop:
 * libvirt's calls block (a daemon to reach, maybe to start), so vmd runs
 * vmd-libvirt (bridge/vmd_libvirt.c) as its child, as the user who
 * asked, reads its output through the loop and kills it at a deadline. */
#ifndef VMD_DAEMON_LIBVIRT_FETCH_H
#define VMD_DAEMON_LIBVIRT_FETCH_H

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "rpc/errors.h"

/* At most this many run at once; more are refused (Busy). */
#define LV_FETCH_MAX 4

/* Told once: got is {"xml", "autostart"?, "bridges"} (borrowed for the
 * call), or err says why not. */
typedef void (*lv_fetch_cb)(void *ctx, struct json_object *got,
			    const struct rpc_fault *err);

/* Starts vmd-libvirt URI DOMAIN as uid.  0, or -1 with f (Busy, or the
 * fork failed; done is then not called). */
int lv_fetch(const char *uri, const char *domain, uid_t uid, int timeout_s,
	     lv_fetch_cb done, void *ctx, struct rpc_fault *f);
/* SIGCHLD: true when pid was a fetch's (its end is then handled). */
bool lv_fetch_child_exited(pid_t pid, int status);
/* vmd exits: every fetch is killed and told. */
void lv_fetch_kill_all(void);

#endif
