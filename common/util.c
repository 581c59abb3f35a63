/*
 * Small helpers shared by the shipper and the receiver.
 */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
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
