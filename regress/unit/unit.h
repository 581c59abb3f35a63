/*
 * Suites of the unit test binary.  Each test_*.c file exports one
 * *_suite() function; unit_main.c runs them all.
 */
#ifndef UNIT_H
#define UNIT_H

#include <check.h>

Suite	*imsg_suite(void);
Suite	*log_suite(void);
Suite	*backoff_suite(void);
Suite	*classify_suite(void);
Suite	*tar_suite(void);
Suite	*archive_suite(void);
Suite	*sandbox_suite(void);
Suite	*answers_suite(void);

#endif /* UNIT_H */
