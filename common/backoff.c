/*
 * Exponential backoff with full jitter, honouring Retry-After.
 *
 * A Retry-After above the cap is clamped to the cap: the cap is the
 * operator's promise of how long an episode may sit idle after a
 * failure, and a misconfigured or hostile server must not stretch it
 * (a "Retry-After: 99999999" would otherwise park the queue for years).
 * Retrying a little early costs one more 429 or 503, which is harmless.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"

static uint64_t	 random_upto(uint64_t);

uint64_t
backoff_sec_to_ms(time_t s)
{
	if (s <= 0)
		return (0);
	if ((uint64_t)s > UINT64_MAX / 1000)
		return (UINT64_MAX);
	return ((uint64_t)s * 1000);
}

void
backoff_init(struct backoff *b, time_t base, time_t cap)
{
	memset(b, 0, sizeof(*b));
	b->base_ms = backoff_sec_to_ms(base);
	b->cap_ms = backoff_sec_to_ms(cap);
}

void
backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}

uint64_t
backoff_ceiling(uint64_t base, uint64_t cap, uint32_t attempt)
{
	/* base << attempt would lose bits (or be undefined) past this. */
	if (attempt >= 64 || base > (cap >> attempt))
		return (cap);
	return (base << attempt);
}

/* Uniform in [0, n], n included; arc4random_uniform() has no bias. */
static uint64_t
random_upto(uint64_t n)
{
	uint64_t	 r, lim;

	if (n < UINT32_MAX)
		return (arc4random_uniform((uint32_t)n + 1));
	if (n == UINT64_MAX) {
		arc4random_buf(&r, sizeof(r));
		return (r);
	}
	/* Rejection sampling over the largest multiple of n + 1. */
	lim = UINT64_MAX - (UINT64_MAX % (n + 1) + 1) % (n + 1);
	do
		arc4random_buf(&r, sizeof(r));
	while (r > lim);
	return (r % (n + 1));
}

uint64_t
backoff_delay(uint64_t base, uint64_t cap, uint32_t attempt,
    time_t retry_after)
{
	uint64_t	 d, floor;

	d = random_upto(backoff_ceiling(base, cap, attempt));
	floor = backoff_sec_to_ms(retry_after);
	if (floor > cap)
		floor = cap;
	return (d > floor ? d : floor);
}

uint64_t
backoff_next(struct backoff *b, time_t retry_after)
{
	uint64_t	 d;

	d = backoff_delay(b->base_ms, b->cap_ms, b->attempt, retry_after);
	if (b->attempt < UINT32_MAX)
		b->attempt++;
	return (d);
}
