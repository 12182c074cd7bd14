/* vmd-libvirt URI DOMAIN: what vmd's vm-import-libvirt reads from a
 * libvirt connection, printed as one JSON object on stdout:
 * {"xml": the domain's XML, "autostart": bool, "bridges": {network:
 * bridge}} (the bridges of the networks its interfaces name).  vmd runs
 * it as its own child, as the user who asked, because libvirt's calls
 * block: vmd's loop only reads this output and kills it at its deadline.
 * On failure: exit 1, libvirt's message on stdout. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include "bridge/lvx.h"

static int fail(const char *what)
{
	const char *m = virGetLastErrorMessage();

	printf("%s: %s\n", what, m ? m : "unknown error");
	return 1;
}

/* The bridge of network name, or NULL (it is then listed as unknown). */
static char *bridge_of(virConnectPtr conn, const char *name)
{
	virNetworkPtr net = virNetworkLookupByName(conn, name);
	char *br = net ? virNetworkGetBridgeName(net) : NULL;

	if (net)
		virNetworkFree(net);
	return br;
}

/* Every <source network='...'> of xml, crudely: the import lists them
 * anyway, this only names their bridges. */
static struct json_object *bridges(virConnectPtr conn, const char *xml)
{
	struct json_object *b = json_object_new_object();
	const char *p = xml, *key = "network='";

	while ((p = strstr(p, key))) {
		char name[256];
		const char *end = strchr(p += strlen(key), '\'');
		if (!end || end - p >= (long)sizeof name)
			break;
		memcpy(name, p, (size_t)(end - p));
		name[end - p] = '\0';
		char *br = json_object_object_get_ex(b, name, NULL) ? NULL
			: bridge_of(conn, name);
		if (br)
			json_object_object_add(b, name, json_object_new_string(br));
		free(br);
		p = end;
	}
	return b;
}

/* Errors are printed by fail(), once, not by libvirt's default handler. */
static void quiet(void *data, virErrorPtr e)
{
	(void)data;
	(void)e;
}

int main(int argc, char **argv)
{
	virConnectPtr conn;
	virDomainPtr dom;
	char *xml;
	int autostart = -1;

	if (argc != 3) {
		printf("usage: vmd-libvirt URI DOMAIN\n");
		return 2;
	}
	virSetErrorFunc(NULL, quiet);
	if (!(conn = virConnectOpenReadOnly(argv[1])))
		return fail(argv[1]);
	if (!(dom = virDomainLookupByName(conn, argv[2])))
		return fail(argv[2]);
	if (!(xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE)))
		return fail(argv[2]);
	if (strlen(xml) > LVX_XML_MAX) {
		printf("%s: its XML is longer than %d bytes\n", argv[2], LVX_XML_MAX);
		return 1;
	}
	if (virDomainGetAutostart(dom, &autostart) < 0)
		autostart = -1;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "xml", json_object_new_string(xml));
	if (autostart >= 0)
		json_object_object_add(o, "autostart", json_object_new_boolean(autostart));
	json_object_object_add(o, "bridges", bridges(conn, xml));
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), stdout);
	json_object_put(o);
	free(xml);
	virDomainFree(dom);
	virConnectClose(conn);
	return fflush(stdout) == 0 ? 0 : 1;
}
