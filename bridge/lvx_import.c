/* libvirt domain XML to a vmd VM config: the domain's own members (name,
 * uuid, memory, vCPUs, os, lifecycle, vmd's metadata), the helpers every
 * mapping uses, and the final walk that lists what no mapping took.
 * Devices are lvx_devices.c's. */
#include "config.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/xpathInternals.h>
#include "bridge/lvx_int.h"

/* Marks in xmlNode._private: what became of an element. */
#define TAKEN ((void *)1)
#define LISTED ((void *)2)

xmlXPathObjectPtr lvx_all(struct lvx *x, xmlNodePtr node, const char *expr)
{
	xmlXPathObjectPtr r;

	x->xp->node = node;
	r = xmlXPathEvalExpression(BAD_CAST expr, x->xp);
	if (r && (r->type != XPATH_NODESET || xmlXPathNodeSetIsEmpty(r->nodesetval))) {
		xmlXPathFreeObject(r);
		return NULL;
	}
	return r;
}

xmlNodePtr lvx_one(struct lvx *x, xmlNodePtr node, const char *expr)
{
	xmlXPathObjectPtr r = lvx_all(x, node, expr);
	xmlNodePtr n = r ? r->nodesetval->nodeTab[0] : NULL;

	xmlXPathFreeObject(r);
	return n && n->type == XML_ELEMENT_NODE ? n : NULL;
}

const char *lvx_attr(xmlNodePtr n, const char *name)
{
	xmlAttrPtr a = n ? xmlHasProp(n, BAD_CAST name) : NULL;

	if (!a || a->ns)
		return NULL;
	if (!a->children)
		return "";
	if (a->children->type != XML_TEXT_NODE || a->children->next)
		return NULL;
	return (const char *)a->children->content;
}

bool lvx_text(xmlNodePtr n, char *buf, size_t cap)
{
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	const char *s = (const char *)t;
	size_t len;

	if (!t)
		return false;
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	bool ok = len > 0 && len < cap;
	if (ok) {
		memcpy(buf, s, len);
		buf[len] = '\0';
	}
	xmlFree(t);
	return ok;
}

static void list(struct json_object *to, xmlNodePtr n, const char *member,
		 const char *reason)
{
	xmlChar *path = xmlGetNodePath(n);
	char where[512];
	struct json_object *e = json_object_new_object();

	snprintf(where, sizeof where, "%s%s%s", path ? (char *)path : "?",
		 member ? "/" : "", member ? member : "");
	xmlFree(path);
	json_object_object_add(e, "element", json_object_new_string(where));
	json_object_object_add(e, "reason", json_object_new_string(reason));
	json_object_array_add(to, e);
}

void lvx_unmapped_at(struct lvx *x, xmlNodePtr n, const char *member,
		     const char *reason)
{
	list(x->unmapped, n, member, reason);
}

static void vlist(struct json_object *to, xmlNodePtr n, const char *fmt,
		  va_list ap)
{
	char reason[512];

	vsnprintf(reason, sizeof reason, fmt, ap);
	list(to, n, NULL, reason);
	n->_private = LISTED;
}

void lvx_unmapped(struct lvx *x, xmlNodePtr n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlist(x->unmapped, n, fmt, ap);
	va_end(ap);
}

void lvx_ignored(struct lvx *x, xmlNodePtr n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlist(x->ignored, n, fmt, ap);
	va_end(ap);
}

/* Is name a word of the space-separated list words? */
static bool listed_in(const char *words, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = words; p && (p = strstr(p, name)); p += len)
		if ((p == words || p[-1] == ' ') && (p[len] == ' ' || !p[len]))
			return true;
	return false;
}

void lvx_take(struct lvx *x, xmlNodePtr n, const char *attrs)
{
	char member[300];

	n->_private = TAKEN;
	for (xmlAttrPtr a = n->properties; a; a = a->next) {
		if (!a->ns && listed_in(attrs, (const char *)a->name))
			continue;
		snprintf(member, sizeof member, "@%s", (const char *)a->name);
		list(x->unmapped, n, member, "attribute not mapped: vmd has no equivalent");
	}
}

