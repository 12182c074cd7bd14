/* vmctl usage: one month of metered usage (usage-report), all its pages,
 * as a table for people or CSV (exact integers) for billing scripts.
 * Devices are summed per kind here; --json gives each device. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/print.h"

/* The columns: usage members, then sums of device counters by kind. */
static const char *const columns[] = {
	"running_s", "vcpu_s", "mib_s", "cpu_us",
	"disk.rd_bytes", "disk.wr_bytes", "disk.rd_ops", "disk.wr_ops",
	"nic.rx_bytes", "nic.tx_bytes", "nic.rx_packets", "nic.tx_packets",
	"serial.bytes",
};
#define NCOLS (sizeof columns / sizeof columns[0])

static void sums(struct json_object *row, long long out[NCOLS])
{
	struct json_object *devs = jget(row, "devices");

	for (size_t i = 0; i < NCOLS; i++) {
		const char *dot = strchr(columns[i], '.');
		out[i] = 0;
		if (!dot) {
			out[i] = jint(jget(row, "usage"), columns[i], 0);
			continue;
		}
		size_t kind = (size_t)(dot - columns[i]);
		if (!json_object_is_type(devs, json_type_object))
			continue;
		json_object_object_foreach(devs, dev, counters)
			if (!strncmp(dev, columns[i], kind) &&
			    dev[kind] >= '0' && dev[kind] <= '9')
				out[i] += jint(counters, dot + 1, 0);
	}
}

/* "2026-12" and the month after it. */
static void month_period(struct ctl *ctl, const char *month, char *to, size_t cap)
{
	int y, m, n = -1;

	if (sscanf(month, "%4d-%2d%n", &y, &m, &n) != 2 || n != 7 || month[n] ||
	    y < 1970 || m < 1 || m > 12)
		ctl_usage(ctl, "--month %s: expected YYYY-MM", month);
	snprintf(to, cap, "%04d-%02d", m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1);
}

static void print_csv(struct json_object *rows)
{
	printf("vm,uuid,start");
	for (size_t i = 0; i < NCOLS; i++)
		printf(",%s", columns[i]);
	printf("\n");
	for (size_t r = 0; r < json_object_array_length(rows); r++) {
		struct json_object *row = json_object_array_get_idx(rows, r);
		long long v[NCOLS];
		const char *name = jstr(row, "vm", "");
		sums(row, v);
		/* names are [A-Za-z0-9._-]: nothing to quote */
		printf("%s,%s,%s", name, jstr(row, "uuid", ""), jstr(row, "start", ""));
		for (size_t i = 0; i < NCOLS; i++)
			printf(",%lld", v[i]);
		printf("\n");
	}
}

static void print_table(struct json_object *rows)
{
	struct table t;

	table_init(&t, 9);
	table_row(&t, "VM", "RUNNING", "VCPU-H", "GIB-H", "CPU", "DISK-RD",
		  "DISK-WR", "NET-RX", "NET-TX");
	for (size_t r = 0; r < json_object_array_length(rows); r++) {
		struct json_object *row = json_object_array_get_idx(rows, r);
		long long v[NCOLS];
		char c[8][32];
		sums(row, v);
		snprintf(c[0], 32, "%.2fh", v[0] / 3600.0);
		snprintf(c[1], 32, "%.2f", v[1] / 3600.0);
		snprintf(c[2], 32, "%.2f", v[2] / 3600.0 / 1024.0);
		snprintf(c[3], 32, "%.1fs", v[3] / 1e6);
		ctl_size(c[4], 32, v[4]);
		ctl_size(c[5], 32, v[5]);
		ctl_size(c[6], 32, v[8]);
		ctl_size(c[7], 32, v[9]);
		table_row(&t, jstr(row, "vm", jstr(row, "uuid", "?")), c[0], c[1],
			  c[2], c[3], c[4], c[5], c[6], c[7]);
	}
	table_print(&t, stdout);
	table_free(&t);
}

void ctl_month_options(struct ctl *ctl, int argc, char **argv,
		       char month[16], int *csv)
{
	static const struct option longopts[] = {
		{ "month", required_argument, NULL, 'm' },
		{ "csv", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;
	time_t now = time(NULL);

	*csv = 0;
	strftime(month, 16, "%Y-%m", gmtime(&now));
	while ((ch = ctl_getopt(ctl, argc, argv, "", longopts)) != -1) {
		if (ch == 'm')
			snprintf(month, 16, "%.15s", optarg);
		else
			*csv = 1;
	}
}

int ctl_print_as(struct ctl *ctl, struct json_object *o, int csv,
		 void (*as_csv)(struct json_object *),
		 void (*as_table)(struct json_object *))
{
	if (ctl->json)
		print_json(stdout, o);
	else if (csv)
		as_csv(o);
	else
		as_table(o);
	json_object_put(o);
	ctl_flush(ctl);
	return 0;
}

int cmd_usage(struct ctl *ctl, int argc, char **argv)
{
	char month[16], to[16];
	int csv;
	struct json_object *rows = json_object_new_array(), *ret;
	const char *next = NULL;

	ctl_month_options(ctl, argc, argv, month, &csv);
	ctl_operands(ctl, argc, 0, 1);
	month_period(ctl, month, to, sizeof to);
	do {   /* every page */
		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "from", json_object_new_string(month));
		json_object_object_add(args, "to", json_object_new_string(to));
		if (optind < argc) {
			struct json_object *vms = json_object_new_array();
			json_object_array_add(vms, json_object_new_string(argv[optind]));
			json_object_object_add(args, "vms", vms);
		}
		if (next)
			json_object_object_add(args, "after", json_object_new_string(next));
		ret = ctl_call(ctl, optind < argc ? argv[optind] : NULL, args);
		struct json_object *page = jget(ret, "rows");
		for (size_t i = 0; page && i < json_object_array_length(page); i++)
			json_object_array_add(rows, json_object_get(
				json_object_array_get_idx(page, i)));
		free((char *)next);
		next = jget(ret, "next") ? strdup(jstr(ret, "next", "")) : NULL;
		json_object_put(ret);
	} while (next);
	return ctl_print_as(ctl, rows, csv, print_csv, print_table);
}
