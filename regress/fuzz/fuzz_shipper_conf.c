/*
 * Fuzz harness for parent/parse.y, the cis490-shipper.conf(5) parser.
 * The input is the configuration file (a memfd, see fuzz_file()).
 *
 * Properties: parse_config() returns 0 or -1 and never exits, however
 * broken the file (a parse error is a message, not fatal()); on -1 the
 * configuration is released (no leak, nothing dangling); it can be
 * called again and again in one process.  An accepted configuration,
 * printed as -nv prints it, parses again, and prints to the same bytes:
 * what the operator sees is what the daemon runs with.  A NUL byte is
 * never taken for the end of the file: a file with one outside a
 * comment (here: with no "#" at all) is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shipper.h"
#include "fuzz.h"

static struct shipper_conf	 conf, again;

static void	 print_conf(FILE *, const void *);

static void
print_conf(FILE *fp, const void *arg)
{
	config_print(fp, arg);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(LOG_MODE_TOOL, 0, "fuzz");
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct shipper_conf	 zero;
	char					*text, *text2;

	if (parse_config(fuzz_file(data, size), &conf, 0) == -1) {
		if (memcmp(&conf, &zero, sizeof(conf)) != 0)
			fuzz_fail("refused configuration not released");
		return (0);
	}
	if (memchr(data, '\0', size) != NULL && memchr(data, '#', size) == NULL)
		fuzz_fail("a file with a NUL byte was accepted");
	text = fuzz_print(print_conf, &conf);
	if (parse_config(fuzz_file(text, strlen(text)), &again, 0) == -1)
		fuzz_fail("the printed configuration does not parse:\n%s",
		    text);
	text2 = fuzz_print(print_conf, &again);
	if (strcmp(text, text2) != 0)
		fuzz_fail("printed twice, the configuration differs:\n%s\n"
		    "--- then ---\n%s", text, text2);
	free(text);
	free(text2);
	config_free(&conf);
	config_free(&again);
	return (0);
}
