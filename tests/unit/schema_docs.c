/* See schema_docs.h. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "schemas/embedded.h"
#include "tests/unit/schema_docs.h"

struct json_object *protocol, *vmconf;

int schema_docs_setup(void **state)
{
	(void)state;
	protocol = json_tokener_parse(vmd_schema_protocol);
	vmconf = json_tokener_parse(vmd_schema_vm_config);
	return protocol && vmconf ? 0 : -1;
}

int schema_docs_teardown(void **state)
{
	(void)state;
	json_object_put(protocol);
	json_object_put(vmconf);
	return 0;
}

struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}
