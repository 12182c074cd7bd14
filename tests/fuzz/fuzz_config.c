/* libFuzzer harness for the VM-config validator: rpc/schema.c checking a
 * value against schemas/vm-config.json, the check every vm-define and
 * vm-update config passes before vmd stores it or builds a QEMU command
 * line from it.
 *
 * The input is JSON text, read as a client's request is read (strict, valid
 * UTF-8, depth 64); text the strict reader refuses is read again as vmd
 * reads a stored config (json_tokener_parse: lenient, so NaN and the like
 * get through).  The value is validated twice, as the daemon can reach it:
 * against vm-config.json directly
 * and as the "config" argument of vm-define through protocol.json's
 * "$ref": "vm-config.json".  Both verdicts must agree, a refusal must come
 * with a message and a pass without one, and the message, which goes to the
 * client, must be valid UTF-8 when the input was.  The embedded schemas themselves pass
 * rpc_schema_check_supported() once, at start, as at daemon start.
 *
 * With FUZZ_CONFIG_VERDICT set in the environment, each input's verdict is
 * printed ("valid" or "invalid: message"), for comparing with another
 * validator (README.md). */
#include "config.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "daemon/schema_doc.h"
#include "rpc/schema.h"
#include "schemas/embedded.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct json_object *protocol, *vm_schema, *define_args;
static bool print_verdict;

#define FAIL(...) do { \
	fprintf(stderr, "fuzz_config: " __VA_ARGS__); \
	fputc('\n', stderr); \
	abort(); \
} while (0)

static struct json_object *load(const char *text, const char *name)
{
	char err[512];
	struct json_object *o = schema_doc_load(text, name, err, sizeof err);

	if (!o)
		FAIL("%s", err);
	return o;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct json_object *commands, *define;

	(void)argc;
	(void)argv;
	protocol = load(vmd_schema_protocol, "protocol.json");
	vm_schema = load(vmd_schema_vm_config, "vm-config.json");
	if (!json_object_object_get_ex(protocol, "commands", &commands) ||
	    !json_object_object_get_ex(commands, "vm-define", &define) ||
	    !json_object_object_get_ex(define, "arguments", &define_args))
		FAIL("protocol.json has no vm-define arguments");
	print_verdict = getenv("FUZZ_CONFIG_VERDICT") != NULL;
	return 0;
}

/* Strictly valid UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF), as a JSON-RPC client's parser wants it. */
static bool valid_utf8(const unsigned char *s, size_t len)
{
	const unsigned char *end = s + len;

	while (s < end) {
		unsigned c = *s, n, cp, min;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1, cp = c & 0x1F, min = 0x80;
		else if (c >= 0xE0 && c <= 0xEF)
			n = 2, cp = c & 0x0F, min = 0x800;
		else if (c >= 0xF0 && c <= 0xF4)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if ((size_t)(end - s) <= n)
			return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((s[i] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		s += n + 1;
	}
	return true;
}

/* One validation: its verdict, with the message checked. */
static bool validate(struct json_object *root, struct json_object *schema,
		     struct json_object *value, bool strict, char *msg, size_t msglen)
{
	struct rpc_schema_ctx ctx = {
		.root = root, .resolve = schema_doc_vm_config_ref, .resolve_ctx = vm_schema,
	};
	bool ok = rpc_schema_validate(&ctx, schema, value, msg, msglen) == 0;

	if (memchr(msg, '\0', msglen) == NULL)
		FAIL("message not terminated");
	if (!ok && !msg[0])
		FAIL("refused without a message");
	if (ok && msg[0])
		FAIL("passed with a message: %s", msg);
	/* Messages quote the input, which the lenient parser (or json-c's
	 * lax UTF-8 check) may have let in invalid; valid input must give a
	 * valid message. */
	if (strict && !valid_utf8((const unsigned char *)msg, strlen(msg)))
		FAIL("message is not valid UTF-8: %s", msg);
	if (!strncmp(msg, "schema error", 12))
		FAIL("the embedded schema is at fault: %s", msg);
	return ok;
}

/* As a request member arrives (rpc/stream.c's tokener settings). */
static struct json_object *parse_strict(const uint8_t *data, size_t size,
					bool *ok)
{
	struct json_tokener *tok = json_tokener_new_ex(64);
	struct json_object *v;

	if (!tok)
		FAIL("out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	*ok = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	return v;
}

/* As daemon/vm.c reads a stored config: a C string, lenient parser. */
static struct json_object *parse_lenient(const uint8_t *data, size_t size,
					 bool *ok)
{
	char *text = malloc(size + 1);
	struct json_object *v;

	if (!text)
		FAIL("out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	v = json_tokener_parse(text);
	*ok = v != NULL;
	free(text);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *config, *args;
	char direct[512], wrapped[512];
	bool parsed, strict, ok;

	if (size > 1 << 20)
		return 0;
	config = parse_strict(data, size, &parsed);
	/* json-c's UTF-8 check is laxer than RFC 3629 (fuzz_protocol.c). */
	strict = parsed && valid_utf8(data, size);
	if (!parsed) {
		json_object_put(config);
		config = parse_lenient(data, size, &parsed);
	}
	if (!parsed)
		return 0;
	ok = validate(vm_schema, vm_schema, config, strict, direct, sizeof direct);
	args = json_object_new_object();
	if (!args || json_object_object_add(args, "config", json_object_get(config)))
		FAIL("out of memory");
	if (ok != validate(protocol, define_args, args, strict, wrapped, sizeof wrapped))
		FAIL("vm-config.json says %s but vm-define says %s",
		     ok ? "valid" : direct, ok ? wrapped : "valid");
	if (print_verdict)
		printf("%s%s\n", ok ? "valid" : "invalid: ", ok ? "" : direct);
	json_object_put(args);
	json_object_put(config);
	return 0;
}
