/*
 * Interpreting the receiver's answers.
 *
 * DESIGN §6 lists the statuses the receiver gives.  For anything else the
 * rule is: never quarantine what the table does not name.  Quarantine is
 * for good (an operator must requeue), and an unlisted answer says more
 * about what stands between us and the receiver (a proxy, a wrong URL, a
 * newer or older receiver) than about the episode, so it is retried with
 * backoff: the episode stays where it is, doctor shows the failures as
 * transient, and fixing the setup ships everything.  In detail:
 *
 *  - 2xx other than 200 and 201 (202 Accepted, 204) is NOT taken as
 *    stored: "shipped" means the receiver fsync'd the archive, and only
 *    200/201 promise that.  Retried; a stored copy then answers 200.
 *  - 1xx as a final status, 3xx (we never follow redirects: the bearer
 *    token must not travel elsewhere), and 4xx outside the table (404 from
 *    a misrouted path, 405, 421, 431 ...) are transient.
 *  - Without an HTTP answer every transport error is transient, except
 *    CURLE_SSL_CERTPROBLEM: our own certificate or key could not be used,
 *    which no retry fixes, so it pauses uploads like 401/403 ("our
 *    credentials") and shows red in doctor instead of retrying forever.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "classify.h"

#define JSON_MAX_DEPTH	16

static const char	*json_ws(const char *, const char *);
static const char	*json_str(const char *, const char *, char *, size_t,
			    int *);
static const char	*json_skip(const char *, const char *, int);

struct answer
classify_answer(long status, int code)
{
	struct answer	 a = { ACTION_RETRY, CLASS_TRANSIENT };

	switch (status) {
	case 200:
	case 201:
		a.action = ACTION_RETIRE;
		a.class = CLASS_STORED;
		return (a);
	case 409:
		a.action = ACTION_QUARANTINE;
		a.class = CLASS_CONFLICT;
		return (a);
	case 412:
		a.action = ACTION_QUARANTINE;
		a.class = CLASS_OUT_OF_WINDOW;
		return (a);
	case 400:
	case 411:
		a.action = ACTION_QUARANTINE;
		a.class = CLASS_BAD_REQUEST;
		return (a);
	case 413:
		a.action = ACTION_QUARANTINE;
		a.class = CLASS_TOO_LARGE;
		return (a);
	case 401:
	case 403:
		a.action = ACTION_PAUSE;
		a.class = CLASS_AUTH;
		return (a);
	case 0:
		break;
	default:
		/* 408, 429, 5xx, and whatever the table does not name. */
		return (a);
	}
	if (code == CURLE_SSL_CERTPROBLEM) {
		a.action = ACTION_PAUSE;
		a.class = CLASS_AUTH;
	}
	return (a);
}

const char *
answer_action_name(enum answer_action action)
{
	switch (action) {
	case ACTION_RETIRE:
		return ("retire");
	case ACTION_QUARANTINE:
		return ("quarantine");
	case ACTION_PAUSE:
		return ("pause");
	case ACTION_RETRY:
		return ("retry");
	default:
		break;
	}
	return ("unknown");
}

/* The names doctor and the REASON file use (DESIGN §8). */
const char *
answer_class_name(enum answer_class class)
{
	switch (class) {
	case CLASS_STORED:
		return ("stored");
	case CLASS_CONFLICT:
		return ("conflict");
	case CLASS_OUT_OF_WINDOW:
		return ("out-of-window");
	case CLASS_BAD_REQUEST:
		return ("bad-request");
	case CLASS_TOO_LARGE:
		return ("too-large");
	case CLASS_AUTH:
		return ("auth");
	case CLASS_TRANSIENT:
		return ("transient");
	case CLASS_PACK_FAILED:
		return ("pack-failed");
	default:
		break;
	}
	return ("unknown");
}

time_t
parse_retry_after(const char *v, time_t now)
{
	const char	*p;
	time_t		 t, d;
	size_t		 n;

	if (v == NULL)
		return (0);
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0)
		return (0);
	if (isdigit((unsigned char)v[0])) {
		/* delta-seconds: digits only; saturate long ones. */
		d = 0;
		for (p = v; p < v + n; p++) {
			if (!isdigit((unsigned char)*p))
				return (0);
			if (d < RETRY_AFTER_MAX)
				d = d * 10 + (*p - '0');
		}
		return (d > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : d);
	}
	if ((t = curl_getdate(v, NULL)) == -1 || t <= now)
		return (0);
	d = t - now;
	return (d > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : d);
}

