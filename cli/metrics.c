/* vmctl metrics [VM]: query-metrics as a table, one row per VM with its
 * disks, NICs and console ports summed (--json has them one by one), and
 * a line of vmd's own counters. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/print.h"

/* The sum of member key over the objects of array list in vm, as text;
 * "-" when the list is empty (nothing counts it). */
static const char *sum(char *buf, size_t len, struct json_object *vm,
		       const char *list, const char *key)
{
	struct json_object *a = jget(vm, list);
	size_t n = json_object_is_type(a, json_type_array) ?
		   json_object_array_length(a) : 0;
	long long total = 0;

	for (size_t i = 0; i < n; i++)
		total += jint(json_object_array_get_idx(a, i), key, 0);
	snprintf(buf, len, n ? "%lld" : "-", total);
	return buf;
}

static void vm_row(struct table *t, struct json_object *vm)
{
	char cpu[32] = "-", rss[32] = "-", rd[32], wr[32], rx[32], tx[32],
	     con[32], view[32];

	if (jget(vm, "cpu_seconds"))
		snprintf(cpu, sizeof cpu, "%.2f", jnum(vm, "cpu_seconds", 0));
	if (jget(vm, "rss_bytes"))
		format_mib(rss, sizeof rss, jint(vm, "rss_bytes", 0) >> 20);
	table_row(t, jstr(vm, "name", "?"), jstr(vm, "state", "?"), cpu, rss,
		  sum(rd, sizeof rd, vm, "disks", "read_bytes"),
		  sum(wr, sizeof wr, vm, "disks", "write_bytes"),
		  sum(rx, sizeof rx, vm, "nics", "rx_bytes"),
		  sum(tx, sizeof tx, vm, "nics", "tx_bytes"),
		  sum(con, sizeof con, vm, "ports", "bytes"),
		  sum(view, sizeof view, vm, "ports", "viewers"));
}

/* "vmd: 2 clients, 40 requests, 3 errors" (absent for a VM-scoped token). */
static void vmd_line(struct json_object *vmd)
{
	long long req = 0, err = 0;

	if (!vmd)
		return;
	json_object_object_foreach(jget(vmd, "requests"), k1, v1) {
		(void)k1;
		req += json_object_get_int64(v1);
	}
	json_object_object_foreach(jget(vmd, "errors"), k2, v2) {
		(void)k2;
		err += json_object_get_int64(v2);
	}
	printf("vmd: %lld clients, %lld requests, %lld errors\n",
	       jint(vmd, "clients", 0), req, err);
}

int cmd_metrics(struct ctl *ctl, int argc, char **argv)
{
	static const struct option no_options[] = { { NULL, 0, NULL, 0 } };
	struct json_object *args = json_object_new_object(), *ret, *vms;
	const char *vm = NULL;
	struct table t;

	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 0, 1);
	if (optind < argc) {
		vm = argv[optind];
		json_object_object_add(args, "vm", json_object_new_string(vm));
	}
	ret = ctl_call(ctl, vm, args);
	if (ctl->json)
		return ctl_finish(ctl, ret, "%s", "");
	vms = jget(ret, "vms");
	table_init(&t, 10);
	table_row(&t, "NAME", "STATE", "CPU_S", "RSS", "DISK_RD", "DISK_WR",
		  "NET_RX", "NET_TX", "CONSOLE", "VIEWERS");
	for (size_t i = 0; json_object_is_type(vms, json_type_array) &&
			   i < json_object_array_length(vms); i++)
		vm_row(&t, json_object_array_get_idx(vms, i));
	table_print(&t, stdout);
	table_free(&t);
	vmd_line(jget(ret, "vmd"));
	json_object_put(ret);
	return 0;
}
