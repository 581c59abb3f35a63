/*
 * The unit's journal, read with sd-journal when `doctor` cannot ask the
 * daemon (it is down, or the socket is not ours to use).  The parent
 * logs every answer once as "parent: answer CLASS: ID: HTTP N: DETAIL"
 * (pipeline.c); under systemd those lines reach the journal through the
 * unit's stderr stream, with the unit's name and the identifier
 * cis490-shipper.  Lines of other forms are ignored, so the log's other
 * messages may change freely.
 *
 * sd-journal skips the files it may not open without saying so; we
 * look at the journal directories ourselves to tell "no errors" from
 * "not allowed to see them".
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "journal.h"
#include "uploader/classify.h"

#define ANSWER_PREFIX	"parent: answer "

static const char *const journal_dirs[] = {
	"/run/log/journal", "/var/log/journal"
};

/* Count *.journal files below DIR (machine-id subdirectories). */
static void
journal_files(const char *dir, int depth, struct journal_scan *js)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[1024];
	size_t		 len;
	struct stat	 st;

	if ((d = opendir(dir)) == NULL) {
		if (errno == EACCES) {
			js->files++;
			js->unreadable++;
		}
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode) && depth == 0) {
			journal_files(path, depth + 1, js);
			continue;
		}
		len = strlen(de->d_name);
		if (!S_ISREG(st.st_mode) || len < 8 ||
		    strcmp(de->d_name + len - 8, ".journal") != 0)
			continue;
		js->files++;
		if (access(path, R_OK) == -1)
			js->unreadable++;
	}
	closedir(d);
}

/* "parent: answer out-of-window: ep-1: HTTP 412: ..." -> the class. */
static int
answer_line(const char *msg, size_t len)
{
	const char	*p, *end = msg + len;
	size_t		 plen = strlen(ANSWER_PREFIX), n;
	int		 c;

	if (len <= plen || memcmp(msg, ANSWER_PREFIX, plen) != 0)
		return (-1);
	p = msg + plen;
	for (n = 0; p + n < end && p[n] != ':'; n++)
		;
	if (p + n == end)
		return (-1);
	for (c = 0; c < CLASS_MAX; c++)
		if (strlen(answer_class_name(c)) == n &&
		    memcmp(answer_class_name(c), p, n) == 0)
			return (c);
	return (-1);
}

int
journal_recent(time_t window, struct journal_scan *js)
{
	sd_journal	*j;
	const void	*data;
	const char	*msg;
	size_t		 len, i;
	uint64_t	 since;
	int		 r, c;

	memset(js, 0, sizeof(*js));
	for (i = 0; i < sizeof(journal_dirs) / sizeof(*journal_dirs); i++)
		journal_files(journal_dirs[i], 0, js);

	if ((r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY |
	    SD_JOURNAL_SYSTEM)) < 0) {
		snprintf(js->error, sizeof(js->error), "sd_journal_open: %s",
		    strerror(-r));
		return (-1);
	}
	since = (uint64_t)(time(NULL) - window) * 1000000ULL;
	if ((r = sd_journal_add_match(j, "_SYSTEMD_UNIT=" SHIPPER_UNIT, 0)) <
	    0 || (r = sd_journal_add_disjunction(j)) < 0 ||
	    (r = sd_journal_add_match(j, "SYSLOG_IDENTIFIER=" SHIPPER_NAME,
	    0)) < 0 || (r = sd_journal_seek_realtime_usec(j, since)) < 0) {
		snprintf(js->error, sizeof(js->error), "sd-journal: %s",
		    strerror(-r));
		sd_journal_close(j);
		return (-1);
	}
	while ((r = sd_journal_next(j)) > 0) {
		if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0 ||
		    len < 8)
			continue;
		msg = (const char *)data + 8;	/* "MESSAGE=" */
		js->lines++;
		if ((c = answer_line(msg, len - 8)) >= 0)
			js->counts[c]++;
	}
	if (r < 0) {
		snprintf(js->error, sizeof(js->error), "reading the journal: "
		    "%s", strerror(-r));
		sd_journal_close(j);
		return (-1);
	}
	sd_journal_close(j);
	return (0);
}
