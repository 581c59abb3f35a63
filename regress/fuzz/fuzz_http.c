/*
 * Fuzz harness for receiver/http.c: the input is what a client sends on
 * one connection.  Request heads are cut out of it as the server does
 * (find_head_end in receiver/server.c: up to "\n\n" or "\n\r\n") and
 * parsed one after the other, as on a kept-alive connection; the header
 * values the API reads then go through the same helpers api.c uses
 * (http_bearer, http_repr_digest, parse_rfc3339, http_json_string).
 *
 * Properties: the parser answers 0, 400 or 505 and names a reason for
 * every refusal; whatever it accepts is a request line of a token
 * method, an absolute-path target of visible ASCII with valid
 * percent-encoding, and HTTP/1.0 or 1.x taken as 1.1 (with a Host),
 * with every pointer inside the head and NUL-terminated there; never
 * both Content-Length and Transfer-Encoding.  A digest or a time that
 * parses prints back to the same value, and JSON escaping never writes
 * past its buffer nor leaves a control character, quote or backslash
 * unescaped.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "server.h"
#include "util.h"
#include "fuzz.h"

/* Heads per input: a pipelined connection, bounded. */
#define MAX_HEADS	16

static const char	*head_end(const char *, size_t);
static void	 in_head(const char *, const char *, size_t, const char *);
static void	 check_request(const char *, size_t, const struct request *);
static void	 check_values(const struct request *);
static void	 check_json(const char *);

/* The server's find_head_end(), which is static in server.c. */
static const char *
head_end(const char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return (buf + i + 2);
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return (buf + i + 3);
	}
	return (NULL);
}

/* s must point into the head and end with a NUL inside it. */
static void
in_head(const char *what, const char *head, size_t len, const char *s)
{
	if (s == NULL)
		return;
	if (s < head || s >= head + len)
		fuzz_fail("%s points outside the head", what);
	if (memchr(s, '\0', len - (size_t)(s - head)) == NULL)
		fuzz_fail("%s is not NUL-terminated inside the head", what);
}

static void
check_request(const char *head, size_t len, const struct request *req)
{
	const char	*p;
	size_t		 n;

	n = strnlen(req->method, sizeof(req->method));
	if (n == 0 || n == sizeof(req->method))
		fuzz_fail("accepted an empty or unterminated method");
	for (p = req->method; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) &&
		    strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			fuzz_fail("accepted method with byte %#x",
			    (unsigned char)*p);
	in_head("target", head, len, req->target);
	if (req->target == NULL || req->target[0] != '/')
		fuzz_fail("accepted a target that is no absolute path");
	for (p = req->target; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			fuzz_fail("accepted target with byte %#x",
			    (unsigned char)*p);
		if (*p == '%' && (!isxdigit((unsigned char)p[1]) ||
		    !isxdigit((unsigned char)p[2])))
			fuzz_fail("accepted bad percent-encoding");
	}
	if (req->minor != 0 && req->minor != 1)
		fuzz_fail("accepted HTTP/1.%d", req->minor);
	if (req->has_length && req->has_te)
		fuzz_fail("accepted Content-Length with Transfer-Encoding");
	if (req->has_length && req->length > 999999999999999999ULL)
		fuzz_fail("Content-Length %llu has more than 18 digits",
		    (unsigned long long)req->length);
	in_head("Host", head, len, req->host);
	if (req->minor == 1 && req->host == NULL)
		fuzz_fail("accepted HTTP/1.1 without Host");
	in_head("Authorization", head, len, req->authorization);
	in_head("Repr-Digest", head, len, req->repr_digest);
	in_head("Episode-Time", head, len, req->episode_time);
	in_head("Content-Type", head, len, req->content_type);
}

