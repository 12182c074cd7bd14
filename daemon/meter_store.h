/* Metering's rows (migration 0004): the meter of each VM, the samples and
 * the hour and month roll-ups.  One sample, its roll-ups and the new meter
 * row go in one transaction: a vmd killed at any moment has either all of
 * it or none, so what it counts again after a restart was never counted. */
#ifndef VMD_DAEMON_METER_STORE_H
#define VMD_DAEMON_METER_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

struct store;

/* What one hour gained in one counter. */
struct meter_part {
	int64_t hour;
	char counter[24];
	uint64_t value;
};

struct meter_row {
	int64_t t;                 /* time counted up to */
	char state[16];            /* the VM's state since t */
	char epoch[48];            /* "PID:STARTTIME" of the QEMU read last */
	int64_t traw;              /* when it was read */
	struct json_object *raw;   /* {"counter": value}; owned by the caller */
};

/* STORE_OK with row filled (raw a new object), STORE_NOT_FOUND. */
int meter_store_load(struct store *s, const char *uuid, struct meter_row *row);
/* One sample [t0, t1): its parts into usage_sample and usage_rollup
 * (hour and month), and the meter row, in one transaction. */
int meter_store_commit(struct store *s, const char *uuid, int64_t t0,
		       int64_t t1, const struct meter_part *parts, size_t n,
		       const struct meter_row *row);
/* Drops samples that ended before `before`, at most `max` of them (a
 * long-idle store is cleaned over several calls).  The rows dropped, or
 * -1. */
int meter_store_prune(struct store *s, int64_t before, int max);

/* usage-report's rows: for each VM uuid in uuids (a JSON array of
 * strings), the sums per period of granularity g in [from, to), ordered
 * by uuid and period, after (uuid, start) `after` when after_uuid is set,
 * at most limit.  cb gets each (uuid, period start, counter, value); a
 * row ends when uuid or start change.  STORE_OK or STORE_ERR. */
typedef int (*meter_report_cb)(void *ctx, const char *uuid, int64_t start,
			       const char *counter, int64_t value);
int meter_store_report(struct store *s, struct json_object *uuids,
		       int gran, int64_t from, int64_t to,
		       const char *after_uuid, int64_t after_start,
		       meter_report_cb cb, void *ctx);

#endif
