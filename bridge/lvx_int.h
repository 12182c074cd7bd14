/* Inside the import (bridge/lvx_import.c, lvx_devices.c): every element
 * of the domain is taken (mapped), listed (unmapped or ignored, with
 * its subtree) or, when the walk at the end finds it neither, listed as
 * unmapped: nothing is dropped unseen. */
#ifndef VMD_BRIDGE_LVX_INT_H
#define VMD_BRIDGE_LVX_INT_H

#include <stdbool.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include "bridge/lvx.h"

struct lvx {
	xmlDocPtr doc;
	xmlXPathContextPtr xp;
	const struct lvx_host *host;
	struct json_object *config;
	struct json_object *unmapped, *ignored;
};

/* The first element expr (XPath, relative to node) selects, or NULL. */
xmlNodePtr lvx_one(struct lvx *x, xmlNodePtr node, const char *expr);
/* All of them (xmlXPathFreeObject the result; NULL: none or no memory). */
xmlXPathObjectPtr lvx_all(struct lvx *x, xmlNodePtr node, const char *expr);
/* An attribute's value as it is in the tree, or NULL. */
const char *lvx_attr(xmlNodePtr n, const char *name);
/* The element's text (trimmed) in buf; false when empty or too long. */
bool lvx_text(xmlNodePtr n, char *buf, size_t cap);

/* n is mapped; its attributes not named in attrs (space separated) are
 * listed as unmapped.  Its children are still walked. */
void lvx_take(struct lvx *x, xmlNodePtr n, const char *attrs);
/* n and its subtree are not mapped because of reason (printf). */
void lvx_unmapped(struct lvx *x, xmlNodePtr n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* n and its subtree are replaced by vmd's own choice. */
void lvx_ignored(struct lvx *x, xmlNodePtr n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Lists a member of n that is not mapped (an attribute: "@cache"). */
void lvx_unmapped_at(struct lvx *x, xmlNodePtr n, const char *member,
		     const char *reason);

/* The devices: disks, interfaces, serial, console, parallel, graphics
 * and what vmd chooses itself (lvx_devices.c). */
void lvx_map_devices(struct lvx *x, xmlNodePtr devices);

#endif