/* The walk: every element neither taken nor listed, under one that was
 * taken, is unmapped.  Addresses and aliases are vmd's own choice. */
static void walk(struct lvx *x, xmlNodePtr n)
{
	for (xmlNodePtr c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || c->_private == LISTED)
			continue;
		if (c->_private != TAKEN) {
			const char *name = (const char *)c->name;
			if (!strcmp(name, "address") || !strcmp(name, "alias"))
				lvx_ignored(x, c, "vmd assigns the guest's device addresses and names");
			else
				lvx_unmapped(x, c, "vmd has no equivalent of <%s>", name);
			continue;
		}
		walk(x, c);
	}
}

static void set_str(struct lvx *x, const char *key, const char *v)
{
	json_object_object_add(x->config, key, json_object_new_string(v));
}

static void set_int(struct lvx *x, const char *key, long long v)
{
	json_object_object_add(x->config, key, json_object_new_int64(v));
}

/* A valid vmd name: a letter or digit, then [A-Za-z0-9_.-], 63 at most. */
static bool vmd_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static int map_name(struct lvx *x, xmlNodePtr root, struct rpc_fault *f)
{
	xmlNodePtr n = lvx_one(x, root, "name");
	char name[256], uuid[64];

	if (!n || !lvx_text(n, name, sizeof name)) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "xml: the domain has no <name>");
		return -1;
	}
	if (!vmd_name(name)) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "xml: the domain's name '%.80s' is not a "
			      "vmd name (a letter or digit, then up to 62 of A-Z a-z 0-9 _ . -)", name);
		return -1;
	}
	lvx_take(x, n, "");
	set_str(x, "name", name);
	if (!(n = lvx_one(x, root, "uuid")))
		return 0;
	bool ok = lvx_text(n, uuid, sizeof uuid) && strlen(uuid) == 36;
	for (size_t i = 0; ok && i < 36; i++) {
		uuid[i] = (char)tolower((unsigned char)uuid[i]);
		ok = (i == 8 || i == 13 || i == 18 || i == 23) ? uuid[i] == '-'
							       : isxdigit((unsigned char)uuid[i]);
	}
	if (!ok) {
		lvx_unmapped(x, n, "not a UUID in the 8-4-4-4-12 form vmd keeps");
		return 0;
	}
	lvx_take(x, n, "");
	set_str(x, "uuid", uuid);
	return 0;
}

/* libvirt's scaled integers (unit, default KiB) in MiB, or -1. */
static long long mib_of(xmlNodePtr n)
{
	static const struct { const char *unit; long long bytes; } units[] = {
		{"b", 1}, {"bytes", 1}, {"KB", 1000}, {"k", 1024}, {"KiB", 1024},
		{"MB", 1000000}, {"M", 1 << 20}, {"MiB", 1 << 20},
		{"GB", 1000000000LL}, {"G", 1LL << 30}, {"GiB", 1LL << 30},
		{"TB", 1000000000000LL}, {"T", 1LL << 40}, {"TiB", 1LL << 40},
	};
	const char *unit = lvx_attr(n, "unit");
	char text[32], *end;
	unsigned long long v;

	if (!lvx_text(n, text, sizeof text) || !isdigit((unsigned char)text[0]))
		return -1;
	v = strtoull(text, &end, 10);
	if (*end)
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(unit ? unit : "KiB", units[i].unit)) {
			long long per = units[i].bytes;
			if (v > (1ULL << 62) / (unsigned long long)per)
				return -1;
			return (long long)((v * per + (1 << 20) - 1) >> 20);
		}
	return -1;
}

