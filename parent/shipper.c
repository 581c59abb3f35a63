/*
 * cis490-shipper: entry point.  One binary for every process: the parent
 * re-executes itself with -P NAME for each child, and main() dispatches
 * on that name before anything else happens.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "shipper.h"

static const char *const proc_names[PROC_MAX] = {
	[PROC_PARENT] = "parent",
	[PROC_SCANNER] = "scanner",
	[PROC_PACKER] = "packer",
	[PROC_UPLOADER] = "uploader",
};

static void	 usage(void) __attribute__((noreturn));
static int	 requeue(const char *, int, char **);
static int	 doctor(const char *, const char *, int, char **);

const char *
proc_name(enum shipper_proc p)
{
	if (p >= PROC_MAX)
		return ("unknown");
	return (proc_names[p]);
}

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-dnv] [-f file] [-s socket] [once | ping]\n"
	    "       %s [-f file] [-s socket] status\n"
	    "       %s [-f file] [-s socket] doctor [-j]\n"
	    "       %s [-f file] requeue [--reason reason] [id ...]\n",
	    SHIPPER_NAME, SHIPPER_NAME, SHIPPER_NAME, SHIPPER_NAME);
	exit(1);
}

/* requeue [--reason reason] [id ...]: at least one of the two. */
static int
requeue(const char *conffile, int argc, char **argv)
{
	struct shipper_conf	 conf;
	const char		*reason = NULL;
	int			 ch, rv;

	static const struct option	 longopts[] = {
		{ "reason",	required_argument,	NULL,	'r' },
		{ NULL,		0,			NULL,	0 }
	};

	optind = 1;
	while ((ch = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			reason = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 && reason == NULL)
		usage();
	log_init(LOG_MODE_TOOL, 0, SHIPPER_NAME);
	if (parse_config(conffile, &conf, 0) == -1)
		return (1);
	rv = requeue_main(&conf, reason, argc, argv);
	config_free(&conf);
	return (rv);
}

/* doctor [-j] */
static int
doctor(const char *conffile, const char *ctlpath, int argc, char **argv)
{
	int	 ch, json = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "j")) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		default:
			usage();
		}
	}
	if (argc != optind)
		usage();
	log_init(LOG_MODE_TOOL, 0, SHIPPER_NAME);
	return (doctor_main(conffile, ctlpath, json));
}

int
main(int argc, char *argv[])
{
	struct shipper_conf	 conf;
	const char		*conffile = SHIPPER_CONF, *pname = NULL;
	const char		*ctlpath = SHIPPER_CONTROL_SOCKET;
	int			 ch, debug = 0, noaction = 0, verbose = 0;
	enum shipper_proc	 p;
	enum shipper_mode	 mode = MODE_DAEMON;

	/* "+": options end at the mode; its own options follow it. */
	while ((ch = getopt(argc, argv, "+df:nP:s:v")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			noaction = 1;
			break;
		case 'P':
			pname = optarg;
			break;
		case 's':
			ctlpath = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc >= 1 && strcmp(argv[0], "requeue") == 0)
		return (requeue(conffile, argc, argv));
	if (argc == 1 && strcmp(argv[0], "status") == 0) {
		log_init(LOG_MODE_TOOL, verbose, SHIPPER_NAME);
		return (status_main(conffile, ctlpath));
	}
	if (argc >= 1 && strcmp(argv[0], "doctor") == 0)
		return (doctor(conffile, ctlpath, argc, argv));
	if (argc > 1)
		usage();
	if (argc == 1) {
		if (strcmp(argv[0], "once") == 0)
			mode = MODE_ONCE;
		else if (strcmp(argv[0], "ping") == 0)
			mode = MODE_PING;
		else
			usage();
		/* Run from a terminal or a script: no journal prefixes. */
		debug = 1;
	}

	if (pname != NULL) {
		for (p = PROC_SCANNER; p < PROC_MAX; p++)
			if (strcmp(pname, proc_names[p]) == 0)
				break;
		if (p == PROC_MAX)
			fatalx("unknown process name %s", log_esc(pname));
		log_init(debug ? LOG_MODE_STDERR : LOG_MODE_JOURNAL, verbose,
		    pname);
		/*
		 * The file was checked by the parent a moment ago; a child
		 * that cannot read it again ends the daemon, which is right.
		 */
		if (parse_config(conffile, &conf, 0) == -1)
			fatalx("cannot read %s again", conffile);
		switch (p) {
		case PROC_SCANNER:
			scanner_main(&conf);
		case PROC_PACKER:
			packer_main(&conf);
		case PROC_UPLOADER:
			uploader_main(&conf);
		default:
			fatalx("unknown process");
		}
	}

	if (noaction) {
		log_init(LOG_MODE_TOOL, verbose, SHIPPER_NAME);
		if (parse_config(conffile, &conf, CONF_CHECK_FILES) == -1)
			exit(1);
		if (verbose)
			config_print(stdout, &conf);
		if (fflush(stdout) == EOF || ferror(stdout))
			fatal("stdout");
		fprintf(stderr, "configuration OK\n");
		config_free(&conf);
		exit(0);
	}

	log_init(debug ? LOG_MODE_STDERR : LOG_MODE_JOURNAL, verbose,
	    proc_name(PROC_PARENT));
	if (parse_config(conffile, &conf, CONF_CHECK_FILES) == -1)
		exit(1);
	return (parent_main(conffile, ctlpath, &conf, debug, verbose, mode));
}
