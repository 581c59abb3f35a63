/*
 * backoff: full jitter stays in [0, min(cap, base * 2^n)], grows with
 * the attempt count up to the cap, really varies, survives absurd
 * attempt counts, and honours a clamped Retry-After.
 */
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "backoff.h"
#include "unit.h"

#define BASE	5000ULL		/* DESIGN §6: base 5 s */
#define CAP	600000ULL	/* cap 10 min */
#define SAMPLES	2000

START_TEST(ceiling_doubles_then_caps)
{
	ck_assert_uint_eq(backoff_ceiling(BASE, CAP, 0), 5000);
	ck_assert_uint_eq(backoff_ceiling(BASE, CAP, 1), 10000);
	ck_assert_uint_eq(backoff_ceiling(BASE, CAP, 6), 320000);
	ck_assert_uint_eq(backoff_ceiling(BASE, CAP, 7), CAP);
	ck_assert_uint_eq(backoff_ceiling(BASE, CAP, 8), CAP);
	/* A cap below the base wins. */
	ck_assert_uint_eq(backoff_ceiling(BASE, 1000, 0), 1000);
	ck_assert_uint_eq(backoff_ceiling(0, CAP, 5), 0);
}
END_TEST

START_TEST(ceiling_no_overflow)
{
	uint32_t	 a;

	/* Shifts of 63, 64 and far beyond must neither wrap nor trap. */
	for (a = 30; a < 200; a++)
		ck_assert_uint_eq(backoff_ceiling(BASE, CAP, a), CAP);
	ck_assert_uint_eq(backoff_ceiling(BASE, CAP, UINT32_MAX), CAP);
	ck_assert_uint_eq(backoff_ceiling(1, UINT64_MAX, 63),
	    1ULL << 63);
	ck_assert_uint_eq(backoff_ceiling(1, UINT64_MAX, 64), UINT64_MAX);
	ck_assert_uint_eq(backoff_ceiling(3, UINT64_MAX, 63), UINT64_MAX);
	ck_assert_uint_eq(backoff_ceiling(UINT64_MAX, UINT64_MAX, 1),
	    UINT64_MAX);
}
END_TEST

START_TEST(delay_within_bounds)
{
	uint64_t	 d, ceil, max;
	uint32_t	 a;
	int		 i;

	for (a = 0; a < 40; a++) {
		ceil = backoff_ceiling(BASE, CAP, a);
		max = 0;
		for (i = 0; i < SAMPLES; i++) {
			d = backoff_delay(BASE, CAP, a, 0);
			ck_assert_uint_le(d, ceil);
			ck_assert_uint_le(d, CAP);
			if (d > max)
				max = d;
		}
		/*
		 * Full jitter reaches near its ceiling: the chance that
		 * 2000 uniform draws all stay below 90% is 0.9^2000.
		 */
		ck_assert_uint_ge(max, ceil * 9 / 10);
	}
}
END_TEST

START_TEST(delay_grows_with_attempts)
{
	uint64_t	 sum[9];
	uint32_t	 a;
	int		 i;

	memset(sum, 0, sizeof(sum));
	for (a = 0; a < 9; a++)
		for (i = 0; i < SAMPLES; i++)
			sum[a] += backoff_delay(BASE, CAP, a, 0);
	/* Means double until the cap (attempt 7), then stay. */
	for (a = 1; a < 7; a++)
		ck_assert_uint_gt(sum[a], sum[a - 1] * 3 / 2);
	ck_assert_uint_gt(sum[8], sum[6]);
	ck_assert_uint_lt(sum[8], sum[7] * 5 / 4);
	ck_assert_uint_gt(sum[8], sum[7] * 3 / 4);
}
END_TEST

