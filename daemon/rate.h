/* Rating: usage into money, exact and free of floating point.
 *
 * The rule.  A line bills q base units of metering (vCPU-seconds,
 * MiB-seconds, MiB-seconds of volume size, bytes) at `price` minor units
 * per `unit` base units (3600 vCPU-seconds in a vCPU-hour, ...), less an
 * allowance of `incl` whole units per month, prorated to the seconds the
 * line's plan segment holds of the month.  As an exact rational:
 *
 *   billable = max(0, q - incl * unit * seg / month)       base units
 *   amount   = billable * price / unit                      minor units
 *
 * computed in 128-bit integers and rounded once, half up, to a whole
 * minor unit.  An invoice's total is the sum of its rounded lines. */
#ifndef VMD_DAEMON_RATE_H
#define VMD_DAEMON_RATE_H

#include <stddef.h>
#include <stdint.h>

struct rate_line {
	uint64_t q;        /* measured, base units */
	uint64_t unit;     /* base units in one priced unit */
	int64_t price;     /* minor units per priced unit, >= 0 */
	int64_t incl;      /* whole priced units included a month, >= 0 */
	int64_t seg;       /* seconds of the segment within the month */
	int64_t month;     /* seconds of the month */
};

/* The amount of l in *amount: 0, or -1 when it does not fit an int64
 * or l is not meaningful (zero unit or month, negative numbers). */
int rate_amount(const struct rate_line *l, int64_t *amount);
/* num/den as a decimal with 6 places, rounded half up ("12.500000"). */
void rate_decimal(unsigned __int128 num, unsigned __int128 den, char *buf,
		  size_t cap);
/* The quantity and the prorated allowance of l, in priced units, as
 * rate_decimal() writes them. */
void rate_quantity(const struct rate_line *l, char *buf, size_t cap);
void rate_included(const struct rate_line *l, char *buf, size_t cap);

#endif
