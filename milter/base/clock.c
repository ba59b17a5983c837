/*
 * clock.c - wall clock with a fixed-time seam for tests.
 *
 * clock_init runs before any thread starts; afterwards the override is
 * read-only.
 */
#include <stdlib.h>
#include <errno.h>

#include "base/clock.h"

static time_t clock_fixed;	/* 0: real time */

/* clock_init - read AUTHMILTER_TEST_TIME */
void
clock_init(void)
{
	const char *s = getenv("AUTHMILTER_TEST_TIME");
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == 0 && *end == '\0' && v > 0)
		clock_fixed = (time_t)v;
}

/* clock_now - current or fixed time */
time_t
clock_now(void)
{
	return clock_fixed ? clock_fixed : time(NULL);
}

/* clock_seconds - CLOCK_MONOTONIC in seconds */
double
clock_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* clock_ms_since - milliseconds from t0 (CLOCK_MONOTONIC) to now */
long
clock_ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000L +
	    (now.tv_nsec - t0->tv_nsec) / 1000000L;
}
