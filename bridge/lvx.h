/* The libvirt bridge: libvirt domain XML to a vmd VM config and back.
 * A layer of its own (bridge/, may include rpc/ only): a pure
 * translation between two documents, with libxml2 and XPath, that knows
 * no daemon, no socket and no libvirt connection, so that its unit and
 * corpus tests run it alone (and under ASan) on any XML. */
#ifndef VMD_BRIDGE_LVX_H
#define VMD_BRIDGE_LVX_H

#include <stddef.h>
#include <json-c/json.h>
#include "rpc/errors.h"

/* The XML vmd-libvirt or a client hands over is at most this long. */
#define LVX_XML_MAX (1024 * 1024)

/* What a libvirt connection knows beyond the domain's XML. */
struct lvx_host {
	int autostart;               /* 0, 1, or -1: not known */
	struct json_object *bridges; /* {network name: bridge}, or NULL */
};

/* The outcome of an import.  unmapped: what would change the guest and
 * is not in config, each {"element": "/domain/devices/disk[2]",
 * "reason": "..."}; ignored: what vmd's own choice replaces with the
 * same effect (the emulator path, PCI addresses, controllers), listed
 * too so that nothing is dropped unseen. */
struct lvx_import {
	struct json_object *config;
	struct json_object *unmapped;
	struct json_object *ignored;
};

/* Map xml[0..len) (a <domain>) to a VM config.  0 with out filled (the
 * caller puts its three objects), or -1 with f (InvalidArgument: not
 * XML, not a domain, no usable name). */
int lvx_import(const char *xml, size_t len, const struct lvx_host *host,
	       struct lvx_import *out, struct rpc_fault *f);
void lvx_import_free(struct lvx_import *out);

/* Domain XML for config (filled with the schema's defaults, its volume
 * disks given as paths).  A malloc'd string, with *lost set to a new
 * array of {"member", "reason"} for what libvirt cannot express; NULL
 * with f when memory ran out. */
char *lvx_export(struct json_object *config, struct json_object **lost,
		 struct rpc_fault *f);

/* The namespace of vmd's own <metadata> element. */
#define LVX_NS "urn:x-vmd:libvirt:1"

#endif
