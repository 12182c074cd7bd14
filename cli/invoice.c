/* vmctl plan-define, plan-list, plan-delete and invoice: billing plans and
 * one customer's month, as a table or as CSV (exact integers: amounts in
 * the currency's minor unit). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/print.h"

static const struct option none[] = { { NULL, 0, NULL, 0 } };

int cmd_plan_define(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *plan;
	enum json_tokener_error e;

	while (ctl_getopt(ctl, argc, argv, "", none) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	plan = json_tokener_parse_verbose(argv[optind], &e);
	if (!json_object_is_type(plan, json_type_object))
		ctl_usage(ctl, "PLAN: a JSON object: %s", plan ? "not an object"
			  : json_tokener_error_desc(e));
	const char *name = jstr(plan, "name", "?");
	char *copy = strdup(name);
	int rc = ctl_finish(ctl, ctl_call(ctl, copy, plan), "defined plan %s\n", copy);
	free(copy);
	return rc;
}

int cmd_plan_delete(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *args = json_object_new_object();

	while (ctl_getopt(ctl, argc, argv, "", none) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	json_object_object_add(args, "name", json_object_new_string(argv[optind]));
	return ctl_finish(ctl, ctl_call(ctl, argv[optind], args),
			  "deleted plan %s\n", argv[optind]);
}

static const char *price(struct json_object *plan, const char *group,
			 const char *key, char *buf, size_t cap)
{
	snprintf(buf, cap, "%lld", jint(jget(plan, group), key, 0));
	return buf;
}

int cmd_plan_list(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *ret = ctl_call_bare(ctl, argc, argv), *plans;
	struct table t;
	char b[4][24];

	if (!ret)
		return 0;
	plans = jget(ret, "plans");
	table_init(&t, 6);
	table_row(&t, "PLAN", "CURRENCY", "VCPU-H", "GIB-H", "GIB-MONTH", "GIB-OUT");
	for (size_t i = 0; i < json_object_array_length(plans); i++) {
		struct json_object *p = json_object_array_get_idx(plans, i);
		table_row(&t, jstr(p, "name", "?"), jstr(p, "currency", "?"),
			  price(p, "prices", "vcpu_hour", b[0], 24),
			  price(p, "prices", "memory_gib_hour", b[1], 24),
			  price(p, "prices", "volume_gib_month", b[2], 24),
			  price(p, "prices", "transfer_gib", b[3], 24));
	}
	table_print(&t, stdout);
	table_free(&t);
	json_object_put(ret);
	ctl_flush(ctl);
	return 0;
}

static const char *const fields[] = {
	"vm", "uuid", "plan", "from", "to", "resource", "quantity", "included",
	"unit", "unit_price", "amount",
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* Names, plans, times and decimals hold no comma or quote: no quoting. */
static void print_csv(struct json_object *inv)
{
	struct json_object *lines = jget(inv, "lines");

	for (size_t i = 0; i < NFIELDS; i++)
		printf("%s,", fields[i]);
	printf("currency\n");
	for (size_t r = 0; r < json_object_array_length(lines); r++) {
		struct json_object *l = json_object_array_get_idx(lines, r);
		for (size_t i = 0; i < NFIELDS; i++)
			printf("%s,", json_object_get_string(jget(l, fields[i])));
		printf("%s\n", jstr(inv, "currency", ""));
	}
	printf("total,,,,,,,,,,%lld,%s\n", jint(inv, "total", 0),
	       jstr(inv, "currency", ""));
}

static void print_table(struct json_object *inv)
{
	struct json_object *lines = jget(inv, "lines");
	struct table t;
	char total[32];

	table_init(&t, 8);
	table_row(&t, "VM", "PLAN", "FROM", "RESOURCE", "QUANTITY", "UNIT",
		  "PRICE", "AMOUNT");
	for (size_t r = 0; r < json_object_array_length(lines); r++) {
		struct json_object *l = json_object_array_get_idx(lines, r);
		table_row(&t, jstr(l, "vm", "?"), jstr(l, "plan", "?"),
			  jstr(l, "from", "?"), jstr(l, "resource", "?"),
			  jstr(l, "quantity", "?"), jstr(l, "unit", "?"),
			  json_object_get_string(jget(l, "unit_price")),
			  json_object_get_string(jget(l, "amount")));
	}
	snprintf(total, sizeof total, "%lld %s", jint(inv, "total", 0),
		 jstr(inv, "currency", ""));
	table_row(&t, "TOTAL", "", "", "", "", "", "", total);
	table_print(&t, stdout);
	table_free(&t);
}

int cmd_invoice(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *args = json_object_new_object(), *inv;
	char month[16];
	int csv;

	ctl_month_options(ctl, argc, argv, month, &csv);
	ctl_operands(ctl, argc, 1, 1);
	json_object_object_add(args, "customer", json_object_new_string(argv[optind]));
	json_object_object_add(args, "month", json_object_new_string(month));
	inv = ctl_call(ctl, argv[optind], args);
	return ctl_print_as(ctl, inv, csv, print_csv, print_table);
}
