/*
 * Small helpers shared by the shipper and the receiver.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define ID_CHARS	"abcdefghijklmnopqrstuvwxyz" \
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
#define ID_LEN_MAX	128

int
valid_id(const char *s)
{
	size_t	 len;

	if (s == NULL)
		return (0);
	len = strlen(s);
	if (len == 0 || len > ID_LEN_MAX)
		return (0);
	if (strchr("._-", s[0]) != NULL)
		return (0);
	return (strspn(s, ID_CHARS) == len);
}

/*
 * As ssh does for private keys: a secret must be a regular file that
 * neither its group nor others may access, owned by root or by us.
 */
int
check_secret_file(const char *path, char *errbuf, size_t len)
{
	struct stat	 st;
	mode_t		 bad;

	if (stat(path, &st) == -1) {
		snprintf(errbuf, len, "cannot stat %s: %s%s", path,
		    strerror(errno), errno == ENOENT ?
		    "; fix the path or put the file there" : "");
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(errbuf, len, "%s is not a regular file", path);
		return (-1);
	}
	if ((bad = st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(errbuf, len, "permissions %04o on %s are too open: "
		    "%s may access this secret; run: chmod 600 %s",
		    (unsigned int)(st.st_mode & 07777), path,
		    (bad & S_IRWXG) && (bad & S_IRWXO) ?
		    "its group and others" : (bad & S_IRWXG) ?
		    "its group" : "others", path);
		return (-1);
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(errbuf, len, "%s is owned by uid %lu, not by root; "
		    "run: chown root %s", path, (unsigned long)st.st_uid,
		    path);
		return (-1);
	}
	return (0);
}

void
crashpoint(const char *name)
{
	static const char	*want;
	static int		 looked;

	if (!looked) {
		want = getenv("CIS490_CRASHPOINT");
		looked = 1;
	}
	if (want == NULL || strcmp(want, name) != 0)
		return;
	log_info("crash point %s reached: stopping for the test", name);
	/* Once: after SIGCONT the process goes on as if nothing happened. */
	want = NULL;
	raise(SIGSTOP);
}

/* n digits at s as a number, -1 if any is no digit. */
static int
rfc_digits(const char *s, int n)
{
	int	 v = 0;

	while (n-- > 0) {
		if (!isdigit((unsigned char)*s))
			return (-1);
		v = v * 10 + (*s++ - '0');
	}
	return (v);
}

/*
 * RFC 3339 date-time (2026-11-27T10:00:00(.123)?(Z|+01:00)), as both
 * ends of Episode-Time and ping use it.  Strict: an impossible date
 * such as 30 February is refused, not normalised.
 */
int
parse_rfc3339(const char *s, time_t *t)
{
	struct tm	 tm;
	int		 y, mo, d, h, mi, sec, oh, om, sign;
	time_t		 v;

	if (strlen(s) < 20)
		return (-1);
	y = rfc_digits(s, 4);
	mo = rfc_digits(s + 5, 2);
	d = rfc_digits(s + 8, 2);
	h = rfc_digits(s + 11, 2);
	mi = rfc_digits(s + 14, 2);
	sec = rfc_digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 ||
	    s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return (-1);
	s += 19;
	if (*s == '.') {
		if (!isdigit((unsigned char)s[1]))
			return (-1);
		for (s++; isdigit((unsigned char)*s); s++)
			;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		oh = om = sign = 0;
	else if ((*s == '+' || *s == '-') && strlen(s) == 6 && s[3] == ':') {
		sign = *s == '-' ? -1 : 1;
		oh = rfc_digits(s + 1, 2);
		om = rfc_digits(s + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return (-1);
	} else
		return (-1);

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;	/* a leap second */
	if ((v = timegm(&tm)) == -1)
		return (-1);
	/* timegm normalises 31 February to March: refuse that instead. */
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return (-1);
	*t = v - sign * (oh * 3600 + om * 60);
	return (0);
}

const char *
fmt_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double	 v = (double)n;
	size_t	 u = 0;

	if (n < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return (buf);
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(*units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return (buf);
}

const char *
fmt_age(int64_t sec, char *buf, size_t len)
{
	if (sec < 0)
		snprintf(buf, len, "-");
	else if (sec < 120)
		snprintf(buf, len, "%llds", (long long)sec);
	else if (sec < 7200)
		snprintf(buf, len, "%lldm", (long long)sec / 60);
	else if (sec < 2 * 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)sec / 3600,
		    (long long)sec % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)sec / 86400,
		    (long long)sec % 86400 / 3600);
	return (buf);
}
