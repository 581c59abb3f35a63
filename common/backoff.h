/*
 * Exponential backoff with full jitter (the "AWS" scheme): the n-th
 * consecutive failure waits a uniformly random time in
 * [0, min(cap, base * 2^n)], so hosts that failed together do not come
 * back together.  A server's Retry-After is a floor, clamped to the cap.
 */
#ifndef BACKOFF_H
#define BACKOFF_H

#include <stdint.h>
#include <time.h>

/*
 * Delays are in milliseconds: jitter in whole seconds would bunch a herd
 * of lab hosts onto a handful of instants, which is what jitter is for
 * avoiding.  base and cap come from the configuration in seconds.
 */
struct backoff {
	uint64_t	 base_ms;
	uint64_t	 cap_ms;
	uint32_t	 attempt;	/* failures in a row, saturating */
};

/* Seconds to milliseconds; negative is 0, huge saturates. */
uint64_t	 backoff_sec_to_ms(time_t);

void		 backoff_init(struct backoff *, time_t, time_t);
void		 backoff_reset(struct backoff *);

/* min(cap, base * 2^attempt), without overflow for any attempt. */
uint64_t	 backoff_ceiling(uint64_t, uint64_t, uint32_t);

/*
 * The delay for one failure: full jitter below the ceiling, but at least
 * retry_after seconds (0: none given) when the server said so, and never
 * more than cap.  Arguments: base_ms, cap_ms, attempt, retry_after.
 */
uint64_t	 backoff_delay(uint64_t, uint64_t, uint32_t, time_t);

/* The delay for the failure just seen; counts it. */
uint64_t	 backoff_next(struct backoff *, time_t);

#endif /* BACKOFF_H */
