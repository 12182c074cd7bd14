/* libvirt's <devices> as a vmd config's disks, nics, serial, parallel and
 * display; what vmd chooses itself (emulator, controllers, PS/2 input,
 * video) is listed as ignored, anything else as unmapped. */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bridge/lvx_int.h"
#include "schemas/limits.h"

static bool is(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static bool eq(const char *a, const char *b)
{
	return a && !strcmp(a, b);
}

/* Appends o to config[key] (an array made when missing); false when the
 * schema's most are there already (o is then dropped). */
static bool append(struct lvx *x, const char *key, struct json_object *o, int max)
{
	struct json_object *a;

	if (!json_object_object_get_ex(x->config, key, &a)) {
		a = json_object_new_array();
		json_object_object_add(x->config, key, a);
	}
	if ((int)json_object_array_length(a) >= max) {
		json_object_put(o);
		return false;
	}
	json_object_array_add(a, o);
	return true;
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

/* <target bus=...>: vmd's bus, or NULL.  sata becomes ide (listed). */
static const char *disk_bus(struct lvx *x, xmlNodePtr target, bool ro)
{
	const char *bus = lvx_attr(target, "bus");

	if (!bus || eq(bus, "virtio"))
		return "virtio";
	if (!eq(bus, "sata") && !eq(bus, "ide"))
		return NULL;
	if (ro) {
		lvx_unmapped_at(x, target, "@bus", "QEMU has no read-only IDE disk: it is on virtio");
		return "virtio";
	}
	if (eq(bus, "sata"))
		lvx_unmapped_at(x, target, "@bus", "sata: the disk is on vmd's ide bus");
	return "ide";
}

static const char *disk_path(struct lvx *x, xmlNodePtr d, xmlNodePtr *src)
{
	const char *type = lvx_attr(d, "type");
	const char *attr = eq(type, "file") ? "file" : eq(type, "block") ? "dev" : NULL;
	const char *path;

	*src = lvx_one(x, d, "source");
	if (!attr || !*src)
		return NULL;
	path = lvx_attr(*src, attr);
	return path && path[0] == '/' && strlen(path) <= 4096 ? path : NULL;
}

static void map_disk(struct lvx *x, xmlNodePtr d)
{
	const char *device = lvx_attr(d, "device");
	xmlNodePtr src, drv = lvx_one(x, d, "driver"), target = lvx_one(x, d, "target");
	xmlNodePtr ro = lvx_one(x, d, "readonly"), n;
	const char *path, *fmt = drv ? lvx_attr(drv, "type") : NULL, *bus;

	if (eq(device, "cdrom")) {
		lvx_unmapped(x, d, "vmd has no CD-ROM drive of a VM's own (only the cloud-init seed)");
		return;
	}
	if (device && !eq(device, "disk")) {
		lvx_unmapped(x, d, "a %s device: vmd has disks only", device);
		return;
	}
	if (!(path = disk_path(x, d, &src))) {
		lvx_unmapped(x, d, "only a file or block device given by an absolute path maps");
		return;
	}
	if (fmt && !eq(fmt, "raw") && !eq(fmt, "qcow2")) {
		lvx_unmapped(x, d, "format %s: vmd opens raw and qcow2", fmt);
		return;
	}
	if (!target || !(bus = disk_bus(x, target, ro != NULL))) {
		lvx_unmapped(x, d, "bus %s: vmd has virtio and ide (sata becomes ide)",
			     target && lvx_attr(target, "bus") ? lvx_attr(target, "bus") : "?");
		return;
	}
	struct json_object *o = json_object_new_object();
	add_str(o, "path", path);
	add_str(o, "format", fmt ? fmt : "raw");
	add_str(o, "bus", bus);
	json_object_object_add(o, "readonly", json_object_new_boolean(ro != NULL));
	if (!append(x, "disks", o, VMD_DISK_MAX)) {
		lvx_unmapped(x, d, "vmd gives a VM at most %d disks", VMD_DISK_MAX);
		return;
	}
	lvx_take(x, d, "type device");
	lvx_take(x, src, eq(lvx_attr(d, "type"), "file") ? "file" : "dev");
	lvx_take(x, target, "dev bus");
	if (drv)
		lvx_take(x, drv, "name type");
	if (ro)
		lvx_take(x, ro, "");
	if ((n = lvx_one(x, d, "backingStore")) && !n->children && !n->properties)
		lvx_take(x, n, "");
}

/* network NAME: its bridge, when the connection told it. */
static const char *network_bridge(struct lvx *x, const char *net)
{
	struct json_object *b;

	if (!net || !x->host || !x->host->bridges ||
	    !json_object_object_get_ex(x->host->bridges, net, &b))
		return NULL;
	return json_object_get_string(b);
}

static void map_nic(struct lvx *x, xmlNodePtr i)
{
	static const char *const models[] = {"virtio", "e1000", "rtl8139"};
	const char *type = lvx_attr(i, "type"), *model = NULL;
	xmlNodePtr src = lvx_one(x, i, "source"), mac = lvx_one(x, i, "mac");
	xmlNodePtr m = lvx_one(x, i, "model");

	if (eq(type, "network") || eq(type, "bridge")) {
		const char *net = lvx_attr(src, "network"), *br = eq(type, "bridge")
			? lvx_attr(src, "bridge") : network_bridge(x, net);
		lvx_unmapped(x, i, "%s%s%s (bridge %s): vmd has user-mode networking only",
			     type, net ? " " : "", net ? net : "", br ? br : "unknown");
		return;
	}
	if (!eq(type, "user")) {
		lvx_unmapped(x, i, "interface type %s: vmd has user-mode networking only",
			     type ? type : "?");
		return;
	}
	for (size_t k = 0; m && k < 3; k++)
		if (eq(lvx_attr(m, "type"), models[k]))
			model = models[k];
	if (m && !model) {
		lvx_unmapped(x, i, "model %s: vmd has virtio, e1000 and rtl8139",
			     lvx_attr(m, "type") ? lvx_attr(m, "type") : "?");
		return;
	}
	struct json_object *o = json_object_new_object();
	add_str(o, "type", "user");
	add_str(o, "model", model ? model : "virtio");
	if (mac && lvx_attr(mac, "address") && strlen(lvx_attr(mac, "address")) == 17) {
		char lower[18];
		for (size_t k = 0; k < 18; k++)
			lower[k] = (char)tolower((unsigned char)lvx_attr(mac, "address")[k]);
		add_str(o, "mac", lower);
		lvx_take(x, mac, "address");
	}
	if (!append(x, "nics", o, VMD_NIC_MAX)) {
		lvx_unmapped(x, i, "vmd gives a VM at most %d NICs", VMD_NIC_MAX);
		return;
	}
	lvx_take(x, i, "type");
	if (m)
		lvx_take(x, m, "type");
}

/* A <serial> or <console> of type pty, tcp or dev as a vmd port. */
static struct json_object *port_of(struct lvx *x, xmlNodePtr p, const char **why)
{
	const char *type = lvx_attr(p, "type");
	xmlNodePtr src = lvx_one(x, p, "source"), proto = lvx_one(x, p, "protocol");
	struct json_object *o = json_object_new_object();

	if (eq(type, "pty")) {
		add_str(o, "type", "console");
		return o;
	}
	if (eq(type, "dev") && lvx_attr(src, "path") && lvx_attr(src, "path")[0] == '/') {
		add_str(o, "type", "host");
		add_str(o, "path", lvx_attr(src, "path"));
		lvx_take(x, src, "path");
		return o;
	}
	const char *host = lvx_attr(src, "host"), *svc = lvx_attr(src, "service");
	long port = svc ? atol(svc) : 0;
	if (eq(type, "tcp") && eq(lvx_attr(src, "mode"), "bind") &&
	    (!host || eq(host, "127.0.0.1") || eq(host, "localhost")) &&
	    port >= 1 && port <= 65535 && (!proto || eq(lvx_attr(proto, "type"), "raw"))) {
		add_str(o, "type", "tcp");
		json_object_object_add(o, "port", json_object_new_int((int)port));
		lvx_take(x, src, "mode host service");
		if (proto)
			lvx_take(x, proto, "type");
		return o;
	}
	json_object_put(o);
	*why = eq(type, "tcp") ? "tcp: vmd serves a raw port bound on 127.0.0.1 only"
			       : "vmd has console (pty), tcp (bind) and host tty (dev) ports";
	return NULL;
}

static void map_serial(struct lvx *x, xmlNodePtr s, int max)
{
	xmlNodePtr t = lvx_one(x, s, "target");
	const char *tt = lvx_attr(t, "type"), *why = NULL;
	struct json_object *o;

	if (tt && !eq(tt, "isa-serial") && !eq(tt, "system-serial") && !eq(tt, "serial")) {
		lvx_unmapped(x, s, "a %s port: vmd's are the machine's own UARTs", tt);
		return;
	}
	if (!(o = port_of(x, s, &why))) {
		lvx_unmapped(x, s, "%s", why);
		return;
	}
	if (!append(x, "serial", o, max)) {
		lvx_unmapped(x, s, "vmd gives a VM at most %d ports of this kind", max);
		return;
	}
	lvx_take(x, s, "type");
	if (t) {
		lvx_take(x, t, "type port");
		xmlNodePtr m = lvx_one(x, t, "model");
		if (m)
			lvx_take(x, m, "name");
	}
}

static void map_parallel(struct lvx *x, xmlNodePtr p)
{
	xmlNodePtr src = lvx_one(x, p, "source"), t = lvx_one(x, p, "target");
	const char *path = lvx_attr(src, "path");

	if (!eq(lvx_attr(p, "type"), "dev") || !path || path[0] != '/') {
		lvx_unmapped(x, p, "vmd's parallel ports are host devices (type dev) only");
		return;
	}
	struct json_object *o = json_object_new_object();
	add_str(o, "type", "host");
	add_str(o, "path", path);
	if (!append(x, "parallel", o, VMD_PARALLEL_MAX)) {
		lvx_unmapped(x, p, "vmd gives a VM at most %d parallel ports", VMD_PARALLEL_MAX);
		return;
	}
	lvx_take(x, p, "type");
	lvx_take(x, src, "path");
	if (t)
		lvx_take(x, t, "port");
}

/* A <console> on serial port N is that port again (libvirt writes both);
 * one without a serial port becomes one. */
static void map_console(struct lvx *x, xmlNodePtr c, int nserial)
{
	xmlNodePtr t = lvx_one(x, c, "target");
	const char *tt = lvx_attr(t, "type");

	if (tt && !eq(tt, "serial")) {
		lvx_unmapped(x, c, "a %s console: vmd's consoles are serial ports", tt);
		return;
	}
	if (nserial > 0) {
		lvx_ignored(x, c, "the same port as the first <serial>");
		return;
	}
	map_serial(x, c, 1);
}

static void map_graphics(struct lvx *x, xmlNodePtr g)
{
	if (!eq(lvx_attr(g, "type"), "vnc") ||
	    json_object_object_get_ex(x->config, "display", NULL)) {
		lvx_unmapped(x, g, "vmd has one display, vnc");
		return;
	}
	json_object_object_add(x->config, "display", json_object_new_string("vnc"));
	lvx_take(x, g, "type");
	for (xmlAttrPtr a = g->properties; a; a = a->next)
		if (strcmp((const char *)a->name, "type"))
			lvx_ignored(x, g, "vnc listens on vmd's unix socket RUN_DIR/vnc.sock");
	for (xmlNodePtr c = g->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			lvx_ignored(x, c, "vnc listens on vmd's unix socket RUN_DIR/vnc.sock");
}

/* What vmd chooses itself for the same effect. */
static bool vmd_chooses(struct lvx *x, xmlNodePtr n)
{
	const char *type = lvx_attr(n, "type"), *bus = lvx_attr(n, "bus");

	if (is(n, "emulator"))
		lvx_ignored(x, n, "vmd runs its own qemu-system-ARCH");
	else if (is(n, "controller"))
		lvx_ignored(x, n, "vmd's machine gives the controllers its devices need");
	else if (is(n, "input") && eq(bus, "ps2") && (eq(type, "mouse") || eq(type, "keyboard")))
		lvx_ignored(x, n, "the machine's PS/2 %s", type);
	else if (is(n, "video"))
		lvx_ignored(x, n, "vmd's QEMU gives the machine's default video card");
	else if (is(n, "memballoon") && eq(lvx_attr(n, "model"), "none"))
		lvx_ignored(x, n, "vmd adds no balloon either");
	else
		return false;
	return true;
}

void lvx_map_devices(struct lvx *x, xmlNodePtr devices)
{
	int nserial = 0;

	lvx_take(x, devices, "");
	for (xmlNodePtr n = devices->children; n; n = n->next) {
		if (is(n, "disk"))
			map_disk(x, n);
		else if (is(n, "interface"))
			map_nic(x, n);
		else if (is(n, "serial"))
			map_serial(x, n, VMD_SERIAL_MAX), nserial++;
		else if (is(n, "parallel"))
			map_parallel(x, n);
		else if (is(n, "graphics"))
			map_graphics(x, n);
		else if (n->type == XML_ELEMENT_NODE)
			vmd_chooses(x, n);
	}
	for (xmlNodePtr n = devices->children; n; n = n->next)
		if (is(n, "console"))
			map_console(x, n, nserial), nserial++;
	if (!json_object_object_get_ex(x->config, "serial", NULL))
		json_object_object_add(x->config, "serial", json_object_new_array());
}
