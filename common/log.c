/*
 * Logging: see log.h for the three modes.  Every process writes to the
 * stderr it inherited; under systemd that is the journal stream, and the
 * "<N>" prefix carries the priority, so no process needs a socket to log.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
/* We use strnvisx only, which has one signature everywhere. */
#define LIBBSD_OPENBSD_VIS
#include <vis.h>

#include "log.h"

static enum log_mode	 log_mode = LOG_MODE_STDERR;
static int		 log_verbose;
static char		 log_name[32] = "cis490";
static char		*log_capbuf;
static size_t		 log_caplen;

static void	 vlog(int, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
static void	 logit(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

void
log_init(enum log_mode mode, int verbose, const char *name)
{
	log_mode = mode;
	log_verbose = verbose;
	log_procname(name);
}

void
log_procname(const char *name)
{
	strlcpy(log_name, name, sizeof(log_name));
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

/*
 * Keep the first message in BUF instead of printing anything: `doctor`
 * quotes what the configuration parser says in a row of its own.
 * NULL prints again.
 */
void
log_capture(char *buf, size_t len)
{
	log_capbuf = buf;
	log_caplen = len;
	if (buf != NULL && len > 0)
		buf[0] = '\0';
}

static void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 msg[2048];
	int	 saved_errno = errno;

	/* One write per line, so lines of several processes never mix. */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_capbuf != NULL) {
		if (pri <= LOG_ERR && log_capbuf[0] == '\0')
			strlcpy(log_capbuf, msg, log_caplen);
		errno = saved_errno;
		return;
	}
	switch (log_mode) {
	case LOG_MODE_JOURNAL:
		fprintf(stderr, "<%d>%s: %s\n", pri, log_name, msg);
		break;
	case LOG_MODE_STDERR:
		fprintf(stderr, "%s: %s\n", log_name, msg);
		break;
	case LOG_MODE_TOOL:
		fprintf(stderr, "%s\n", msg);
		break;
	}
	fflush(stderr);
	errno = saved_errno;
}

static void
logit(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

static void
vwarn_errno(int pri, const char *fmt, va_list ap)
{
	char	 msg[1536];
	int	 saved_errno = errno;

	if (fmt == NULL) {
		logit(pri, "%s", strerror(saved_errno));
	} else {
		vsnprintf(msg, sizeof(msg), fmt, ap);
		logit(pri, "%s: %s", msg, strerror(saved_errno));
	}
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vwarn_errno(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose == 0)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vwarn_errno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * Each input byte may become four output bytes ("\ooo"); inputs longer
 * than a slot holds are cut and marked, so a hostile name cannot make a
 * log line unbounded.
 */
#define ESC_SLOT_SIZE	2048

const char *
log_escn(const void *s, size_t len)
{
	static char	 slots[LOG_ESC_SLOTS][ESC_SLOT_SIZE];
	static int	 next;
	char		*out = slots[next];
	size_t		 max = (ESC_SLOT_SIZE - 4) / 4;
	int		 cut = 0;

	next = (next + 1) % LOG_ESC_SLOTS;
	if (s == NULL)
		return ("(null)");
	if (len > max) {
		len = max;
		cut = 1;
	}
	if (strnvisx(out, ESC_SLOT_SIZE - 3, s, len,
	    VIS_CSTYLE | VIS_TAB | VIS_NL | VIS_OCTAL) == -1)
		strlcpy(out, "(unprintable)", ESC_SLOT_SIZE);
	if (cut)
		strlcat(out, "...", ESC_SLOT_SIZE);
	return (out);
}

const char *
log_esc(const char *s)
{
	return (log_escn(s, s == NULL ? 0 : strlen(s)));
}
