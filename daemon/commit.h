/* Group commit: replies that promise durability wait for one fsync of the
 * store, shared by every such reply of the same event-loop turn. */
#ifndef VMD_DAEMON_COMMIT_H
#define VMD_DAEMON_COMMIT_H

#include <json-c/json.h>

struct call;

/* Reply ret to c once the store is synced (takes ownership of ret). */
void commit_reply(struct call *c, struct json_object *ret);
void commit_shutdown(void); /* sync and answer what is still waiting */

#endif
