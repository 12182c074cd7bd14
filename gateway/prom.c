/* query-metrics → Prometheus text format (see prom.h).  Every family is
 * one row of a table naming where its value lives in the return (a VM,
 * one of its disks, NICs or ports, or vmd's counters); the exposition
 * wants a family's samples together, so each row walks all VMs. */
#include "config.h"
#include <inttypes.h>
#include <string.h>
#include "gateway/prom.h"

enum where { AT_VM, AT_DISK, AT_NIC, AT_PORT, AT_VMD };

struct family {
	const char *name, *type, *help;
	enum where where;
	const char *key;      /* the member holding the value */
};

static const struct family families[] = {
	{"vmd_vm_cpu_seconds_total", "counter",
	 "CPU time used by the VM's QEMU process (all threads).", AT_VM,
	 "cpu_seconds"},
	{"vmd_vm_resident_memory_bytes", "gauge",
	 "Resident memory of the VM's QEMU process.", AT_VM, "rss_bytes"},
	{"vmd_vm_disk_read_bytes_total", "counter",
	 "Bytes the guest read from the disk.", AT_DISK, "read_bytes"},
	{"vmd_vm_disk_written_bytes_total", "counter",
	 "Bytes the guest wrote to the disk.", AT_DISK, "write_bytes"},
	{"vmd_vm_disk_reads_total", "counter",
	 "Read operations of the guest on the disk.", AT_DISK, "read_ops"},
	{"vmd_vm_disk_writes_total", "counter",
	 "Write operations of the guest on the disk.", AT_DISK, "write_ops"},
	{"vmd_vm_network_receive_bytes_total", "counter",
	 "Bytes the guest received on the bridged NIC.", AT_NIC, "rx_bytes"},
	{"vmd_vm_network_transmit_bytes_total", "counter",
	 "Bytes the guest sent on the bridged NIC.", AT_NIC, "tx_bytes"},
	{"vmd_vm_network_receive_packets_total", "counter",
	 "Packets the guest received on the bridged NIC.", AT_NIC, "rx_packets"},
	{"vmd_vm_network_transmit_packets_total", "counter",
	 "Packets the guest sent on the bridged NIC.", AT_NIC, "tx_packets"},
	{"vmd_vm_console_bytes_total", "counter",
	 "Bytes the guest wrote to the serial port since its log began.",
	 AT_PORT, "bytes"},
	{"vmd_vm_console_viewers", "gauge",
	 "Console viewers attached to the serial port now.", AT_PORT, "viewers"},
	{"vmd_clients", "gauge",
	 "Client connections open on vmd's sockets.", AT_VMD, "clients"},
	{"vmd_connections_total", "counter",
	 "Client connections vmd accepted.", AT_VMD, "connections"},
	{"vmd_connections_refused_total", "counter",
	 "Client connections vmd refused (--max-clients and its shares).",
	 AT_VMD, "refused"},
};

void prom_escape(struct evbuffer *out, const char *s)
{
	for (; *s; s++) {
		size_t n = strcspn(s, "\\\"\n");
		evbuffer_add(out, s, n);
		s += n;
		if (!*s)
			break;
		evbuffer_add_printf(out, "\\%c", *s == '\n' ? 'n' : *s);
	}
}

static void header(struct evbuffer *out, const char *name, const char *type,
		   const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			    name, type);
}

static void label(struct evbuffer *out, const char *sep, const char *name,
		  const char *value)
{
	evbuffer_add_printf(out, "%s%s=\"", sep, name);
	prom_escape(out, value);
	evbuffer_add(out, "\"", 1);
}

/* One sample: name{vm="..."[,extra labels from item]} value. */
static void sample(struct evbuffer *out, const char *name, const char *vm,
		   enum where where, struct json_object *item,
		   struct json_object *v)
{
	static const char *const index_label[] = {
		[AT_DISK] = "disk", [AT_NIC] = "nic", [AT_PORT] = "port" };
	struct json_object *x;