START_TEST(jitter_varies)
{
	uint64_t	 seen[64];
	uint64_t	 d;
	int		 i, j, nseen = 0;

	for (i = 0; i < 64; i++) {
		d = backoff_delay(BASE, CAP, 3, 0);
		for (j = 0; j < nseen; j++)
			if (seen[j] == d)
				break;
		if (j == nseen)
			seen[nseen++] = d;
	}
	/* 64 draws from 40001 values: a few collisions at most. */
	ck_assert_int_ge(nseen, 56);
}
END_TEST

START_TEST(huge_range_random)
{
	uint64_t	 d, max = 0;
	int		 i;

	/* Above 32 bits the 64-bit path is used; it must still vary. */
	for (i = 0; i < 200; i++) {
		d = backoff_delay(1ULL << 40, UINT64_MAX, 3, 0);
		ck_assert_uint_le(d, 1ULL << 43);
		if (d > max)
			max = d;
	}
	ck_assert_uint_gt(max, 1ULL << 42);
	for (i = 0; i < 10; i++)
		(void)backoff_delay(1, UINT64_MAX, 64, 0);
}
END_TEST

START_TEST(retry_after_honoured)
{
	int	 i;

	/* 120 s from the server beats attempt 0's [0, 5 s]. */
	for (i = 0; i < SAMPLES; i++)
		ck_assert_uint_ge(backoff_delay(BASE, CAP, 0, 120), 120000);
	for (i = 0; i < SAMPLES; i++)
		ck_assert_uint_eq(backoff_delay(BASE, CAP, 0, 120), 120000);
	/* Above the floor, jitter still decides. */
	for (i = 0; i < SAMPLES; i++) {
		uint64_t d = backoff_delay(BASE, CAP, 10, 1);
		ck_assert_uint_ge(d, 1000);
		ck_assert_uint_le(d, CAP);
	}
}
END_TEST

START_TEST(retry_after_clamped)
{
	ck_assert_uint_eq(backoff_delay(BASE, CAP, 0, 601), CAP);
	ck_assert_uint_eq(backoff_delay(BASE, CAP, 0, 99999999), CAP);
	ck_assert_uint_eq(backoff_delay(BASE, CAP, 40, INT64_MAX), CAP);
	ck_assert_uint_le(backoff_delay(BASE, CAP, 0, -5), BASE);
}
END_TEST

START_TEST(state_counts_and_resets)
{
	struct backoff	 b;
	int		 i;

	backoff_init(&b, 5, 600);
	ck_assert_uint_eq(b.base_ms, BASE);
	ck_assert_uint_eq(b.cap_ms, CAP);
	for (i = 0; i < 3; i++)
		ck_assert_uint_le(backoff_next(&b, 0), BASE << i);
	ck_assert_uint_eq(b.attempt, 3);
	backoff_reset(&b);
	ck_assert_uint_eq(b.attempt, 0);
	ck_assert_uint_le(backoff_next(&b, 0), BASE);

	b.attempt = UINT32_MAX;
	ck_assert_uint_le(backoff_next(&b, 0), CAP);
	ck_assert_uint_eq(b.attempt, UINT32_MAX);

	ck_assert_uint_eq(backoff_sec_to_ms(-1), 0);
	ck_assert_uint_eq(backoff_sec_to_ms(INT64_MAX), UINT64_MAX);
}
END_TEST

Suite *
backoff_suite(void)
{
	Suite	*s = suite_create("backoff");
	TCase	*tc = tcase_create("jitter");

	tcase_add_test(tc, ceiling_doubles_then_caps);
	tcase_add_test(tc, ceiling_no_overflow);
	tcase_add_test(tc, delay_within_bounds);
	tcase_add_test(tc, delay_grows_with_attempts);
	tcase_add_test(tc, jitter_varies);
	tcase_add_test(tc, huge_range_random);
	tcase_add_test(tc, retry_after_honoured);
	tcase_add_test(tc, retry_after_clamped);
	tcase_add_test(tc, state_counts_and_resets);
	suite_add_tcase(s, tc);
	return (s);
}
