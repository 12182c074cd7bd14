/* vm-import-libvirt and vm-export-libvirt: the libvirt bridge's commands.
 * The mapping is bridge/'s; a domain on a libvirt connection is read by
 * libvirt_fetch.c's child, so the loop never waits on libvirt. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bridge/lvx.h"
#include "daemon/cmd_vm.h"
#include "daemon/dispatch.h"
#include "daemon/libvirt_fetch.h"
#include "daemon/schema_doc.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "daemon/volume.h"
#include "rpc/message.h"
#include "rpc/schema.h"

/* The mapped config as vm-define's argument would be: checked against
 * vm-config.json (the message names the member) and filled. */
static int check_mapped(struct call *c, struct json_object *config)
{
	struct rpc_schema_ctx ctx = schema_doc_ctx(vmd.vm_schema, vmd.vm_schema);
	char msg[512];

	if (rpc_schema_validate(&ctx, vmd.vm_schema, config, msg, sizeof msg) < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "the mapped config: %s", msg);
		return -1;
	}
	if (schema_doc_fill_config(vmd.vm_schema, config) < 0) {
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	return 0;
}

/* strict: any unmapped element refuses the import, the first named. */
static int check_strict(struct call *c, struct json_object *unmapped)
{
	size_t n = json_object_array_length(unmapped);
	struct json_object *e = n ? json_object_array_get_idx(unmapped, 0) : NULL;

	if (!call_bool(c, "strict") || !n)
		return 0;
	call_error(c, RPC_INVALID_ARGUMENT, "strict: %zu element%s not mapped, first %s: %s",
		   n, n == 1 ? "" : "s", rpc_member_str(e, "element"),
		   rpc_member_str(e, "reason"));
	return -1;
}

static void import_xml(struct call *c, const char *xml, const struct lvx_host *host)
{
	struct lvx_import r;
	struct rpc_fault f;
	struct vm *vm = NULL;

	if (lvx_import(xml, strlen(xml), host, &r, &f) < 0) {
		call_fault(c, &f);
		return;
	}
	if (call_str(c, "name"))
		json_object_object_add(r.config, "name",
				       json_object_new_string(call_str(c, "name")));
	if (check_mapped(c, r.config) == 0 && check_strict(c, r.unmapped) == 0 &&
	    (!call_bool(c, "define") || (vm = cmd_define_config(c, r.config)))) {
		struct json_object *ret = json_object_new_object();
		json_object_object_add(ret, "defined", json_object_new_boolean(vm != NULL));
		json_object_object_add(ret, "config", json_object_get(vm ? vm->config : r.config));
		json_object_object_add(ret, "unmapped", json_object_get(r.unmapped));
		json_object_object_add(ret, "ignored", json_object_get(r.ignored));
		if (vm)
			call_reply_synced(c, ret);
		else
			call_return(c, ret);
	}
	lvx_import_free(&r);
}

static void fetched(void *ctx, struct json_object *got, const struct rpc_fault *err)
{
	struct call *c = ctx;
	struct json_object *a;

	if (err) {
		call_fault(c, err);
		return;
	}
	struct lvx_host host = {.autostart = -1};
	if (json_object_object_get_ex(got, "autostart", &a))
		host.autostart = json_object_get_boolean(a);
	json_object_object_get_ex(got, "bridges", &host.bridges);
	import_xml(c, rpc_member_str(got, "xml") ? rpc_member_str(got, "xml") : "", &host);
}

void cmd_vm_import_libvirt(struct call *c)
{
	const char *xml = call_str(c, "xml"), *uri = call_str(c, "uri");
	const char *domain = call_str(c, "domain");
	struct rpc_fault f;

	if (!xml == !uri || !uri != !domain) {
		call_error(c, RPC_INVALID_ARGUMENT,
			   "give either xml, or uri and domain (of a libvirt connection)");
		return;
	}
	if (xml) {
		import_xml(c, xml, NULL);
		return;
	}
	if (lv_fetch(uri, domain, c->uid, call_int(c, "timeout_s"), fetched, c, &f) < 0)
		call_fault(c, &f);
}

/* The config with each volume disk given as its file, and the volumes
 * named in lost (an import gives back path disks). */
static int volumes_as_paths(struct json_object *cfg, struct json_object *lost,
			    struct rpc_fault *f)
{
	struct json_object *disks;
	struct volume v;
	char path[4200], member[48];

	if (!json_object_object_get_ex(cfg, "disks", &disks))
		return 0;
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i);
		const char *name = rpc_member_str(d, "volume");
		if (!name)
			continue;
		if (volume_get(vmd.store, name, &v) != 0 || volume_path(&v, path, sizeof path) < 0) {
			rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "disks[%zu]: volume '%s' is gone", i, name);
			return -1;
		}
		json_object_object_del(d, "volume");
		json_object_object_add(d, "path", json_object_new_string(path));
		json_object_object_add(d, "format", json_object_new_string(v.format));
		snprintf(member, sizeof member, "disks[%zu].volume", i);
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "member", json_object_new_string(member));
		json_object_object_add(e, "reason", json_object_new_string(
			"written as the volume's file: libvirt opens it by path"));
		json_object_array_add(lost, e);
	}
	return 0;
}

void cmd_vm_export_libvirt(struct call *c)
{
	struct vm *vm = call_vm(c);
	struct json_object *cfg = NULL, *lost = NULL, *vols = json_object_new_array();
	struct rpc_fault f;
	char *xml = NULL;

	if (!vm) {
		json_object_put(vols);
		return;
	}
	if (json_object_deep_copy(vm->config, &cfg, NULL) < 0 ||
	    schema_doc_fill_config(vmd.vm_schema, cfg) < 0)
		rpc_fault_set(&f, RPC_GENERIC_ERROR, "out of memory");
	else if (volumes_as_paths(cfg, vols, &f) == 0)
		xml = lvx_export(cfg, &lost, &f);
	json_object_put(cfg);
	if (!xml) {
		json_object_put(vols);
		call_fault(c, &f);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(vols); i++)
		json_object_array_add(lost, json_object_get(json_object_array_get_idx(vols, i)));
	json_object_put(vols);
	struct json_object *ret = json_object_new_object();
	json_object_object_add(ret, "xml", json_object_new_string(xml));
	json_object_object_add(ret, "lost", lost);
	free(xml);
	call_return(c, ret);
}
