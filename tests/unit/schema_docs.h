/* The two embedded schema documents, parsed once for a cmocka group, and
 * a member getter that fails the test when the member is missing; shared
 * by test_schema and test_schema_fill. */
#ifndef VMD_TESTS_SCHEMA_DOCS_H
#define VMD_TESTS_SCHEMA_DOCS_H

#include <json-c/json.h>

extern struct json_object *protocol, *vmconf;

int schema_docs_setup(void **state);
int schema_docs_teardown(void **state);
struct json_object *get(struct json_object *o, const char *key);

#endif