	evbuffer_add_printf(out, "%s", name);
	if (vm) {
		label(out, "{", "vm", vm);
		if (where == AT_DISK || where == AT_NIC || where == AT_PORT) {
			const char *key = where == AT_PORT ? "port" : "index";
			json_object_object_get_ex(item, key, &x);
			label(out, ",", index_label[where], json_object_get_string(x));
		}
		if (where == AT_NIC && json_object_object_get_ex(item, "ifname", &x))
			label(out, ",", "ifname", json_object_get_string(x));
		evbuffer_add(out, "}", 1);
	}
	if (json_object_is_type(v, json_type_double))
		evbuffer_add_printf(out, " %.6f\n", json_object_get_double(v));
	else
		evbuffer_add_printf(out, " %" PRId64 "\n", json_object_get_int64(v));
}

static void vm_samples(struct evbuffer *out, const struct family *f,
		       struct json_object *vm)
{
	static const char *const list[] = {
		[AT_DISK] = "disks", [AT_NIC] = "nics", [AT_PORT] = "ports" };
	struct json_object *name, *items, *v;

	if (!json_object_object_get_ex(vm, "name", &name))
		return;
	const char *n = json_object_get_string(name);
	if (f->where == AT_VM) {
		if (json_object_object_get_ex(vm, f->key, &v))
			sample(out, f->name, n, AT_VM, vm, v);
		return;
	}
	if (!json_object_object_get_ex(vm, list[f->where], &items) ||
	    !json_object_is_type(items, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		struct json_object *it = json_object_array_get_idx(items, i);
		if (json_object_object_get_ex(it, f->key, &v))
			sample(out, f->name, n, f->where, it, v);
	}
}

void prom_gauge(struct evbuffer *out, const char *name, const char *help,
		long long value)
{
	header(out, name, "gauge", help);
	evbuffer_add_printf(out, "%s %lld\n", name, value);
}

/* vmd_vm_state{vm,state} 1: the state each VM is in. */
static void states(struct evbuffer *out, struct json_object *vms)
{
	struct json_object *name, *state;

	header(out, "vmd_vm_state", "gauge",
	       "1 for the state the VM is in (label state).");
	for (size_t i = 0; i < json_object_array_length(vms); i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i);
		if (!json_object_object_get_ex(vm, "name", &name) ||
		    !json_object_object_get_ex(vm, "state", &state))
			continue;
		evbuffer_add(out, "vmd_vm_state", 12);
		label(out, "{", "vm", json_object_get_string(name));
		label(out, ",", "state", json_object_get_string(state));
		evbuffer_add(out, "} 1\n", 4);
	}
}

/* A family of vmd's labelled by the keys of one object (requests per
 * command, errors per class). */
static void per_key(struct evbuffer *out, struct json_object *vmd,
		    const char *member, const char *name, const char *lab,
		    const char *help)
{
	struct json_object *o;

	if (!json_object_object_get_ex(vmd, member, &o) ||
	    !json_object_is_type(o, json_type_object))
		return;
	header(out, name, "counter", help);
	json_object_object_foreach(o, key, v) {
		evbuffer_add_printf(out, "%s", name);
		label(out, "{", lab, key);
		evbuffer_add_printf(out, "} %" PRId64 "\n", json_object_get_int64(v));
	}
}

int prom_write(struct evbuffer *out, struct json_object *m)
{
	struct json_object *vms, *vmd = NULL, *v;

	if (!json_object_object_get_ex(m, "vms", &vms) ||
	    !json_object_is_type(vms, json_type_array))
		return -1;
	json_object_object_get_ex(m, "vmd", &vmd);
	states(out, vms);
	for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
		const struct family *fam = &families[f];
		if (fam->where == AT_VMD) {
			if (vmd && json_object_object_get_ex(vmd, fam->key, &v)) {
				header(out, fam->name, fam->type, fam->help);
				sample(out, fam->name, NULL, AT_VMD, vmd, v);
			}
			continue;
		}
		header(out, fam->name, fam->type, fam->help);
		for (size_t i = 0; i < json_object_array_length(vms); i++)
			vm_samples(out, fam, json_object_array_get_idx(vms, i));
	}
	if (vmd) {
		per_key(out, vmd, "requests", "vmd_requests_total", "command",
			"Requests vmd received, per command.");
		per_key(out, vmd, "errors", "vmd_errors_total", "class",
			"Error replies vmd sent, per error class.");
	}
	return 0;
}
