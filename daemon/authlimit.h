/* Failed token authentications, limited per peer uid: a bucket holds
 * AUTHLIMIT_BURST failures and refills one every AUTHLIMIT_REFILL seconds.
 * While it is empty, a token from that uid is refused before it is even
 * looked up, so guessing costs the guesser time and vmd next to nothing.
 * The table is bounded (AUTHLIMIT_PEERS); a full one forgets the peer
 * whose bucket is fullest (the least suspect). */
#ifndef VMD_DAEMON_AUTHLIMIT_H
#define VMD_DAEMON_AUTHLIMIT_H

#include <sys/types.h>

#define AUTHLIMIT_BURST 10
#define AUTHLIMIT_REFILL 3.0
#define AUTHLIMIT_PEERS 256

/* 0: uid may try a token at time now (seconds, monotonic); else the whole
 * seconds until it may (at least 1). */
int authlimit_wait(uid_t uid, double now);
/* uid's token failed at time now. */
void authlimit_fail(uid_t uid, double now);
/* Forget every peer (tests). */
void authlimit_reset(void);

#endif
