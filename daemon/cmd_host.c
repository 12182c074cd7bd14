/* Handlers about the daemon and host rather than one VM: capability
 * negotiation, query-host (with the KVM probe's verdict and why),
 * query-commands, query-events and query-schema (both from schemas/). */
#include "config.h"
#include <string.h>
#include "daemon/dispatch.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "emu/arch.h"

void cmd_qmp_capabilities(struct call *c)
{
	call_return(c, NULL);
}

static struct json_object *accel_info(void)
{
	const struct emu_probe *p = &vmd.probe;
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "verdict", json_object_new_string(p->verdict));
	json_object_object_add(a, "kvm_usable", json_object_new_boolean(p->kvm_usable));
	json_object_object_add(a, "reason", json_object_new_string(p->reason));
	json_object_object_add(a, "kvm_boot_ms", json_object_new_double(p->kvm_boot_ms));
	json_object_object_add(a, "tcg_boot_ms", json_object_new_double(p->tcg_boot_ms));
	json_object_object_add(a, "dev_kvm", json_object_new_boolean(p->dev_kvm));
	json_object_object_add(a, "cpu_virt_flag", json_object_new_boolean(p->cpu_virt_flag));
	json_object_object_add(a, "kvm_module", json_object_new_string(p->kvm_module));
	return a;
}

/* Each emulator found, with what a guest of its arch gets here. */
static struct json_object *emulators_info(void)
{
	struct json_object *list = json_object_new_array();
	size_t n = vmd.emulators ? json_object_array_length(vmd.emulators) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(vmd.emulators, i);
		struct json_object *o = json_object_new_object(), *v;
		const struct emu_arch *a = NULL;

		json_object_object_foreach(e, key, val)
			json_object_object_add(o, key, json_object_get(val));
		if (json_object_object_get_ex(e, "arch", &v))
			a = emu_arch(json_object_get_string(v));
		if (!a) {
			json_object_put(o);
			continue;
		}
		json_object_object_add(o, "accel", json_object_new_string(
			emu_arch_native(a) && vmd.probe.kvm_usable ? "kvm" : "tcg"));
		json_object_object_add(o, "console", json_object_new_string(a->console));
		json_object_object_add(o, "powerdown", a->powerdown ?
			json_object_new_string(a->powerdown) : NULL);
		json_object_array_add(list, o);
	}
	return list;
}

void cmd_query_host(struct call *c)
{
	struct json_object *r = json_object_new_object();
	struct json_object *q = json_object_new_object();
	struct json_object *v = json_object_new_object();
	size_t running, defined = vm_count(&running);

	json_object_object_add(r, "version", json_object_new_string(VMD_VERSION));
	json_object_object_add(q, "binary", json_object_new_string(vmd.qemu));
	json_object_object_add(q, "version", json_object_new_string(vmd.probe.qemu_version));
	json_object_object_add(r, "qemu", q);
	json_object_object_add(r, "accel", accel_info());
	json_object_object_add(r, "emulators", emulators_info());
	json_object_object_add(v, "defined", json_object_new_int64((int64_t)defined));
	json_object_object_add(v, "running", json_object_new_int64((int64_t)running));
	json_object_object_add(r, "vms", v);
	json_object_object_add(r, "state_dir", json_object_new_string(vmd.state_dir));
	json_object_object_add(r, "run_dir", json_object_new_string(vmd.run_dir));
	json_object_object_add(r, "socket", json_object_new_string(vmd.sock_path));
	call_return(c, r);
}

/* [{"name": ...}] for each member of a schema section, as QEMU's
 * query-commands does. */
static struct json_object *names_of(const char *section)
{
	struct json_object *list = json_object_new_array(), *sec;

	if (json_object_object_get_ex(vmd.schema, section, &sec)) {
		json_object_object_foreach(sec, name, spec) {
			(void)spec;
			struct json_object *e = json_object_new_object();
			json_object_object_add(e, "name", json_object_new_string(name));
			json_object_array_add(list, e);
		}
	}
	return list;
}

void cmd_query_commands(struct call *c)
{
	call_return(c, names_of("commands"));
}

void cmd_query_events(struct call *c)
{
	call_return(c, names_of("events"));
}

void cmd_query_schema(struct call *c)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "protocol", json_object_get(vmd.schema));
	json_object_object_add(r, "vm-config", json_object_get(vmd.vm_schema));
	call_return(c, r);
}
