/*
 * answers.c: the ring returns the newest answers first and at most its
 * size; counts per class cover the window, all classes apart; bad
 * classes are refused; long details are cut, never overrun.
 */
#include <string.h>

#include <check.h>

#include "shipper.h"
#include "unit.h"

START_TEST(ring_and_counts)
{
	struct ctl_answer	 a[100];
	uint32_t		 counts[CLASS_MAX];
	char			 id[32], detail[DETAIL_MAX * 2];
	size_t			 n;
	int			 i;

	answers_counts(CTL_WINDOW_SHORT, counts);
	for (i = 0; i < CLASS_MAX; i++)
		ck_assert_uint_eq(counts[i], 0);
	ck_assert_uint_eq(answers_recent(a, 100), 0);

	answers_add(CLASS_OUT_OF_WINDOW, 412, "ep-1", "late");
	answers_add(CLASS_OUT_OF_WINDOW, 412, "ep-2", "late");
	answers_add(CLASS_BAD_REQUEST, 400, "ep-3", "not zstd");
	answers_add(CLASS_MAX, 999, "ep-x", "no such class");
	answers_add(-1, 999, "ep-y", "no such class");

	answers_counts(CTL_WINDOW_SHORT, counts);
	ck_assert_uint_eq(counts[CLASS_OUT_OF_WINDOW], 2);
	ck_assert_uint_eq(counts[CLASS_BAD_REQUEST], 1);
	ck_assert_uint_eq(counts[CLASS_STORED], 0);
	answers_counts(CTL_WINDOW_LONG, counts);
	ck_assert_uint_eq(counts[CLASS_OUT_OF_WINDOW], 2);

	n = answers_recent(a, 2);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(a[0].id, "ep-3");
	ck_assert_int_eq(a[0].http_status, 400);
	ck_assert_str_eq(a[1].id, "ep-2");

	/* The ring keeps the last 64; counts keep everything. */
	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "ep-t%d", i);
		answers_add(CLASS_TRANSIENT, 503, id, detail);
	}
	n = answers_recent(a, 100);
	ck_assert_uint_eq(n, 64);
	ck_assert_str_eq(a[0].id, "ep-t199");
	ck_assert_str_eq(a[63].id, "ep-t136");
	ck_assert_uint_eq(strlen(a[0].detail), DETAIL_MAX - 1);
	answers_counts(CTL_WINDOW_SHORT, counts);
	ck_assert_uint_eq(counts[CLASS_TRANSIENT], 200);
	ck_assert_uint_eq(counts[CLASS_OUT_OF_WINDOW], 2);
}
END_TEST

Suite *
answers_suite(void)
{
	Suite	*s = suite_create("answers");
	TCase	*tc = tcase_create("ring");

	tcase_add_test(tc, ring_and_counts);
	suite_add_tcase(s, tc);
	return (s);
}
