/* gateway/prom.c: label escaping per the exposition format, and the
 * families a query-metrics return turns into. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "gateway/prom.h"

/* The buffer's text (malloc'd, NUL-terminated); frees out. */
static char *text(struct evbuffer *out)
{
	size_t n = evbuffer_get_length(out);
	char *s = malloc(n + 1);

	evbuffer_remove(out, s, n);
	s[n] = 0;
	evbuffer_free(out);
	return s;
}

static char *escaped(const char *in)
{
	struct evbuffer *out = evbuffer_new();

	prom_escape(out, in);
	return text(out);
}

static void test_escape(void **state)
{
	static const char *const v[][2] = {
		{"", ""}, {"web1", "web1"}, {"a\\b", "a\\\\b"}, {"\"q\"", "\\\"q\\\""},
		{"l1\nl2", "l1\\nl2"}, {"end\\", "end\\\\"}, {"\n\n", "\\n\\n"},
		/* nothing else is escaped: tabs, UTF-8, braces stay */
		{"t\tx{}=,é", "t\tx{}=,é"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char *s = escaped(v[i][0]);
		assert_string_equal(s, v[i][1]);
		free(s);
	}
}

static char *render(const char *json, int *rc)
{
	struct json_object *m = json_tokener_parse(json);
	struct evbuffer *out = evbuffer_new();

	*rc = prom_write(out, m);
	json_object_put(m);
	return text(out);
}

static const char metrics[] =
	"{\"time\": 1.5, \"vms\": [{\"name\": \"web1\", \"uuid\": \"u\","
	" \"state\": \"running\", \"pid\": 42, \"cpu_seconds\": 12.25,"
	" \"cpu_source\": \"proc\", \"rss_bytes\": 1048576,"
	" \"disks\": [{\"index\": 0, \"read_bytes\": 512, \"write_bytes\": 0,"
	"  \"read_ops\": 1, \"write_ops\": 0}],"
	" \"nics\": [{\"index\": 1, \"ifname\": \"vmd3n1\", \"rx_bytes\": 10,"
	"  \"tx_bytes\": 20, \"rx_packets\": 1, \"tx_packets\": 2}],"
	" \"ports\": [{\"port\": 0, \"bytes\": 99, \"viewers\": 2}]},"
	" {\"name\": \"off\", \"uuid\": \"v\", \"state\": \"stopped\", \"pid\": 0,"
	" \"disks\": [], \"nics\": [], \"ports\": []}],"
	" \"vmd\": {\"requests\": {\"vm-list\": 3, \"a\\\"b\": 1},"
	" \"errors\": {\"VmNotFound\": 2}, \"clients\": 1, \"connections\": 5,"
	" \"refused\": 0}}";

static void test_families(void **state)
{
	static const char *const want[] = {
		"# TYPE vmd_vm_state gauge\n",
		"vmd_vm_state{vm=\"web1\",state=\"running\"} 1\n",
		"vmd_vm_state{vm=\"off\",state=\"stopped\"} 1\n",
		"# HELP vmd_vm_cpu_seconds_total ",
		"# TYPE vmd_vm_cpu_seconds_total counter\n",
		"vmd_vm_cpu_seconds_total{vm=\"web1\"} 12.250000\n",
		"vmd_vm_resident_memory_bytes{vm=\"web1\"} 1048576\n",
		"vmd_vm_disk_read_bytes_total{vm=\"web1\",disk=\"0\"} 512\n",
		"vmd_vm_disk_reads_total{vm=\"web1\",disk=\"0\"} 1\n",
		"vmd_vm_network_receive_bytes_total{vm=\"web1\",nic=\"1\",ifname=\"vmd3n1\"} 10\n",
		"vmd_vm_network_transmit_packets_total{vm=\"web1\",nic=\"1\",ifname=\"vmd3n1\"} 2\n",
		"vmd_vm_console_bytes_total{vm=\"web1\",port=\"0\"} 99\n",
		"vmd_vm_console_viewers{vm=\"web1\",port=\"0\"} 2\n",
		"vmd_clients 1\n", "vmd_connections_total 5\n",
		"vmd_connections_refused_total 0\n",
		"vmd_requests_total{command=\"vm-list\"} 3\n",
		"vmd_requests_total{command=\"a\\\"b\"} 1\n",
		"vmd_errors_total{class=\"VmNotFound\"} 2\n",
	};
	int rc;
	char *s = render(metrics, &rc);

	(void)state;
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(s, want[i]))
			fail_msg("missing %s in:\n%s", want[i], s);
	/* a stopped VM has no process samples */
	assert_null(strstr(s, "cpu_seconds_total{vm=\"off\"}"));
	/* each family's samples follow its TYPE line, before the next one */
	char *a = strstr(s, "# TYPE vmd_vm_disk_read_bytes_total");
	char *b = strstr(s, "vmd_vm_disk_read_bytes_total{");
	char *c = strstr(s, "# TYPE vmd_vm_disk_written_bytes_total");
	assert_true(a && b && c && a < b && b < c);
	free(s);
}

static void test_vm_token_view_and_bad_input(void **state)
{
	int rc;
	char *s = render("{\"time\": 1, \"vms\": []}", &rc);

	(void)state;
	assert_int_equal(rc, 0);
	assert_null(strstr(s, "vmd_clients"));   /* no "vmd": none of its */
	assert_null(strstr(s, "vmd_requests_total"));
	free(s);
	s = render("{\"vms\": 3}", &rc);
	assert_int_equal(rc, -1);
	free(s);
	s = render("[]", &rc);
	assert_int_equal(rc, -1);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_vm_token_view_and_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
