/* The daemon's one global context, as OpenBSD's vmd keeps `env`: paths,
 * the event base, the store, the host probe and the loaded schemas. */
#ifndef VMD_DAEMON_VMD_H
#define VMD_DAEMON_VMD_H

#include <json-c/json.h>
#include <event2/event.h>
#include "emu/probe.h"

struct vmd {
	struct event_base *base;
	struct store *store;
	char *state_dir, *run_dir, *sock_path, *jsonrpc_path, *qemu;
	char *probe_cache;
	struct emu_probe probe;
	struct json_object *schema;        /* protocol.json */
	struct json_object *vm_schema;     /* vm-config.json */
	int sandbox;                       /* pass -sandbox on to QEMU */
	unsigned socket_mode;              /* of the sockets vmd makes */
};

extern struct vmd vmd;

#endif
