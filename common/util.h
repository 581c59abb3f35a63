/*
 * Small helpers shared by the shipper and the receiver.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* [A-Za-z0-9][A-Za-z0-9._-]{0,127}: episode and host ids (DESIGN §3). */
int	 valid_id(const char *);

/*
 * Refuse a secret (key, token) that group or others may access, as ssh
 * does.  Returns 0 when fine, -1 with a message in errbuf otherwise
 * (including when the file cannot be stat'd).
 */
int	 check_secret_file(const char *, char *, size_t);

/* RFC 3339 date-time to seconds; 0, or -1 when it is not one. */
int	 parse_rfc3339(const char *, time_t *);

/*
 * Test hook for the crash-matrix tests: when CIS490_CRASHPOINT names
 * this point, the process stops itself (SIGSTOP) here, so a test can
 * SIGKILL it, or another process, at exactly this step of an episode's
 * life cycle.  Unset, as in production, it costs one comparison.
 */
void	 crashpoint(const char *);

/* For people: "12.3 MiB", "3h12m" (negative: "-"), into BUF. */
const char	*fmt_bytes(uint64_t, char *, size_t);
const char	*fmt_age(int64_t, char *, size_t);

#endif /* UTIL_H */
