/* Group commit for acknowledged changes.  A handler that changed the store
 * queues its reply here instead of sending it; at the end of the event-loop
 * turn one store_sync() makes all those changes durable, then the replies
 * go out.  Under load many defines share one fsync; a single client pays
 * one fsync per change, as it must. */
#include "config.h"
#include <stdbool.h>
#include <stdlib.h>
#include <event2/event.h>
#include "daemon/commit.h"
#include "daemon/log.h"
#include "daemon/store.h"
#include "daemon/vmd.h"

struct waiting {
	commit_cb cb;
	void *ctx;
	struct json_object *ret;
	struct waiting *next;
};

static struct waiting *head, **tail = &head;
static struct event *flush_ev;
static bool scheduled;

static void flush(evutil_socket_t fd, short what, void *arg)
{
	struct waiting *w = head;
	int rc = store_sync(vmd.store);
	struct rpc_fault f;

	head = NULL;
	tail = &head;
	scheduled = false;
	if (rc != STORE_OK) {
		log_err("store: %s", store_errmsg(vmd.store));
		rpc_fault_set(&f, RPC_GENERIC_ERROR, "the change was made but "
			      "could not be synced to disk: %s",
			      store_errmsg(vmd.store));
	}
	while (w) {
		struct waiting *next = w->next;
		if (rc == STORE_OK) {
			w->cb(w->ctx, w->ret, NULL);
		} else {
			json_object_put(w->ret);
			w->cb(w->ctx, NULL, &f);
		}
		free(w);
		w = next;
	}
}

void commit_reply(struct json_object *ret, commit_cb cb, void *ctx)
{
	struct waiting *w = malloc(sizeof *w);

	if (!flush_ev)
		flush_ev = event_new(vmd.base, -1, 0, flush, NULL);
	if (!w || !flush_ev) {
		free(w);
		/* cannot queue: sync now, reply now */
		store_sync(vmd.store);
		cb(ctx, ret, NULL);
		return;
	}
	*w = (struct waiting){.cb = cb, .ctx = ctx, .ret = ret};
	*tail = w;
	tail = &w->next;
	if (!scheduled) {
		scheduled = true;
		event_active(flush_ev, EV_TIMEOUT, 0);
	}
}

void commit_shutdown(void)
{
	if (head)
		flush(-1, 0, NULL);
	if (flush_ev)
		event_free(flush_ev);
	flush_ev = NULL;
}
