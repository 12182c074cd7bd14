/* One trace of what happened, in order, for the unit tests of commit.c:
 * they note WAL writes and syncs, and the reply sink here (trace_reply,
 * commit.c's callback) notes 'R' for a reply and 'E' for an error reply. */
#ifndef VMD_TESTS_COMMIT_TRACE_H
#define VMD_TESTS_COMMIT_TRACE_H

extern char trace[4096];

void note(char what);
void trace_reset(void);
struct json_object;
struct rpc_fault;
void trace_reply(void *ctx, struct json_object *ret,
		 const struct rpc_fault *err);

#endif