static void map_memory(struct lvx *x, xmlNodePtr root)
{
	xmlNodePtr n = lvx_one(x, root, "memory"), cur;
	long long mib = n ? mib_of(n) : -1;

	if (n && (mib < 16 || mib > 1048576)) {
		lvx_unmapped(x, n, "memory must be 16 MiB to 1 TiB in vmd");
	} else if (n) {
		lvx_take(x, n, "unit dumpCore");
		set_int(x, "memory_mib", mib);
	}
	if ((cur = lvx_one(x, root, "currentMemory"))) {
		if (mib_of(cur) == mib)
			lvx_take(x, cur, "unit");
		else
			lvx_unmapped(x, cur, "a balloon below <memory>: vmd gives the guest all its memory");
	}
}

static void map_vcpu(struct lvx *x, xmlNodePtr root)
{
	xmlNodePtr n = lvx_one(x, root, "vcpu");
	char text[16], *end;
	long v;

	if (!n)
		return;
	if (!lvx_text(n, text, sizeof text) || (v = strtol(text, &end, 10)) < 1 ||
	    v > 288 || *end) {
		lvx_unmapped(x, n, "vCPUs must be 1 to 288 in vmd");
		return;
	}
	const char *cur = lvx_attr(n, "current");
	if (cur && atol(cur) != v)
		lvx_unmapped_at(x, n, "@current", "vmd starts all vCPUs (no hot-plug)");
	lvx_take(x, n, "placement current");
	set_int(x, "cpus", v);
}

/* libvirt's arch names and vmd's (vm-config.json's arch). */
static const char *vmd_arch(const char *arch)
{
	static const char *const map[][2] = {
		{"x86_64", "x86_64"}, {"i686", "i386"},
		{"aarch64", "aarch64"}, {"riscv64", "riscv64"},
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(arch, map[i][0]))
			return map[i][1];
	return NULL;
}

static bool machine_ok(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)m[i]) && !strchr("_.-", m[i]))
			return false;
	return true;
}

static void map_type(struct lvx *x, xmlNodePtr os)
{
	xmlNodePtr t = lvx_one(x, os, "type");
	const char *arch, *machine, *va;
	char kind[16];

	if (!t)
		return;
	if (!lvx_text(t, kind, sizeof kind) || strcmp(kind, "hvm")) {
		lvx_unmapped(x, t, "only hvm guests (full virtualisation) run in vmd");
		return;
	}
	lvx_take(x, t, "arch machine");
	arch = lvx_attr(t, "arch");
	machine = lvx_attr(t, "machine");
	if (arch && !(va = vmd_arch(arch)))
		lvx_unmapped_at(x, t, "@arch", "this architecture is not mapped: vmd runs "
				"x86_64, i686 (i386), aarch64 and riscv64 guests");
	else if (arch)
		set_str(x, "arch", va);
	if (machine && !machine_ok(machine))
		lvx_unmapped_at(x, t, "@machine", "not a machine type name vmd accepts");
	else if (machine && !(arch && !vmd_arch(arch)))
		set_str(x, "machine", machine);
}

/* <boot dev=...> elements, in order, as vmd's boot.order letters. */
static void map_boot_order(struct lvx *x, xmlNodePtr os, struct json_object *boot)
{
	static const char *const devs[][2] = {
		{"fd", "a"}, {"hd", "c"}, {"cdrom", "d"}, {"network", "n"},
	};
	char order[8] = "";
	size_t n = 0;

	for (xmlNodePtr c = os->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "boot"))
			continue;
		const char *dev = lvx_attr(c, "dev"), *letter = NULL;
		for (size_t i = 0; dev && i < 4; i++)
			if (!strcmp(dev, devs[i][0]))
				letter = devs[i][1];
		if (!letter || n >= 4 || strchr(order, *letter)) {
			lvx_unmapped(x, c, "boot device not mapped (vmd: fd, hd, cdrom, network, once each)");
			continue;
		}
		lvx_take(x, c, "dev");
		order[n++] = *letter;
		order[n] = '\0';
	}
	if (n)
		json_object_object_add(boot, "order", json_object_new_string(order));
}

