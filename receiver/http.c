/*
 * HTTP/1.1 request heads (RFC 9112) and the few field values the API
 * uses: bearer credentials, Repr-Digest (RFC 9530) and RFC 3339 times.
 * Everything here parses bytes from the network: it bounds every copy
 * and rejects rather than guesses.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "server.h"

static int
is_tchar(int c)
{
	return (isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c)
	    != NULL));
}

/* Comma-separated list contains a token, case-insensitively. */
static int
has_token(const char *v, const char *tok)
{
	size_t		 tl = strlen(tok), n;
	const char	*p = v;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ", \t");
		if (n == tl && strncasecmp(p, tok, tl) == 0)
			return (1);
		p += n;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return (0);
}

static int
set_once(const char **dst, const char *v, const char **err)
{
	if (*dst != NULL) {
		*err = "a header field that must appear once is repeated";
		return (-1);
	}
	*dst = v;
	return (0);
}

/*
 * Parse a request head of len bytes (through the empty line) in place.
 * Returns 0, or an HTTP status with *err saying why.
 */
int
http_parse(char *buf, size_t len, struct request *req, const char **err)
{
	char		*line, *next, *end = buf + len, *p, *name, *v, *e;
	char		*sp1, *sp2;
	uint64_t	 n;
	size_t		 l;
	int		 first = 1, keepalive = 0, connclose = 0;

	memset(req, 0, sizeof(*req));
	for (line = buf; line < end; line = next) {
		if ((p = memchr(line, '\n', (size_t)(end - line))) == NULL)
			break;
		next = p + 1;
		if (p > line && p[-1] == '\r')
			p--;
		*p = '\0';
		/*
		 * No control characters but HTAB anywhere in the head: a
		 * bare CR is a line end to some parsers and not to others,
		 * which is how requests get smuggled (RFC 9112 2.2, 5.5).
		 */
		for (e = line; e < p; e++)
			if (((unsigned char)*e < 0x20 && *e != '\t') ||
			    *e == 0x7f) {
				*err = *e == '\r' ? "bare CR in the request "
				    "head" : "control character in the "
				    "request head";
				return (400);
			}
		/* RFC 9112 2.2: empty lines before the request line. */
		if (first && *line == '\0')
			continue;
		if (first) {
			first = 0;
			if ((sp1 = strchr(line, ' ')) == NULL ||
			    (sp2 = strchr(sp1 + 1, ' ')) == NULL ||
			    strchr(sp2 + 1, ' ') != NULL) {
				*err = "malformed request line";
				return (400);
			}
			*sp1 = *sp2 = '\0';
			if ((size_t)(sp1 - line) >= sizeof(req->method) ||
			    sp1 == line) {
				*err = "malformed method";
				return (400);
			}
			for (p = line; *p != '\0'; p++)
				if (!is_tchar((unsigned char)*p)) {
					*err = "malformed method";
					return (400);
				}
			strlcpy(req->method, line, sizeof(req->method));
			req->target = sp1 + 1;
			if (req->target[0] != '/') {
				*err = "the target must be an absolute path";
				return (400);
			}
			for (p = req->target; *p != '\0'; p++) {
				if (*p <= ' ' || *p >= 0x7f) {
					*err = "malformed target";
					return (400);
				}
				/* Nothing is decoded, but it must be valid. */
				if (*p == '%' && (!isxdigit((unsigned char)p[1]) ||
				    !isxdigit((unsigned char)p[2]))) {
					*err = "malformed percent-encoding in "
					    "the target";
					return (400);
				}
			}
			/*
			 * HTTP-version = "HTTP/" DIGIT "." DIGIT.  A later
			 * 1.x is taken as 1.1 (RFC 9110 6.2); another major
			 * version is not spoken.
			 */
			v = sp2 + 1;
			if (strncmp(v, "HTTP/", 5) != 0 ||
			    !isdigit((unsigned char)v[5]) || v[6] != '.' ||
			    !isdigit((unsigned char)v[7]) || v[8] != '\0') {
				*err = "malformed HTTP version";
				return (400);
			}
			if (v[5] != '1') {
				*err = "only HTTP/1.0 and HTTP/1.1 are spoken";
				return (505);
			}
			req->minor = v[7] == '0' ? 0 : 1;
			continue;
		}
		if (*line == '\0')
			break;		/* end of the head */
		if (*line == ' ' || *line == '\t') {
			*err = "obsolete line folding";
			return (400);
		}
		if ((v = strchr(line, ':')) == NULL || v == line) {
			*err = "malformed header field";
			return (400);
		}
		*v++ = '\0';
		name = line;
		for (p = name; *p != '\0'; p++)
			if (!is_tchar((unsigned char)*p)) {
				*err = "malformed header field name";
				return (400);
			}
		while (*v == ' ' || *v == '\t')
			v++;
		l = strlen(v);
		while (l > 0 && (v[l - 1] == ' ' || v[l - 1] == '\t'))
			v[--l] = '\0';

		if (strcasecmp(name, "Content-Length") == 0) {
			if (*v == '\0' || strspn(v, "0123456789") != l ||
			    l > 18) {
				*err = "malformed Content-Length";
				return (400);
			}
			errno = 0;
			n = strtoull(v, &e, 10);
			if (req->has_length && n != req->length) {
				*err = "conflicting Content-Length fields";
				return (400);
			}
			req->has_length = 1;
			req->length = n;
		} else if (strcasecmp(name, "Transfer-Encoding") == 0)
			req->has_te = 1;
		else if (strcasecmp(name, "Connection") == 0) {
			if (has_token(v, "close"))
				connclose = 1;
			if (has_token(v, "keep-alive"))
				keepalive = 1;
		} else if (strcasecmp(name, "Expect") == 0) {
			if (strcasecmp(v, "100-continue") == 0)
				req->expect_continue = 1;
		} else if (strcasecmp(name, "Host") == 0) {
			/* RFC 9112 3.2: more than one is a 400. */
			if (set_once(&req->host, v, err) == -1)
				return (400);
		} else if (strcasecmp(name, "Authorization") == 0) {
			if (set_once(&req->authorization, v, err) == -1)
				return (400);
		} else if (strcasecmp(name, "Repr-Digest") == 0) {
			if (set_once(&req->repr_digest, v, err) == -1)
				return (400);
		} else if (strcasecmp(name, "Episode-Time") == 0) {
			if (set_once(&req->episode_time, v, err) == -1)
				return (400);
		} else if (strcasecmp(name, "Content-Type") == 0) {
			if (set_once(&req->content_type, v, err) == -1)
				return (400);
		}
	}
	if (first) {
		*err = "empty request";
		return (400);
	}
	if (req->minor == 1 && req->host == NULL) {
		*err = "an HTTP/1.1 request without a Host field";
		return (400);
	}
	/* Both framings at once is how requests get smuggled. */
	if (req->has_te && req->has_length) {
		*err = "both Transfer-Encoding and Content-Length";
		return (400);
	}
	req->close = connclose || (req->minor == 0 && !keepalive);
	return (0);
}

