/*
 * The endpoints of DESIGN §5.  Everything that can be decided from the
 * request head is decided here, before a byte of the body is read (and,
 * with "Expect: 100-continue", before the client sends it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "receiver.h"
#include "server.h"
#include "util.h"

#define EPISODES_PREFIX	"/v1/episodes/"

static int	 authorize(struct conn *, const char *);
static void	 health(struct conn *);
static void	 ping(struct conn *);
static void	 episode(struct conn *, char *);
static void	 put_episode(struct conn *);
static void	 head_episode(struct conn *);
static int	 in_window(struct conn *);

void
api_request(struct conn *c)
{
	struct request	*req = &c->req;
	char		*q;

	/* No endpoint takes a query; it is not part of the resource. */
	if ((q = strchr(req->target, '?')) != NULL)
		*q = '\0';
	if (strcmp(req->target, "/v1/health") == 0)
		health(c);
	else if (strcmp(req->target, "/v1/ping") == 0)
		ping(c);
	else if (strncmp(req->target, EPISODES_PREFIX,
	    strlen(EPISODES_PREFIX)) == 0)
		episode(c, req->target + strlen(EPISODES_PREFIX));
	else
		conn_error(c, 404, "not-found", "no such endpoint; the API "
		    "is under /v1/");
}

/* No token: monitoring must not need a secret.  No secrets either. */
static void
health(struct conn *c)
{
	if (strcmp(c->req.method, "GET") != 0 &&
	    strcmp(c->req.method, "HEAD") != 0) {
		conn_error(c, 405, "method-not-allowed", "use GET");
		return;
	}
	if (server_stopping)
		conn_error(c, 503, "shutting-down", "the receiver is "
		    "stopping");
	else
		conn_respond(c, 200, NULL, "{\"ok\":true}",
		    strcmp(c->req.method, "HEAD") == 0);
}

/*
 * The token must belong to one of the certificate's identities (401
 * otherwise), a URL host must be one of those identities (403), and the
 * token must be that host's.  Returns 0 when the request may go on.
 */
static int
authorize(struct conn *c, const char *host)
{
	const struct token	*t;
	const char		*tok;
	size_t			 len, i;
	int			 match = -1, in_cert = 0;

	if ((tok = http_bearer(c->req.authorization, &len)) == NULL) {
		conn_error(c, 401, "unauthorized", "no \"Authorization: "
		    "Bearer TOKEN\" header");
		return (-1);
	}
	for (i = 0; i < c->nids; i++) {
		if ((t = tokens_find(server_tokens, c->ids[i])) != NULL &&
		    token_matches(t, tok, len) && match == -1)
			match = (int)i;
		if (host != NULL && strcmp(c->ids[i], host) == 0)
			in_cert = 1;
	}
	if (match == -1) {
		conn_error(c, 401, "unauthorized", "the token is not the one "
		    "of the certificate's host in the receiver's tokens "
		    "file");
		return (-1);
	}
	if (host == NULL) {
		c->who = c->ids[match];
		return (0);
	}
	if (!in_cert) {
		conn_error(c, 403, "forbidden", "the client certificate "
		    "is for %s, not for %s", c->ids[match], host);
		return (-1);
	}
	if ((t = tokens_find(server_tokens, host)) == NULL ||
	    !token_matches(t, tok, len)) {
		conn_error(c, 401, "unauthorized", "the token is not the "
		    "one of %s", host);
		return (-1);
	}
	c->who = t->host;
	return (0);
}

static void
ping(struct conn *c)
{
	char	 body[512], host[300], now[32];

	if (strcmp(c->req.method, "POST") != 0) {
		conn_error(c, 405, "method-not-allowed", "use POST");
		return;
	}
	if (authorize(c, NULL) == -1)
		return;
	http_json_string(host, sizeof(host), c->who);
	http_fmt_rfc3339(now, sizeof(now), time(NULL));
	snprintf(body, sizeof(body), "{\"ok\":true,\"host\":\"%s\","
	    "\"time\":\"%s\"}", host, now);
	conn_respond(c, 200, NULL, body, 0);
}

