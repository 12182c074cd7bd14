/* A vmd VM config as libvirt domain XML (what `virsh define` takes).
 * What libvirt has no element for but vmd keeps (accel, autostart, the
 * restart limits, labels) goes in vmd's own <metadata> element, which
 * lvx_import reads back; what neither can say is listed in lost. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>
#include "bridge/lvx.h"

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static long long num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static bool flag(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static struct json_object *list(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	       json_object_is_type(v, json_type_array) ? v : NULL;
}

static void lose(struct json_object *lost, const char *member, const char *reason)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "member", json_object_new_string(member));
	json_object_object_add(e, "reason", json_object_new_string(reason));
	json_object_array_add(lost, e);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, NULL, BAD_CAST name, BAD_CAST text);
}

static void prop(xmlNodePtr n, const char *name, const char *value)
{
	xmlNewProp(n, BAD_CAST name, BAD_CAST value);
}

static void put_int(xmlNodePtr parent, const char *name, long long v,
		    const char *unit)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", v);
	xmlNodePtr n = child(parent, name, buf);
	if (unit)
		prop(n, "unit", unit);
}

static void put_os(xmlNodePtr dom, struct json_object *cfg)
{
	static const char *const letters = "acdn";
	static const char *const devs[] = {"fd", "hd", "cdrom", "network"};
	xmlNodePtr os = child(dom, "os", NULL), t = child(os, "type", "hvm");
	const char *arch = str(cfg, "arch"), *order;
	struct json_object *boot;

	prop(t, "arch", !strcmp(arch, "i386") ? "i686" : arch);
	if (str(cfg, "machine"))
		prop(t, "machine", str(cfg, "machine"));
	if (!json_object_object_get_ex(cfg, "boot", &boot))
		return;
	for (const char *k = (order = str(boot, "order")) ? order : ""; *k; k++)
		prop(child(os, "boot", NULL), "dev", devs[strchr(letters, *k) - letters]);
	if (str(boot, "kernel"))
		child(os, "kernel", str(boot, "kernel"));
	if (str(boot, "initrd"))
		child(os, "initrd", str(boot, "initrd"));
	if (str(boot, "cmdline"))
		child(os, "cmdline", str(boot, "cmdline"));
}

/* The guest's name of disk i on its bus: vda, vdb ... or hda, hdb ... */
static void put_disks(xmlNodePtr devs, struct json_object *cfg)
{
	struct json_object *disks = list(cfg, "disks");
	int nvirtio = 0, nide = 0;

	for (size_t i = 0; disks && i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i);
		const char *path = str(d, "path"), *bus = str(d, "bus");
		bool block = !strncmp(path, "/dev/", 5), ide = !strcmp(bus, "ide");
		char dev[8];
		xmlNodePtr n = child(devs, "disk", NULL), x;

		prop(n, "type", block ? "block" : "file");
		prop(n, "device", "disk");
		x = child(n, "driver", NULL);
		prop(x, "name", "qemu");
		prop(x, "type", str(d, "format"));
		prop(child(n, "source", NULL), block ? "dev" : "file", path);
		snprintf(dev, sizeof dev, "%s%c", ide ? "hd" : "vd",
			 'a' + (ide ? nide++ : nvirtio++));
		x = child(n, "target", NULL);
		prop(x, "dev", dev);
		prop(x, "bus", bus);
		if (flag(d, "readonly"))
			child(n, "readonly", NULL);
	}
}

static void put_nics(xmlNodePtr devs, struct json_object *cfg)
{
	struct json_object *nics = list(cfg, "nics");

	for (size_t i = 0; nics && i < json_object_array_length(nics); i++) {
		struct json_object *nic = json_object_array_get_idx(nics, i);
		xmlNodePtr n = child(devs, "interface", NULL);

		prop(n, "type", "user");
		if (str(nic, "mac"))
			prop(child(n, "mac", NULL), "address", str(nic, "mac"));
		prop(child(n, "model", NULL), "type", str(nic, "model"));
	}
}

/* The members a port of that type has beyond its type and what libvirt
 * can say (path, port): kept only at their defaults. */
static void port_lost(struct json_object *p, const char *where, struct json_object *lost)
{
	static const char *const tuned[][3] = {
		{"scrollback_kib", "256", "console tcp"}, {"log_kib", "4096", "console tcp"},
		{"log_count", "4", "console tcp"}, {"auth", "secret", "tcp"},
		{"baud", "115200", "host"}, {"data_bits", "8", "host"},
		{"parity", "none", "host"}, {"stop_bits", "1", "host"},
		{"flow", "none", "host"},
	};
	char member[64];

	for (size_t k = 0; k < sizeof tuned / sizeof tuned[0]; k++) {
		const char *v = str(p, tuned[k][0]);
		if (!v || !strcmp(v, tuned[k][1]))
			continue;
		snprintf(member, sizeof member, "%s.%s", where, tuned[k][0]);
		lose(lost, member, "libvirt has no such setting: its default is written");
	}
}

