/* MAC addresses of guest NICs: parsing, the stable address vmd derives for
 * a NIC given without one, and the index of every address a defined VM
 * uses, so that no two NICs on the host share one. */
#ifndef VMD_DAEMON_MAC_H
#define VMD_DAEMON_MAC_H

#include <stdint.h>

#define MAC_TEXT 18   /* "52:54:00:ab:cd:ef" and NUL */

/* "aa:bb:cc:dd:ee:ff" (either case) as a 48-bit number; -1 if malformed. */
int mac_parse(const char *s, uint64_t *out);
void mac_format(uint64_t mac, char out[MAC_TEXT]);
/* Why mac cannot be a NIC's address (multicast, broadcast, all zero), or
 * NULL when it can. */
const char *mac_problem(uint64_t mac);
/* The address vmd gives NIC number nic of the VM with this uuid: QEMU's
 * locally administered prefix 52:54:00 and 24 bits of a hash of uuid, nic
 * and attempt.  The same arguments always give the same address; a caller
 * that finds it taken tries attempt + 1. */
uint64_t mac_derive(const char *uuid, unsigned nic, unsigned attempt);

/* The index: address -> owner (a struct vm *, opaque here).  One owner per
 * address; mac_index_add fails (-1) on ENOMEM. */
int mac_index_add(uint64_t mac, const void *owner);
void mac_index_del(uint64_t mac, const void *owner); /* only if owner's */
const void *mac_index_find(uint64_t mac);
void mac_index_clear(void);

#endif