const char *
http_reason(int status)
{
	switch (status) {
	case 100: return ("Continue");
	case 200: return ("OK");
	case 201: return ("Created");
	case 400: return ("Bad Request");
	case 401: return ("Unauthorized");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 408: return ("Request Timeout");
	case 409: return ("Conflict");
	case 411: return ("Length Required");
	case 412: return ("Precondition Failed");
	case 413: return ("Content Too Large");
	case 415: return ("Unsupported Media Type");
	case 431: return ("Request Header Fields Too Large");
	case 500: return ("Internal Server Error");
	case 503: return ("Service Unavailable");
	case 505: return ("HTTP Version Not Supported");
	default: return ("Unknown");
	}
}

void
http_fmt_rfc3339(char *buf, size_t len, time_t t)
{
	struct tm	 tm;

	/* By hand: strftime's %Y does not pad a year below 1000 to 4. */
	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

void
http_fmt_date(char *buf, size_t len, time_t t)
{
	static const char	*days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
				    "Fri", "Sat" };
	static const char	*months[] = { "Jan", "Feb", "Mar", "Apr",
				    "May", "Jun", "Jul", "Aug", "Sep", "Oct",
				    "Nov", "Dec" };
	struct tm		 tm;

	/* By hand: strftime's names follow the locale. */
	gmtime_r(&t, &tm);
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * Repr-Digest is a structured-field dictionary; we need its sha-256
 * member: sha-256=:44 base64 characters:.  Other algorithms may be
 * listed beside it and are ignored.
 */
int
http_repr_digest(const char *v, unsigned char *out)
{
	unsigned char	 raw[40];
	const char	*p = v, *b;
	size_t		 n;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ",");
		if (n > 9 && strncmp(p, "sha-256=:", 9) == 0) {
			b = p + 9;
			if (n < 9 + 44 + 1 || b[44] != ':')
				return (-1);
			if (strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
			    "opqrstuvwxyz0123456789+/") != 43 || b[43] != '=')
				return (-1);
			if (EVP_DecodeBlock(raw, (const unsigned char *)b,
			    44) != 33)
				return (-1);
			memcpy(out, raw, 32);
			return (0);
		}
		p += n;
	}
	return (-1);
}

void
http_fmt_digest(char *buf, size_t len, const unsigned char *d)
{
	unsigned char	 b64[64];

	EVP_EncodeBlock(b64, d, 32);
	snprintf(buf, len, "sha-256=:%s:", b64);
}

/* Bytes of s as the inside of a JSON string; returns the length. */
size_t
http_json_string(char *buf, size_t len, const char *s)
{
	size_t	 o = 0;
	int	 n;

	for (; *s != '\0' && o + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			n = snprintf(buf + o, len - o, "\\u%04x", c);
			o += (size_t)n;
		} else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return (o);
}

/* The token of "Authorization: Bearer TOKEN", or NULL. */
const char *
http_bearer(const char *v, size_t *len)
{
	const char	*t;
	size_t		 n;

	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
		return (NULL);
	for (t = v + 7; *t == ' '; t++)
		;
	n = strlen(t);
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--;
	if (n == 0)
		return (NULL);
	*len = n;
	return (t);
}
