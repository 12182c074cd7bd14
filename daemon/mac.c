/* MAC addresses of guest NICs (see mac.h).  QEMU gives every NIC without
 * an address 52:54:00:12:34:56 (plus its index), so two guests on one
 * bridge would clash; vmd derives a stable address per VM and NIC instead
 * and keeps it in the definition, and refuses an address twice on a host. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/mac.h"

#define MAC_PREFIX 0x525400000000ULL    /* QEMU's, locally administered */
#define MAC_MULTICAST 0x010000000000ULL /* I/G bit of the first octet */
#define MAC_ALL 0xffffffffffffULL

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mac_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);
		if (lo < 0 || s[2] != (i < 5 ? ':' : '\0'))
			return -1;
		v = v << 8 | (uint64_t)(hi << 4 | lo);
		s += 3;
	}
	*out = v;
	return 0;
}

void mac_format(uint64_t mac, char out[MAC_TEXT])
{
	snprintf(out, MAC_TEXT, "%02x:%02x:%02x:%02x:%02x:%02x",
		 (unsigned)(mac >> 40) & 0xff, (unsigned)(mac >> 32) & 0xff,
		 (unsigned)(mac >> 24) & 0xff, (unsigned)(mac >> 16) & 0xff,
		 (unsigned)(mac >> 8) & 0xff, (unsigned)mac & 0xff);
}

const char *mac_problem(uint64_t mac)
{
	if (mac == 0)
		return "the all-zero address is not a NIC's address";
	if (mac == MAC_ALL)
		return "the broadcast address is not a NIC's address";
	if (mac & MAC_MULTICAST)
		return "a multicast address (odd first octet) is not a NIC's "
		       "address";
	return NULL;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

uint64_t mac_derive(const char *uuid, unsigned nic, unsigned attempt)
{
	char tail[32];
	uint64_t h = fnv1a(1469598103934665603ULL, uuid, strlen(uuid));
	int n = snprintf(tail, sizeof tail, "/nic%u/%u", nic, attempt);

	h = fnv1a(h, tail, (size_t)n);
	/* fold the high bits in: FNV's low bits alone mix less well */
	return MAC_PREFIX | ((h ^ (h >> 24) ^ (h >> 48)) & 0xffffff);
}

/* --- the index: a chained hash table, grown as it fills ---------------- */

struct entry {
	uint64_t mac;
	const void *owner;
	struct entry *next;
};

static struct entry **buckets;
static size_t nbuckets, count;

static size_t slot(uint64_t mac, size_t nb)
{
	return (size_t)((mac * 0x9e3779b97f4a7c15ULL) >> 20) & (nb - 1);
}

static int grow(void)
{
	size_t nb = nbuckets ? nbuckets * 2 : 1024;
	struct entry **b = calloc(nb, sizeof *b);

	if (!b)
		return -1;
	for (size_t i = 0; i < nbuckets; i++)
		for (struct entry *e = buckets[i], *next; e; e = next) {
			next = e->next;
			size_t j = slot(e->mac, nb);
			e->next = b[j];
			b[j] = e;
		}
	free(buckets);
	buckets = b;
	nbuckets = nb;
	return 0;
}

const void *mac_index_find(uint64_t mac)
{
	if (!nbuckets)
		return NULL;
	for (struct entry *e = buckets[slot(mac, nbuckets)]; e; e = e->next)
		if (e->mac == mac)
			return e->owner;
	return NULL;
}

int mac_index_add(uint64_t mac, const void *owner)
{
	struct entry *e;

	if (count + 1 > nbuckets * 3 / 4 && grow() < 0)
		return -1;
	if (!(e = malloc(sizeof *e)))
		return -1;
	size_t i = slot(mac, nbuckets);
	*e = (struct entry){.mac = mac, .owner = owner, .next = buckets[i]};
	buckets[i] = e;
	count++;
	return 0;
}

void mac_index_del(uint64_t mac, const void *owner)
{
	if (!nbuckets)
		return;
	for (struct entry **pp = &buckets[slot(mac, nbuckets)]; *pp;
	     pp = &(*pp)->next)
		if ((*pp)->mac == mac && (*pp)->owner == owner) {
			struct entry *e = *pp;
			*pp = e->next;
			free(e);
			count--;
			return;
		}
}

void mac_index_clear(void)
{
	for (size_t i = 0; i < nbuckets; i++)
		for (struct entry *e = buckets[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(buckets);
	buckets = NULL;
	nbuckets = count = 0;
}
