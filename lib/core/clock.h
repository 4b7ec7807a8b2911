/* clock.h - the monotonic clock every timing in lmkit reads. */
#ifndef LMKIT_CORE_CLOCK_H
#define LMKIT_CORE_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin: use differences). */
double lm_clock(void);

#endif
