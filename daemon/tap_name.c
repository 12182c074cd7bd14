/* The names of vmd's taps and their counters (tap.h): no netlink here, so
 * readers of the counters (vmstats.c and its unit test) need not link
 * libnl. */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/tap.h"

#define TAP_ID_DIGITS 10

void tap_name(const char *uuid, int nic, char out[TAP_NAME_SIZE])
{
	char id[TAP_ID_DIGITS + 1];
	size_t n = 0;

	for (const char *p = uuid; *p && n < TAP_ID_DIGITS; p++)
		if (isxdigit((unsigned char)*p))
			id[n++] = (char)tolower((unsigned char)*p);
	id[n] = 0;
	snprintf(out, TAP_NAME_SIZE, "vmd%sn%d", id, nic);
}

bool tap_is_vmd_name(const char *name)
{
	if (strlen(name) != 3 + TAP_ID_DIGITS + 2 || strncmp(name, "vmd", 3))
		return false;
	for (int i = 3; i < 3 + TAP_ID_DIGITS; i++)
		if (!isxdigit((unsigned char)name[i]) || isupper((unsigned char)name[i]))
			return false;
	return name[3 + TAP_ID_DIGITS] == 'n' &&
	       name[4 + TAP_ID_DIGITS] >= '0' && name[4 + TAP_ID_DIGITS] <= '7';
}

int tap_sysfs_u64(const char *name, const char *file, uint64_t *v)
{
	char path[128], buf[32];
	FILE *fp;

	snprintf(path, sizeof path, "/sys/class/net/%s/%s", name, file);
	if (!(fp = fopen(path, "re")))
		return -1;
	bool ok = fgets(buf, sizeof buf, fp) != NULL;
	fclose(fp);
	if (!ok) {
		errno = EIO;
		return -1;
	}
	*v = strtoull(buf, NULL, 0);
	return 0;
}

int tap_counters(const char *name, struct tap_counters *c)
{
	if (strchr(name, '/') || !*name) {
		errno = EINVAL;
		return -1;
	}
	return tap_sysfs_u64(name, "statistics/rx_bytes", &c->rx_bytes) < 0 ||
	       tap_sysfs_u64(name, "statistics/rx_packets", &c->rx_packets) < 0 ||
	       tap_sysfs_u64(name, "statistics/tx_bytes", &c->tx_bytes) < 0 ||
	       tap_sysfs_u64(name, "statistics/tx_packets", &c->tx_packets) < 0 ? -1 : 0;
}
