/* The daemon's one global context, as OpenBSD's vmd keeps `env`: paths,
 * the event base, the store, the host probe and the loaded schemas. */
#ifndef VMD_DAEMON_VMD_H
#define VMD_DAEMON_VMD_H

#include <stdbool.h>
#include <json-c/json.h>
#include <event2/event.h>
#include "emu/arch.h"
#include "emu/probe.h"

struct vmd {
	struct event_base *base;
	struct store *store;
	char *state_dir, *run_dir, *sock_path, *jsonrpc_path, *qemu;
	char *probe_cache;
	struct emu_probe probe;            /* KVM, for x86 guests (vmd.qemu) */
	char *qemu_arch[EMU_ARCH_N];       /* --qemu ARCH=PATH, as emu_arch_all */
	struct json_object *emulators;     /* emu_emulators(): query-host */
	struct json_object *schema;        /* protocol.json */
	struct json_object *vm_schema;     /* vm-config.json */
	int sandbox;                       /* pass -sandbox on to QEMU */
	char *qemu_user;                   /* root's QEMU runs as this user */
	int stop_guests, stop_timeout;     /* SIGTERM stops guests first */
	int scopes;                        /* enum scope_mode (scope.h) */
	unsigned socket_mode;              /* of the sockets vmd makes */
	char *gateway_path;                /* --gateway-socket: no role by */
	unsigned gateway_mode;             /* peer credentials; its mode */
	char *gateway_group;               /* and group (NULL: root's) */
	/* Limits on clients (0 means the default in server.c). */
	size_t max_msg;                    /* bytes in one request */
	int max_clients;                   /* connections at once */
	int max_clients_per_uid;           /* of one user (not root, not vmd's) */
	int admin_reserve;                 /* places only admins take (-1: default) */
	int handshake_timeout;             /* s to send qmp_capabilities */
	int idle_timeout;                  /* s of silence (0: none) */
	int state_lock;                    /* flock on STATE/lock, held */
	int log_retention;                 /* days; 0: keep logs for ever */
	int meter_interval;                /* s between usage samples */
	int meter_retention;               /* days usage samples are kept */
	bool exiting;                      /* a signal asked vmd to exit: no
	                                      loop is entered any more */
};

extern struct vmd vmd;

#endif
