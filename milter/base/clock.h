/*
 * clock.h - the time seam.
 *
 * Everything that stamps or compares a time asks clock_now(). Tests set
 * AUTHMILTER_TEST_TIME (seconds since the epoch) in the environment to fix
 * the clock; it is read once at start-up.
 */
#ifndef AUTHMILTER_CLOCK_H
#define AUTHMILTER_CLOCK_H

#include <time.h>

/* clock_init - read the test clock override, if any; call before threads */
void clock_init(void);
/* clock_now - the current time, or the fixed test time */
time_t clock_now(void);
/* clock_seconds - the monotonic clock in seconds, for how long something took (never the test time) */
double clock_seconds(void);
/* clock_ms_since - milliseconds from t0 (CLOCK_MONOTONIC) to now */
long clock_ms_since(const struct timespec *t0);

#endif