static void map_os(struct lvx *x, xmlNodePtr root)
{
	static const char *const files[] = {"kernel", "initrd", "cmdline"};
	xmlNodePtr os = lvx_one(x, root, "os"), n;
	struct json_object *boot = json_object_new_object();
	char text[4097];

	if (!os) {
		json_object_put(boot);
		return;
	}
	lvx_take(x, os, "");
	map_type(x, os);
	map_boot_order(x, os, boot);
	for (size_t i = 0; i < 3; i++) {
		if (!(n = lvx_one(x, os, files[i])))
			continue;
		if (!lvx_text(n, text, sizeof text) || (i < 2 && text[0] != '/')) {
			lvx_unmapped(x, n, "empty, too long or not an absolute path");
			continue;
		}
		lvx_take(x, n, "");
		json_object_object_add(boot, files[i], json_object_new_string(text));
	}
	if (json_object_object_get_ex(boot, "initrd", NULL) &&
	    !json_object_object_get_ex(boot, "kernel", NULL)) {
		json_object_object_del(boot, "initrd");
		lvx_unmapped(x, lvx_one(x, os, "initrd"), "an initrd without a kernel");
	}
	if (json_object_object_length(boot))
		json_object_object_add(x->config, "boot", boot);
	else
		json_object_put(boot);
}

/* on_poweroff, on_reboot, on_crash as restart_policy. */
static void map_lifecycle(struct lvx *x, xmlNodePtr root)
{
	static const char *const what[] = {"on_poweroff", "on_reboot", "on_crash"};
	static const char *const vmd[] = {"destroy", "restart", "destroy"};
	char v[32];
	bool again[3] = {false, true, false};

	for (size_t i = 0; i < 3; i++) {
		xmlNodePtr n = lvx_one(x, root, what[i]);
		if (!n)
			continue;
		if (!lvx_text(n, v, sizeof v) ||
		    (strcmp(v, "destroy") && strcmp(v, "restart")) ||
		    (i == 1 && strcmp(v, vmd[1]))) {
			lvx_unmapped(x, n, "vmd %s the guest here (restart_policy)",
				     i == 1 ? "resets" : "stops or restarts");
			continue;
		}
		lvx_take(x, n, "");
		again[i] = !strcmp(v, "restart");
	}
	if (again[0] && !again[2])
		lvx_unmapped(x, lvx_one(x, root, "on_poweroff"),
			     "a restart at power-off but not after a crash has no restart_policy");
	else
		set_str(x, "restart_policy", again[0] ? "always" : again[2] ? "on-failure" : "no");
}

/* vmd's own <metadata> (lvx_export writes it): what libvirt has no place
 * for.  Another program's metadata is its own business. */
static void map_metadata(struct lvx *x, xmlNodePtr root)
{
	xmlNodePtr md = lvx_one(x, root, "metadata"), vm;

	if (!md)
		return;
	lvx_take(x, md, "");
	for (xmlNodePtr c = md->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    !(c->ns && !strcmp((const char *)c->ns->href, LVX_NS)))
			lvx_ignored(x, c, "another program's metadata");
	if (!(vm = lvx_one(x, md, "vmd:vm")))
		return;
	lvx_take(x, vm, "accel autostart restart_max restart_window_s");
	const char *v;
	if ((v = lvx_attr(vm, "accel")))
		set_str(x, "accel", v);
	if ((v = lvx_attr(vm, "autostart")))
		json_object_object_add(x->config, "autostart",
				       json_object_new_boolean(!strcmp(v, "yes")));
	if ((v = lvx_attr(vm, "restart_max")))
		set_int(x, "restart_max", atoll(v));
	if ((v = lvx_attr(vm, "restart_window_s")))
		set_int(x, "restart_window_s", atoll(v));
	struct json_object *labels = json_object_new_object();
	for (xmlNodePtr l = vm->children; l; l = l->next) {
		if (l->type != XML_ELEMENT_NODE)
			continue;
		const char *k = lvx_attr(l, "key"), *val = lvx_attr(l, "value");
		if (strcmp((const char *)l->name, "label") || !k || !val) {
			lvx_unmapped(x, l, "not a vmd label");
			continue;
		}
		lvx_take(x, l, "key value");
		json_object_object_add(labels, k, json_object_new_string(val));
	}
	json_object_object_add(x->config, "labels", labels);
}

