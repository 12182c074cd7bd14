/* One trace of what happened, in order, for the unit tests of commit.c:
 * they note WAL writes and syncs, and the fake reply sink here (server.c's
 * and log.c's part) notes 'R' for a reply and 'E' for an error reply. */
#ifndef VMD_TESTS_COMMIT_TRACE_H
#define VMD_TESTS_COMMIT_TRACE_H

extern char trace[4096];

void note(char what);
void trace_reset(void);

#endif
