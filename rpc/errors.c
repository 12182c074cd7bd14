/* Error classes of the vmd protocol: the one table that gives each class its
 * wire name and its JSON-RPC 2.0 code.  Everything else (replies, the
 * client, the CLI's exit messages) looks classes up here, so a name can
 * never be spelled two ways. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "rpc/errors.h"

struct err_info {
	const char *name;
	int jsonrpc_code;
};

/* Indexed by rpc_err.  The framing failures are "GenericError" on the QMP
 * side, as QEMU reports them, but keep JSON-RPC's reserved codes. */
static const struct err_info err_table[RPC_ERR__COUNT] = {
	[RPC_OK]                = { "OK", 0 },
	[RPC_GENERIC_ERROR]     = { "GenericError", -32000 },
	[RPC_COMMAND_NOT_FOUND] = { "CommandNotFound", -32601 },
	[RPC_INVALID_ARGUMENT]  = { "InvalidArgument", -32602 },
	[RPC_VM_NOT_FOUND]      = { "VmNotFound", -32001 },
	[RPC_VM_EXISTS]         = { "VmExists", -32002 },
	[RPC_INVALID_STATE]     = { "InvalidState", -32003 },
	[RPC_PERMISSION_DENIED] = { "PermissionDenied", -32004 },
	[RPC_BUSY]              = { "Busy", -32005 },
	[RPC_EMULATOR_FAILED]   = { "EmulatorFailed", -32006 },
	[RPC_UNSUPPORTED]       = { "Unsupported", -32007 },
	[RPC_VOLUME_NOT_FOUND]  = { "VolumeNotFound", -32008 },
	[RPC_VOLUME_EXISTS]     = { "VolumeExists", -32009 },
	[RPC_PARSE_ERROR]       = { "GenericError", -32700 },
	[RPC_INVALID_REQUEST]   = { "GenericError", -32600 },
};

/* Out-of-range values (a corrupted enum) degrade to GenericError rather
 * than reading past the table. */
static const struct err_info *err_lookup(rpc_err e)
{
	if ((int)e < 0 || e >= RPC_ERR__COUNT)
		return &err_table[RPC_GENERIC_ERROR];
	return &err_table[e];
}

const char *rpc_err_name(rpc_err e)
{
	return err_lookup(e)->name;
}

int rpc_err_check_classes(struct json_object *classes, char *msg, size_t msglen)
{
	struct json_object *code;

	if (!json_object_is_type(classes, json_type_object)) {
		snprintf(msg, msglen, "the schema lists no error classes");
		return -1;
	}
	json_object_object_foreach(classes, name, spec) {
		rpc_err e = rpc_err_from_name(name);
		if (strcmp(err_table[e].name, name)) {
			snprintf(msg, msglen, "error class %s is not in rpc/errors.c", name);
			return -1;
		}
		if (!json_object_object_get_ex(spec, "code", &code) ||
		    json_object_get_int(code) != err_table[e].jsonrpc_code) {
			snprintf(msg, msglen, "error class %s: code %d in the schema, "
				 "%d in rpc/errors.c", name, json_object_get_int(code),
				 err_table[e].jsonrpc_code);
			return -1;
		}
	}
	for (int i = RPC_GENERIC_ERROR; i < RPC_ERR__COUNT; i++) {
		const char *wire = err_table[i].name;
		/* the framing failures are GenericError on the wire */
		if (rpc_err_from_name(wire) == (rpc_err)i &&
		    !json_object_object_get_ex(classes, wire, NULL)) {
			snprintf(msg, msglen, "error class %s of rpc/errors.c is not "
				 "in the schema", wire);
			return -1;
		}
	}
	return 0;
}

int rpc_err_jsonrpc_code(rpc_err e)
{
	return err_lookup(e)->jsonrpc_code;
}

/* The first class with a name wins, so "GenericError" maps to
 * RPC_GENERIC_ERROR and never to the framing classes.  "OK" is not a wire
 * class: an error reply can never be turned into success. */
rpc_err rpc_err_from_name(const char *name)
{
	if (name == NULL)
		return RPC_GENERIC_ERROR;
	for (int i = RPC_GENERIC_ERROR; i < RPC_ERR__COUNT; i++) {
		if (strcmp(err_table[i].name, name) == 0)
			return (rpc_err)i;
	}
	return RPC_GENERIC_ERROR;
}

void rpc_fault_set(struct rpc_fault *f, rpc_err cls, const char *fmt, ...)
{
	va_list ap;

	f->cls = cls;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
}