static void map_domain(struct lvx *x, xmlNodePtr root)
{
	const char *type = lvx_attr(root, "type");
	xmlNodePtr n;

	lvx_take(x, root, "type id");
	if (type && (!strcmp(type, "qemu") || !strcmp(type, "kvm")))
		set_str(x, "accel", !strcmp(type, "kvm") ? "auto" : "tcg");
	else
		lvx_unmapped_at(x, root, "@type", "vmd runs QEMU guests (kvm or qemu domains)");
	map_memory(x, root);
	map_vcpu(x, root);
	map_os(x, root);
	map_lifecycle(x, root);
	map_metadata(x, root);
	if ((n = lvx_one(x, root, "devices")))
		lvx_map_devices(x, n);
	if ((n = lvx_one(x, root, "features"))) {
		lvx_take(x, n, "");
		for (xmlNodePtr c = n->children; c; c = c->next)
			if (c->type == XML_ELEMENT_NODE && !c->properties && !c->children &&
			    (!strcmp((const char *)c->name, "acpi") ||
			     !strcmp((const char *)c->name, "apic") ||
			     !strcmp((const char *)c->name, "pae")))
				lvx_ignored(x, c, "vmd's machine has it");
	}
	if ((n = lvx_one(x, root, "clock")) && lvx_attr(n, "offset") &&
	    !strcmp(lvx_attr(n, "offset"), "utc"))
		lvx_take(x, n, "offset");
	if (x->host && x->host->autostart >= 0)
		json_object_object_add(x->config, "autostart",
				       json_object_new_boolean(x->host->autostart));
}

static int parse(struct lvx *x, const char *xml, size_t len, struct rpc_fault *f)
{
	xmlNodePtr root;

	if (len > LVX_XML_MAX) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "xml: longer than %d bytes", LVX_XML_MAX);
		return -1;
	}
	/* No network, no DTD, no entity expansion beyond libxml2's limits. */
	x->doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!x->doc) {
		const xmlError *e = xmlGetLastError();
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "xml: not well-formed XML (line %d: %s)",
			      e ? e->line : 0, e && e->message ? e->message : "?");
		size_t l = strlen(f->msg);
		if (l && f->msg[l - 1] == '\n')
			f->msg[l - 1] = '\0';
		return -1;
	}
	root = xmlDocGetRootElement(x->doc);
	if (!root || strcmp((const char *)root->name, "domain") || root->ns) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "xml: the root element is not <domain>");
		return -1;
	}
	if (!(x->xp = xmlXPathNewContext(x->doc)) ||
	    xmlXPathRegisterNs(x->xp, BAD_CAST "vmd", BAD_CAST LVX_NS) < 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	return 0;
}

int lvx_import(const char *xml, size_t len, const struct lvx_host *host,
	       struct lvx_import *out, struct rpc_fault *f)
{
	struct lvx x = {.host = host};
	int rc = -1;

	memset(out, 0, sizeof *out);
	x.config = json_object_new_object();
	x.unmapped = json_object_new_array();
	x.ignored = json_object_new_array();
	if (parse(&x, xml, len, f) == 0 &&
	    map_name(&x, xmlDocGetRootElement(x.doc), f) == 0) {
		map_domain(&x, xmlDocGetRootElement(x.doc));
		walk(&x, xmlDocGetRootElement(x.doc));
		*out = (struct lvx_import){x.config, x.unmapped, x.ignored};
		x.config = x.unmapped = x.ignored = NULL;
		rc = 0;
	}
	json_object_put(x.config);
	json_object_put(x.unmapped);
	json_object_put(x.ignored);
	xmlXPathFreeContext(x.xp);
	xmlFreeDoc(x.doc);
	return rc;
}

void lvx_import_free(struct lvx_import *out)
{
	json_object_put(out->config);
	json_object_put(out->unmapped);
	json_object_put(out->ignored);
	memset(out, 0, sizeof *out);
}
