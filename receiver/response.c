/*
 * Building answers: the status line, the fields every answer carries
 * (Date, for the shipper's clock-skew check; Content-Length; Connection:
 * close when the connection ends), and DESIGN §5's JSON error bodies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "receiver.h"
#include "server.h"

#define USEC	((uint64_t)1000000)

static void
conn_append(struct conn *c, const char *buf, size_t len)
{
	char	*p;

	if ((p = realloc(c->out, c->outlen + len)) == NULL)
		fatal("%s", __func__);
	memcpy(p + c->outlen, buf, len);
	c->out = p;
	c->outlen += len;
}

void
conn_continue(struct conn *c)
{
	static const char	 cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	conn_append(c, cont, sizeof(cont) - 1);
}

/*
 * Queue the response.  A request answered before its body was read
 * ends the connection: the unread body cannot be told from the next
 * request.
 */
void
conn_respond(struct conn *c, int status, const char *headers,
    const char *body, int head_only)
{
	char	 hdr[1024], date[64];
	size_t	 blen = body == NULL ? 0 : strlen(body);
	int	 n;

	if (c->state == CONN_HEADERS && (c->req.has_te ||
	    (c->req.has_length && c->req.length > 0)))
		c->body_unread = 1;
	if (c->body_unread || c->req.close || server_stopping ||
	    status >= 500 || c->overload)
		c->close_after = 1;
	c->status = status;
	http_fmt_date(date, sizeof(date), time(NULL));
	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\nServer: %s\r\n%s", status, http_reason(status),
	    date, RECEIVER_NAME, headers != NULL ? headers : "");
	if (body != NULL)
		n += snprintf(hdr + n, sizeof(hdr) - n, "Content-Type: "
		    "application/json\r\nContent-Length: %zu\r\n", blen);
	else if (headers == NULL || strstr(headers, "Content-Length:") ==
	    NULL)
		n += snprintf(hdr + n, sizeof(hdr) - n,
		    "Content-Length: 0\r\n");
	n += snprintf(hdr + n, sizeof(hdr) - n, "%s\r\n",
	    c->close_after ? "Connection: close\r\n" : "");
	if ((size_t)n >= sizeof(hdr))
		fatalx("response head too long");
	conn_append(c, hdr, (size_t)n);
	if (body != NULL && !head_only)
		conn_append(c, body, blen);
	c->state = CONN_RESPOND;
	c->deadline = server_now() + server_conf->body_timeout * USEC;
}

void
conn_error(struct conn *c, int status, const char *code, const char *fmt,
    ...)
{
	va_list	 ap;
	char	 detail[512], esc[1024], body[1200];

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	http_json_string(esc, sizeof(esc), detail);
	snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":\"%s\"}",
	    code, esc);
	c->note = code;
	conn_respond(c, status, status == 503 ? "Retry-After: 5\r\n" : NULL,
	    body, strcmp(c->req.method, "HEAD") == 0);
}
