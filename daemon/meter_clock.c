/* Metering's clock (see meter.h).  Only the test build, compiled with
 * -DVMD_TEST_CLOCK into tests/vmd-testclock, reads the offset: the vmd
 * that is installed bills by the real clock whatever its environment. */
#include "config.h"
#include <stdlib.h>
#include <time.h>
#include "daemon/meter.h"

int64_t meter_now_ms(void)
{
	struct timespec ts;
	int64_t offset = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
#ifdef VMD_TEST_CLOCK
	const char *e = getenv("VMD_TEST_CLOCK_OFFSET");
	offset = e ? atoll(e) : 0;
#endif
	return ((int64_t)ts.tv_sec + offset) * 1000 + ts.tv_nsec / 1000000;
}
