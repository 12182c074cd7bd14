/* Error classes of the vmd protocol: QMP's own plus vmd's, and how each maps
 * to a JSON-RPC 2.0 error code.  The names are wire strings; schemas/
 * lists which command may return which. */
#ifndef VMD_RPC_ERRORS_H
#define VMD_RPC_ERRORS_H

#include <stddef.h>
#include <json-c/json.h>

typedef enum {
	RPC_OK = 0,
	RPC_GENERIC_ERROR,     /* "GenericError"      JSON-RPC -32000 */
	RPC_COMMAND_NOT_FOUND, /* "CommandNotFound"   -32601 */
	RPC_INVALID_ARGUMENT,  /* "InvalidArgument"   -32602 */
	RPC_VM_NOT_FOUND,      /* "VmNotFound"        -32001 */
	RPC_VM_EXISTS,         /* "VmExists"          -32002 */
	RPC_INVALID_STATE,     /* "InvalidState"      -32003 */
	RPC_PERMISSION_DENIED, /* "PermissionDenied"  -32004 */
	RPC_BUSY,              /* "Busy"              -32005 */
	RPC_EMULATOR_FAILED,   /* "EmulatorFailed"    -32006 */
	RPC_UNSUPPORTED,       /* "Unsupported"       -32007 */
	RPC_VOLUME_NOT_FOUND,  /* "VolumeNotFound"    -32008 */
	RPC_VOLUME_EXISTS,     /* "VolumeExists"      -32009 */
	/* Framing-level failures: QMP calls both "GenericError"; JSON-RPC
	 * tells them apart. */
	RPC_PARSE_ERROR,       /* "GenericError"      -32700 */
	RPC_INVALID_REQUEST,   /* "GenericError"      -32600 */
	RPC_ERR__COUNT
} rpc_err;

/* Wire name of a class, e.g. "VmNotFound". Never NULL. */
const char *rpc_err_name(rpc_err e);
/* The classes schemas/protocol.json declares ("errors": {name: {"code":
 * N, ...}}) are exactly this table's wire classes, with the same codes:
 * schemas/ is the list, this table follows it, and vmd refuses to start
 * (and test_schema fails) when they differ.  0, or -1 with msg. */
int rpc_err_check_classes(struct json_object *classes, char *msg, size_t msglen);
/* Class for a wire name; unknown names give RPC_GENERIC_ERROR. */
rpc_err rpc_err_from_name(const char *name);
/* JSON-RPC 2.0 error code for a class. */
int rpc_err_jsonrpc_code(rpc_err e);

/* An error on its way up to whoever answers the request: the layers below
 * the command handlers fill one in and return -1, the handler replies it. */
struct rpc_fault {
	rpc_err cls;
	char msg[1024];
};
void rpc_fault_set(struct rpc_fault *f, rpc_err cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
