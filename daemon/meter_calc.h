/* The arithmetic of metering, exact and free of floating point: UTC
 * periods in whole seconds, counter continuity, and the split of an amount
 * over the hours a sample spans.  No store, no VM: unit-tested alone. */
#ifndef VMD_DAEMON_METER_CALC_H
#define VMD_DAEMON_METER_CALC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum meter_gran { METER_HOUR, METER_DAY, METER_MONTH };

#define METER_MAX_YEARS 10     /* the longest usage-report period: */
#define METER_MAX_SECONDS ((int64_t)(365 * METER_MAX_YEARS + 3) * 86400)

/* The start of the hour, day or month (UTC) that holds t. */
int64_t meter_period_start(int64_t t, enum meter_gran g);
/* The start of the period after the one that starts at start. */
int64_t meter_period_next(int64_t start, enum meter_gran g);

/* What a counter added since its previous raw reading.  A counter that
 * went backward is a stale or reset reading: it adds nothing. */
uint64_t meter_delta(uint64_t prev, uint64_t now);

/* Split amount, accrued evenly over [t0, t1), over the UTC hours it
 * spans.  The rule: the part of the hour [a, b) is
 *   floor(amount * (b - t0) / (t1 - t0)) - floor(amount * (a - t0) / (t1 - t0))
 * (a and b clipped to the span), so every part is whole and the parts sum
 * to amount exactly; a second's worth of remainder falls to the later
 * hour.  t1 <= t0 puts it all in t1's hour.  cb gets each hour's start
 * and its non-zero part, in order. */
typedef void (*meter_part_cb)(void *ctx, int64_t hour, uint64_t part);
void meter_split(int64_t t0, int64_t t1, uint64_t amount, meter_part_cb cb,
		 void *ctx);

/* "YYYY-MM", "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (UTC) into unix
 * seconds; -1 when it is none of these or not a real date. */
int meter_parse_time(const char *s, int64_t *t);
/* "YYYY-MM-DDTHH:MM:SSZ" */
void meter_format_time(int64_t t, char *buf, size_t cap);
/* A report's period: from < to, both on a boundary of g, at most
 * METER_MAX_YEARS long.  0, or -1 with why said. */
int meter_period_check(int64_t from, int64_t to, enum meter_gran g,
		       char *why, size_t cap);
int meter_gran_from_name(const char *name);  /* -1 if unknown */

#endif
