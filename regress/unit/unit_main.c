/*
 * Runs every unit suite.  CK_FORK=yes (the default, and what
 * `make check-unit` sets) gives each test its own process, so a crash or
 * a leak report fails one test instead of the run.
 */

#include <stdlib.h>

#include <check.h>

#include "unit.h"

/* Add a suite here and declare it in unit.h. */
static Suite *(*const suites[])(void) = {
	imsg_suite,
	log_suite,
	backoff_suite,
	classify_suite,
	tar_suite,
	archive_suite,
	sandbox_suite,
	answers_suite,
};

int
main(void)
{
	SRunner	*sr;
	size_t	 i;
	int	 nfailed;

	sr = srunner_create(suites[0]());
	for (i = 1; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
