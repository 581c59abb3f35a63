/*
 * log_esc: untrusted strings (file names, server replies) reach a log
 * line only escaped, so they cannot forge lines or carry terminal codes.
 */
#include <string.h>

#include <check.h>

#include "log.h"
#include "unit.h"
#include "util.h"

START_TEST(esc_controls)
{
	ck_assert_str_eq(log_esc("a\nb"), "a\\nb");
	ck_assert_str_eq(log_esc("tab\there"), "tab\\there");
	ck_assert_str_eq(log_esc("cr\r"), "cr\\r");
	ck_assert_str_eq(log_esc("\033[31mred"), "\\033[31mred");
	ck_assert_str_eq(log_esc("back\\slash"), "back\\\\slash");
	ck_assert_str_eq(log_esc("plain name-1.2_x"), "plain name-1.2_x");
}
END_TEST

START_TEST(esc_non_ascii)
{
	/* UTF-8 "é" and a stray 0xff byte both become octal escapes. */
	ck_assert_str_eq(log_esc("caf\xc3\xa9"), "caf\\303\\251");
	ck_assert_str_eq(log_esc("\xff"), "\\377");
}
END_TEST

START_TEST(esc_embedded_nul)
{
	ck_assert_str_eq(log_escn("a\0b", 3), "a\\0b");
}
END_TEST

START_TEST(esc_slots)
{
	const char	*a, *b, *c, *d;

	/* One statement may use LOG_ESC_SLOTS escapes at once. */
	a = log_esc("one\n");
	b = log_esc("two\n");
	c = log_esc("three\n");
	d = log_esc("four\n");
	ck_assert_str_eq(a, "one\\n");
	ck_assert_str_eq(b, "two\\n");
	ck_assert_str_eq(c, "three\\n");
	ck_assert_str_eq(d, "four\\n");
}
END_TEST

START_TEST(esc_long_is_cut)
{
	static char	 in[10000];
	const char	*out;

	memset(in, '\n', sizeof(in) - 1);
	out = log_esc(in);
	ck_assert_uint_lt(strlen(out), 2048);
	ck_assert_str_eq(out + strlen(out) - 3, "...");
	ck_assert_ptr_null(strchr(out, '\n'));
}
END_TEST

START_TEST(ids)
{
	char	 long_id[130];

	ck_assert_int_eq(valid_id("ep-2026.11.27_01"), 1);
	ck_assert_int_eq(valid_id("A"), 1);
	ck_assert_int_eq(valid_id(""), 0);
	ck_assert_int_eq(valid_id(".hidden"), 0);
	ck_assert_int_eq(valid_id("-flag"), 0);
	ck_assert_int_eq(valid_id("a/b"), 0);
	ck_assert_int_eq(valid_id(".."), 0);
	ck_assert_int_eq(valid_id("sp ace"), 0);
	ck_assert_int_eq(valid_id("new\nline"), 0);
	memset(long_id, 'a', sizeof(long_id));
	long_id[128] = '\0';
	ck_assert_int_eq(valid_id(long_id), 1);
	long_id[128] = 'a';
	long_id[129] = '\0';
	ck_assert_int_eq(valid_id(long_id), 0);
}
END_TEST

Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("esc");

	tcase_add_test(tc, esc_controls);
	tcase_add_test(tc, esc_non_ascii);
	tcase_add_test(tc, esc_embedded_nul);
	tcase_add_test(tc, esc_slots);
	tcase_add_test(tc, esc_long_is_cut);
	tcase_add_test(tc, ids);
	suite_add_tcase(s, tc);
	return (s);
}
