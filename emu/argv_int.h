/* Inside emu_build_argv: the state of one build and the helpers that read
 * the configuration and append options, shared by argv.c and
 * argv_disk.c.  Every helper does nothing once the build has failed, and
 * the first failure's message is the one kept. */
#ifndef VMD_EMU_ARGV_INT_H
#define VMD_EMU_ARGV_INT_H

#include <stdbool.h>
#include <json-c/json.h>
#include "emu/argv.h"

struct build {
	struct emu_argv *out;
	char *err;
	size_t errlen;
	int failed;       /* set once; the first error message is kept */
};

/* Escaped copies of values, freed at the end of the build. */
struct pool {
	char *s[64];
	size_t n;
};

void argv_fail(struct build *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void argv_add(struct build *b, const char *s);
void argv_addf(struct build *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *argv_esc(struct build *b, struct pool *p, const char *s);
/* Members: required (a missing one is a bug: defaults are filled) or
 * optional (NULL when left out). */
const char *argv_get_str(struct build *b, struct json_object *o,
			 const char *where, const char *key);
const char *argv_opt_str(struct build *b, struct json_object *o,
			 const char *where, const char *key);
bool argv_get_bool(struct build *b, struct json_object *o, const char *where,
		   const char *key);
struct json_object *argv_get_array(struct build *b, struct json_object *o,
				   const char *key, bool required);
struct json_object *argv_get_item(struct build *b, struct json_object *arr,
				  size_t i, const char *what);
const char *argv_pick(struct build *b, const char *what, const char *s,
		      const char *const *table);

/* -drive for each disk (argv_disk.c). */
void argv_add_disks(struct build *b, struct pool *p, struct json_object *c,
		    const struct emu_launch *l);

#endif
