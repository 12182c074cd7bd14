/* The cloud_init block of a VM definition, checked at vm-define and
 * vm-update (daemon/cloud_init.c); the seed built from it is seed.h's. */
#ifndef VMD_DAEMON_CLOUD_INIT_H
#define VMD_DAEMON_CLOUD_INIT_H

#include <json-c/json.h>
#include "rpc/errors.h"

/* Check config's cloud_init block (none: 0) beyond its schema: a machine
 * with a bus for the seed's CD-ROM (not microvm), ssh keys,
 * password hashes, user_data and vendor_data as cloud-config YAML,
 * addresses, NIC indexes.  A plain "password" is replaced in config by
 * its "password_hash": the one old (the definition config replaces, or
 * NULL) has for the same user when it is of the same password, else a
 * new one.  -1 with an InvalidArgument naming the field in f. */
int cloud_init_check(struct json_object *config, struct json_object *old,
		     struct rpc_fault *f);

#endif