static void
check_json(const char *s)
{
	static const size_t	 sizes[] = { 8, 9, 15, 64, 300 };
	char			*buf;
	size_t			 i, n, k;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* Exactly the size given, so ASan sees any overrun. */
		if ((buf = malloc(sizes[i])) == NULL)
			fuzz_fail("out of memory");
		n = http_json_string(buf, sizes[i], s);
		if (n >= sizes[i] || buf[n] != '\0' || strlen(buf) != n)
			fuzz_fail("http_json_string: %zu bytes in %zu", n,
			    sizes[i]);
		for (k = 0; k < n; k++) {
			if ((unsigned char)buf[k] < 0x20 ||
			    (unsigned char)buf[k] >= 0x7f)
				fuzz_fail("JSON string with byte %#x",
				    (unsigned char)buf[k]);
			/* Escapes are skipped whole below. */
			if (buf[k] == '"')
				fuzz_fail("unescaped quote in JSON string");
			if (buf[k] != '\\')
				continue;
			if (k + 1 < n && (buf[k + 1] == '"' ||
			    buf[k + 1] == '\\')) {
				k++;
				continue;
			}
			if (k + 5 < n && buf[k + 1] == 'u' &&
			    strspn(buf + k + 2, "0123456789abcdef") >= 4) {
				k += 5;
				continue;
			}
			fuzz_fail("stray backslash in JSON string");
		}
		free(buf);
	}
}

static void
check_values(const struct request *req)
{
	unsigned char	 digest[32], again[32];
	char		 buf[128];
	const char	*tok;
	size_t		 len;
	time_t		 t, t2;
	struct tm	 tm;

	if ((tok = http_bearer(req->authorization, &len)) != NULL) {
		if (tok < req->authorization || len == 0 ||
		    len > strlen(tok) || *tok == ' ' ||
		    tok[len - 1] == ' ' || tok[len - 1] == '\t')
			fuzz_fail("http_bearer: bad token bounds");
	}
	if (req->repr_digest != NULL &&
	    http_repr_digest(req->repr_digest, digest) == 0) {
		http_fmt_digest(buf, sizeof(buf), digest);
		if (http_repr_digest(buf, again) != 0 ||
		    memcmp(digest, again, sizeof(digest)) != 0)
			fuzz_fail("Repr-Digest %s does not read back",
			    log_esc(buf));
	}
	/*
	 * An offset can move a time out of RFC 3339's years 0000-9999 in
	 * UTC ("0000-01-01T00:00:00+01:00"); those cannot print back.
	 */
	if (req->episode_time != NULL &&
	    parse_rfc3339(req->episode_time, &t) == 0 &&
	    gmtime_r(&t, &tm) != NULL && tm.tm_year >= -1900 &&
	    tm.tm_year <= 9999 - 1900) {
		http_fmt_rfc3339(buf, sizeof(buf), t);
		if (parse_rfc3339(buf, &t2) != 0 || t2 != t)
			fuzz_fail("Episode-Time %s printed as %s does not "
			    "read back", log_esc(req->episode_time), buf);
	}
	check_json(req->target);
	if (req->authorization != NULL)
		check_json(req->authorization);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request	 req;
	const char	*end, *err;
	char		*buf, *p;
	size_t		 left, hdrlen;
	int		 status, heads;

	/* A private copy: http_parse() writes into the head. */
	if ((buf = malloc(size == 0 ? 1 : size)) == NULL)
		fuzz_fail("out of memory");
	memcpy(buf, data, size);
	p = buf;
	left = size;
	for (heads = 0; heads < MAX_HEADS; heads++) {
		if ((end = head_end(p, left)) == NULL)
			break;
		hdrlen = (size_t)(end - p);
		err = NULL;
		status = http_parse(p, hdrlen, &req, &err);
		/* The server logs the target whatever the outcome. */
		if (req.target != NULL) {
			in_head("target", p, hdrlen, req.target);
			(void)log_esc(req.target);
		}
		if (status != 0) {
			if (status != 400 && status != 505)
				fuzz_fail("http_parse answered %d", status);
			if (err == NULL || *err == '\0')
				fuzz_fail("http_parse answered %d without a "
				    "reason", status);
			if (strcmp(http_reason(status), "Unknown") == 0)
				fuzz_fail("no reason phrase for %d", status);
			/* Framing unknown: the server closes. */
			break;
		}
		check_request(p, hdrlen, &req);
		check_values(&req);
		/* A body would follow; the fuzz input holds none. */
		p += hdrlen;
		left -= hdrlen;
	}
	free(buf);
	return (0);
}