static void put_port(xmlNodePtr devs, const char *elem, struct json_object *p,
		     int idx, struct json_object *lost)
{
	const char *type = str(p, "type");
	xmlNodePtr n = child(devs, elem, NULL), s;
	char buf[16], where[32];

	snprintf(where, sizeof where, "%s[%d]", elem, idx);
	if (!strcmp(type, "host")) {
		prop(n, "type", "dev");
		prop(child(n, "source", NULL), "path", str(p, "path"));
	} else if (!strcmp(type, "tcp") && num(p, "port")) {
		prop(n, "type", "tcp");
		s = child(n, "source", NULL);
		prop(s, "mode", "bind");
		prop(s, "host", "127.0.0.1");
		snprintf(buf, sizeof buf, "%lld", num(p, "port"));
		prop(s, "service", buf);
		prop(child(n, "protocol", NULL), "type", "raw");
	} else {
		if (!strcmp(type, "tcp"))
			lose(lost, where, "a tcp port without a fixed port number: a pty");
		prop(n, "type", "pty");
	}
	snprintf(buf, sizeof buf, "%d", idx);
	prop(child(n, "target", NULL), "port", buf);
	port_lost(p, where, lost);
}

static void put_ports(xmlNodePtr devs, struct json_object *cfg, struct json_object *lost)
{
	struct json_object *ser = list(cfg, "serial"), *par = list(cfg, "parallel");

	for (size_t i = 0; ser && i < json_object_array_length(ser); i++)
		put_port(devs, "serial", json_object_array_get_idx(ser, i), (int)i, lost);
	for (size_t i = 0; par && i < json_object_array_length(par); i++)
		put_port(devs, "parallel", json_object_array_get_idx(par, i), (int)i, lost);
}

static void put_lifecycle(xmlNodePtr dom, const char *policy)
{
	child(dom, "on_poweroff", !strcmp(policy, "always") ? "restart" : "destroy");
	child(dom, "on_reboot", "restart");
	child(dom, "on_crash", strcmp(policy, "no") ? "restart" : "destroy");
}

static void put_metadata(xmlNodePtr dom, struct json_object *cfg)
{
	xmlNodePtr md = child(dom, "metadata", NULL), vm;
	xmlNsPtr ns;
	struct json_object *labels;
	char buf[32];

	vm = xmlNewChild(md, NULL, BAD_CAST "vm", NULL);
	ns = xmlNewNs(vm, BAD_CAST LVX_NS, BAD_CAST "vmd");
	xmlSetNs(vm, ns);
	prop(vm, "accel", str(cfg, "accel"));
	prop(vm, "autostart", flag(cfg, "autostart") ? "yes" : "no");
	snprintf(buf, sizeof buf, "%lld", num(cfg, "restart_max"));
	prop(vm, "restart_max", buf);
	snprintf(buf, sizeof buf, "%lld", num(cfg, "restart_window_s"));
	prop(vm, "restart_window_s", buf);
	if (!json_object_object_get_ex(cfg, "labels", &labels))
		return;
	json_object_object_foreach(labels, k, v) {
		xmlNodePtr l = xmlNewChild(vm, ns, BAD_CAST "label", NULL);
		prop(l, "key", k);
		prop(l, "value", json_object_get_string(v));
	}
}

static void put_devices(xmlNodePtr dom, struct json_object *cfg, struct json_object *lost)
{
	xmlNodePtr devs = child(dom, "devices", NULL);

	put_disks(devs, cfg);
	put_nics(devs, cfg);
	put_ports(devs, cfg, lost);
	if (!strcmp(str(cfg, "display"), "vnc"))
		prop(child(devs, "graphics", NULL), "type", "vnc");
}

char *lvx_export(struct json_object *cfg, struct json_object **lost,
		 struct rpc_fault *f)
{
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr dom = xmlNewNode(NULL, BAD_CAST "domain");
	xmlChar *out = NULL;
	int len = 0;
	char *xml;

	*lost = json_object_new_array();
	xmlDocSetRootElement(doc, dom);
	prop(dom, "type", !strcmp(str(cfg, "accel"), "tcg") ? "qemu" : "kvm");
	child(dom, "name", str(cfg, "name"));
	child(dom, "uuid", str(cfg, "uuid"));
	put_metadata(dom, cfg);
	put_int(dom, "memory", num(cfg, "memory_mib"), "MiB");
	put_int(dom, "vcpu", num(cfg, "cpus"), NULL);
	put_os(dom, cfg);
	if (strcmp(str(cfg, "arch"), "x86_64") == 0 || strcmp(str(cfg, "arch"), "i386") == 0)
		child(child(dom, "features", NULL), "acpi", NULL);
	put_lifecycle(dom, str(cfg, "restart_policy"));
	put_devices(dom, cfg, *lost);
	if (json_object_object_get_ex(cfg, "cloud_init", NULL))
		lose(*lost, "cloud_init", "the NoCloud seed vmd makes at each start");
	xmlDocDumpFormatMemoryEnc(doc, &out, &len, "UTF-8", 1);
	xmlFreeDoc(doc);
	/* Without the <?xml?> line: virsh and virt-xml-validate take both. */
	const char *body = out ? strstr((char *)out, "<domain") : NULL;
	if (!body || !(xml = strdup(body))) {
		xmlFree(out);
		json_object_put(*lost);
		*lost = NULL;
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
		return NULL;
	}
	xmlFree(out);
	return xml;
}