int
repr_digest_sha256(const char *v, char *buf, size_t len)
{
	const char	*p, *e;

	for (p = v; p != NULL && *p != '\0'; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		p += strspn(p, " \t");
		if (strncmp(p, "sha-256=:", 9) != 0)
			continue;
		p += 9;
		if ((e = strchr(p, ':')) == NULL || e == p ||
		    (size_t)(e - p) >= len)
			return (-1);
		memcpy(buf, p, e - p);
		buf[e - p] = '\0';
		return (0);
	}
	return (-1);
}

static const char *
json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	return (p);
}

/*
 * A JSON string starting at p (the quote).  Decoded into buf when buf is
 * not NULL; *cut is set when it did not fit.  Returns the position after
 * the closing quote, NULL when malformed.
 */
static const char *
json_str(const char *p, const char *end, char *buf, size_t len, int *cut)
{
	size_t		 o = 0;
	unsigned int	 u;
	char		 c, hex[5];
	int		 i;

	if (p >= end || *p != '"')
		return (NULL);
	for (p++; p < end && *p != '"'; p++) {
		c = *p;
		if ((unsigned char)c < 0x20)
			return (NULL);
		if (c == '\\') {
			if (++p >= end)
				return (NULL);
			switch (*p) {
			case '"':
			case '\\':
			case '/':
				c = *p;
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				if (end - p < 5)
					return (NULL);
				for (i = 0; i < 4; i++) {
					if (!isxdigit((unsigned char)p[i + 1]))
						return (NULL);
					hex[i] = p[i + 1];
				}
				hex[4] = '\0';
				u = strtoul(hex, NULL, 16);
				p += 4;
				/* A NUL would cut the C string short. */
				if (u == 0)
					return (NULL);
				c = u < 0x80 ? (char)u : '?';
				break;
			default:
				return (NULL);
			}
		}
		if (buf != NULL) {
			if (o + 1 < len)
				buf[o++] = c;
			else if (cut != NULL)
				*cut = 1;
		}
	}
	if (p >= end)
		return (NULL);
	if (buf != NULL && len > 0)
		buf[o] = '\0';
	return (p + 1);
}

/* Skip one JSON value; NULL when malformed or nested too deep. */
static const char *
json_skip(const char *p, const char *end, int depth)
{
	char	 close;

	p = json_ws(p, end);
	if (p >= end || depth > JSON_MAX_DEPTH)
		return (NULL);
	if (*p == '"')
		return (json_str(p, end, NULL, 0, NULL));
	if (*p == '{' || *p == '[') {
		close = *p == '{' ? '}' : ']';
		p = json_ws(p + 1, end);
		if (p < end && *p == close)
			return (p + 1);
		for (;;) {
			if (close == '}') {
				if ((p = json_str(json_ws(p, end), end, NULL,
				    0, NULL)) == NULL)
					return (NULL);
				p = json_ws(p, end);
				if (p >= end || *p != ':')
					return (NULL);
				p++;
			}
			if ((p = json_skip(p, end, depth + 1)) == NULL)
				return (NULL);
			p = json_ws(p, end);
			if (p < end && *p == close)
				return (p + 1);
			if (p >= end || *p != ',')
				return (NULL);
			p++;
		}
	}
	/* Numbers, true, false, null: a run of their characters. */
	if (strchr("-0123456789tfn", *p) == NULL)
		return (NULL);
	while (p < end && (isalnum((unsigned char)*p) || *p == '-' ||
	    *p == '+' || *p == '.'))
		p++;
	return (p);
}

int
json_get_string(const char *body, size_t blen, const char *key, char *buf,
    size_t len)
{
	const char	*p, *end = body + blen;
	char		 name[64];
	int		 cut;

	if (len == 0)
		return (-1);
	p = json_ws(body, end);
	if (p >= end || *p != '{')
		return (-1);
	p = json_ws(p + 1, end);
	if (p < end && *p == '}')
		return (-1);
	for (;;) {
		cut = 0;
		if ((p = json_str(p, end, name, sizeof(name), &cut)) == NULL)
			return (-1);
		p = json_ws(p, end);
		if (p >= end || *p != ':')
			return (-1);
		p = json_ws(p + 1, end);
		if (!cut && strcmp(name, key) == 0) {
			if (p >= end || *p != '"')
				return (-1);
			return (json_str(p, end, buf, len, NULL) == NULL ?
			    -1 : 0);
		}
		if ((p = json_skip(p, end, 1)) == NULL)
			return (-1);
		p = json_ws(p, end);
		if (p >= end || *p != ',')
			return (-1);	/* the end, or garbage */
		p = json_ws(p + 1, end);
	}
}

