/* qemu-img's progress output and human sizes: pure functions, unit tested
 * (tests/unit/test_qimg). */
#include "config.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/qimg.h"

/* One "(P/100%)" at buf: its percentage and length, or -1. */
static double one(const char *p, const char *end, size_t *n)
{
	static const char tail[] = "/100%)";
	const char *q = p + 1;
	double v = 0, scale = 0;

	if (*p != '(')
		return -1;
	for (; q < end && (isdigit((unsigned char)*q) || *q == '.'); q++) {
		if (*q == '.') {
			if (scale)
				return -1;
			scale = 1;
			continue;
		}
		if (scale)
			v += (*q - '0') * (scale /= 10);
		else
			v = v * 10 + (*q - '0');
	}
	if (q == p + 1 || (size_t)(end - q) < sizeof tail - 1 ||
	    memcmp(q, tail, sizeof tail - 1) || v > 100)
		return -1;
	*n = (size_t)(q - p) + sizeof tail - 1;
	return v;
}

double qimg_parse_progress(const char *buf, size_t len, size_t *used)
{
	const char *end = buf + len;
	double last = -1, v;
	size_t n;

	*used = 0;
	for (const char *p = buf; p < end; p++) {
		if (*p != '(' || (v = one(p, end, &n)) < 0)
			continue;
		last = v;
		p += n - 1;
		*used = (size_t)(p + 1 - buf);
	}
	return last;
}

int64_t qimg_parse_size(const char *s)
{
	static const char units[] = "KMGT";
	char *end;
	unsigned long long n;
	int shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	n = strtoull(s, &end, 10);
	if (*end) {
		const char *u = strchr(units, toupper((unsigned char)*end));
		if (!u || !*u)
			return -1;
		shift = 10 * (int)(u - units + 1);
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
		if (*end)
			return -1;
	}
	if (n > (1ULL << 62) >> shift)
		return -1;
	return (int64_t)(n << shift);
}
