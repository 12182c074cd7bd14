/* daemon/commit.c when memory runs out: a reply that cannot be queued for
 * the group commit is still sent only after a sync of the store, and at
 * once.  malloc is wrapped (-Wl,--wrap=malloc) so that the next allocation
 * of commit.c can be made to fail; the store and the reply sink are fakes
 * that write into one trace ('S' sync, 'R' reply, 'E' error reply). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "daemon/commit.h"
#include "daemon/log.h"
#include "daemon/store.h"
#include "daemon/vmd.h"
#include "tests/unit/commit_trace.h"

struct vmd vmd;

static int fail_mallocs;   /* how many of the next mallocs fail */

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);

void *__wrap_malloc(size_t n)
{
	if (fail_mallocs > 0) {
		fail_mallocs--;
		return NULL;
	}
	return __real_malloc(n);
}

int store_sync(struct store *s)
{
	(void)s;
	note('S');
	return STORE_OK;
}

const char *store_errmsg(struct store *s)
{
	(void)s;
	return "fake";
}

static int setup(void **state)
{
	(void)state;
	trace_reset();
	fail_mallocs = 0;
	vmd.base = event_base_new();
	return vmd.base ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	commit_shutdown();
	event_base_free(vmd.base);
	vmd.base = NULL;
	return 0;
}

/* No room to queue the first reply: synced and sent at once. */
static void test_first_reply_nomem(void **state)
{
	(void)state;
	fail_mallocs = 1;
	commit_reply(json_object_new_object(), trace_reply, NULL);
	assert_string_equal(trace, "SR");
	event_base_loop(vmd.base, EVLOOP_NONBLOCK);
	assert_string_equal(trace, "SR");
}

/* The queue exists; one more reply finds no memory: that one is synced
 * and sent at once, the queued one still waits for the loop's sync. */
static void test_later_reply_nomem(void **state)
{
	(void)state;
	commit_reply(json_object_new_object(), trace_reply, NULL);
	assert_string_equal(trace, "");
	fail_mallocs = 1;
	commit_reply(json_object_new_object(), trace_reply, NULL);
	assert_string_equal(trace, "SR");
	event_base_loop(vmd.base, EVLOOP_NONBLOCK);
	assert_string_equal(trace, "SRSR");
	/* and the next turn queues and syncs as before */
	commit_reply(json_object_new_object(), trace_reply, NULL);
	assert_string_equal(trace, "SRSR");
	event_base_loop(vmd.base, EVLOOP_NONBLOCK);
	assert_string_equal(trace, "SRSRSR");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_reply_nomem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_later_reply_nomem, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