static void
episode(struct conn *c, char *rest)
{
	char	*slash;

	if (strcmp(c->req.method, "PUT") != 0 &&
	    strcmp(c->req.method, "HEAD") != 0) {
		conn_error(c, 405, "method-not-allowed", "use PUT or HEAD");
		return;
	}
	if ((slash = strchr(rest, '/')) == NULL) {
		conn_error(c, 404, "not-found", "the path is "
		    "/v1/episodes/HOST/ID");
		return;
	}
	*slash = '\0';
	if (authorize(c, rest) == -1)
		return;
	if (!valid_id(slash + 1)) {
		conn_error(c, 400, "bad-id", "episode ids are "
		    "[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
		return;
	}
	strlcpy(c->host, rest, sizeof(c->host));
	strlcpy(c->id, slash + 1, sizeof(c->id));
	if (strcmp(c->req.method, "HEAD") == 0)
		head_episode(c);
	else
		put_episode(c);
}

static void
head_episode(struct conn *c)
{
	unsigned char	 d[32];
	uint64_t	 size;
	char		 hdr[200], dg[80];

	switch (store_lookup(c->host, c->id, d, &size)) {
	case 1:
		http_fmt_digest(dg, sizeof(dg), d);
		snprintf(hdr, sizeof(hdr), "Repr-Digest: %s\r\n"
		    "Content-Type: application/zstd\r\n"
		    "Content-Length: %" PRIu64 "\r\n", dg, size);
		conn_respond(c, 200, hdr, NULL, 1);
		break;
	case 0:
		conn_error(c, 404, "not-found", "%s/%s is not stored",
		    c->host, c->id);
		break;
	default:
		conn_error(c, 500, "internal", "cannot read %s/%s", c->host,
		    c->id);
		break;
	}
}

static int
in_window(struct conn *c)
{
	time_t	 t, now = time(NULL);
	char	 a[32], b[32];

	if (c->req.episode_time == NULL ||
	    parse_rfc3339(c->req.episode_time, &t) == -1) {
		conn_error(c, 400, "bad-episode-time", "missing or malformed "
		    "Episode-Time (RFC 3339, e.g. 2026-01-02T03:04:05Z)");
		return (0);
	}
	if (t < now - server_conf->window_past ||
	    t > now + server_conf->window_future) {
		fmt_duration(a, sizeof(a), server_conf->window_past);
		fmt_duration(b, sizeof(b), server_conf->window_future);
		conn_error(c, 412, "out-of-window", "Episode-Time %s is "
		    "outside the accept window (%s past, %s future); check "
		    "the lab host's clock", log_esc(c->req.episode_time),
		    a, b);
		return (0);
	}
	return (1);
}

static void
put_episode(struct conn *c)
{
	struct request	*req = &c->req;
	unsigned char	 have[32];
	uint64_t	 size;
	char		 a[32], hdr[160], dg[80];

	if (!req->has_length) {
		conn_error(c, 411, "length-required", "send the archive with "
		    "a Content-Length, not chunked");
		return;
	}
	if (req->length > server_conf->max_body_size) {
		fmt_size(a, sizeof(a), server_conf->max_body_size);
		conn_error(c, 413, "too-large", "%" PRIu64 " bytes is more "
		    "than max-body-size %s", req->length, a);
		return;
	}
	if (req->repr_digest == NULL ||
	    http_repr_digest(req->repr_digest, c->digest) == -1) {
		conn_error(c, 400, "bad-digest", "missing or malformed "
		    "Repr-Digest (sha-256=:BASE64:)");
		return;
	}
	/* A stored copy answers first: a late retry still retires. */
	switch (store_lookup(c->host, c->id, have, &size)) {
	case 1:
		if (memcmp(have, c->digest, sizeof(have)) == 0) {
			http_fmt_digest(dg, sizeof(dg), have);
			snprintf(hdr, sizeof(hdr), "Repr-Digest: %s\r\n", dg);
			conn_respond(c, 200, hdr,
			    "{\"ok\":true,\"duplicate\":true}", 0);
		} else
			conn_error(c, 409, "conflict", "%s/%s is already "
			    "stored with another digest", c->host, c->id);
		return;
	case 0:
		break;
	default:
		conn_error(c, 500, "internal", "cannot read %s/%s", c->host,
		    c->id);
		return;
	}
	if (!in_window(c))
		return;
	/*
	 * A full storage passes (space is freed, a disk added): 503 and
	 * Retry-After, so the client backs off and keeps the episode.
	 */
	if (!store_room(req->length, &size)) {
		fmt_size(a, sizeof(a), size);
		log_warnx("storage full: %s free, %s/%s (%" PRIu64 " bytes) "
		    "refused for now", a, c->host, c->id, req->length);
		conn_error(c, 503, "storage-full", "the receiver's storage "
		    "is full; retry later");
		return;
	}
	if ((c->up = store_begin(c->host, c->id)) == NULL) {
		if (store_full(errno))
			conn_error(c, 503, "storage-full", "the receiver's "
			    "storage is full; retry later");
		else
			conn_error(c, 500, "internal", "cannot create a temp "
			    "file");
		return;
	}
	c->body_left = req->length;
	c->state = CONN_BODY;
	if (req->expect_continue)
		conn_continue(c);
}

void
api_body_done(struct conn *c)
{
	struct store_upload	*up = c->up;
	char			 hdr[160], dg[80];

	c->up = NULL;
	http_fmt_digest(dg, sizeof(dg), c->digest);
	snprintf(hdr, sizeof(hdr), "Repr-Digest: %s\r\n", dg);
	switch (store_commit(up, c->digest)) {
	case STORE_CREATED:
		log_info("stored %s/%s (%" PRIu64 " bytes, %s)", c->host,
		    c->id, c->bytes_in, dg);
		conn_respond(c, 201, hdr, "{\"ok\":true}", 0);
		break;
	case STORE_DUPLICATE:
		conn_respond(c, 200, hdr, "{\"ok\":true,\"duplicate\":true}",
		    0);
		break;
	case STORE_CONFLICT:
		conn_error(c, 409, "conflict", "%s/%s is already stored with "
		    "another digest", c->host, c->id);
		break;
	case STORE_DIGEST_MISMATCH:
		conn_error(c, 400, "digest-mismatch", "the body does not "
		    "match its Repr-Digest");
		break;
	case STORE_NOT_ZSTD:
		conn_error(c, 400, "not-zstd", "the body is not a zstd "
		    "frame");
		break;
	case STORE_FULL:
		conn_error(c, 503, "storage-full", "the receiver's storage "
		    "is full; retry later");
		break;
	default:
		conn_error(c, 500, "internal", "the archive could not be "
		    "stored; see the receiver's log");
		break;
	}
}
