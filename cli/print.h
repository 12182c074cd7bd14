/* Output for people and for scripts: aligned tables with a header row,
 * "key: value" blocks, JSON (pretty for --json, one line for event streams),
 * and the small formatters (memory, times) that keep output uniform. */
#ifndef VMD_CLI_PRINT_H
#define VMD_CLI_PRINT_H

#include <stdio.h>
#include <stddef.h>
#include <json-c/json.h>

/* s made safe for a terminal, malloc'd: control characters, DEL and bytes
 * that are not UTF-8 as \xNN, invisible or bidirectional formatting
 * characters as \uNNNN.  Everything shown to people goes through it (table
 * cells are converted when added), so a label or name cannot carry an
 * escape sequence to the terminal. */
char *text_visible(const char *s);
void print_visible(FILE *f, const char *s);
/* Is s strict UTF-8, as every string on the protocol must be? */
int text_is_utf8(const char *s);

/* Rows of strings, printed with every column but the last padded to its
 * widest cell. */
struct table {
	int ncols;
	size_t nrows, cap;
	char **cells;   /* nrows * ncols, each malloc'd */
};

void table_init(struct table *t, int ncols);
/* Append one row of exactly t->ncols strings (NULL prints as "-"). */
void table_row(struct table *t, ...);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* A two-column table of "key:" and a printf-formatted value. */
void kv_add(struct table *t, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* JSON as --json wants it: pretty, slashes unescaped, then a newline.  DEL
 * and invisible characters in strings are written as \u escapes: the same
 * JSON value, nothing raw for a terminal to act on. */
void print_json(FILE *f, struct json_object *o);
/* One compact line, for streams such as `vmctl events`. */
void print_json_line(FILE *f, struct json_object *o);

/* Members of an object, with a default when missing or of another type. */
const char *jstr(struct json_object *o, const char *key, const char *dflt);
long long jint(struct json_object *o, const char *key, long long dflt);
double jnum(struct json_object *o, const char *key, double dflt);
int jbool(struct json_object *o, const char *key, int dflt);
struct json_object *jget(struct json_object *o, const char *key);

/* 256 -> "256M", 2048 -> "2G" (only whole units are shortened). */
void format_mib(char *buf, size_t len, long long mib);
/* Unix seconds as local "YYYY-MM-DD HH:MM:SS"; 0 or less -> "-". */
void format_time(char *buf, size_t len, long long t);
/* A JSON scalar or compound as short text: strings bare, others as JSON. */
const char *format_value(struct json_object *v);

#endif
