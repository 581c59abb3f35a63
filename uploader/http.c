/*
 * The uploader's HTTP client: PUT and HEAD of archives and POST /v1/ping
 * against cis490-receiver (DESIGN §5), with libcurl.
 *
 * One easy handle lives as long as the process: curl_easy_reset() before
 * each request drops the options but keeps the connection cache and the
 * TLS session cache, so consecutive uploads reuse one TLS connection.
 *
 * Key material is handed to libcurl as memory blobs, and CURLOPT_CAINFO
 * and CURLOPT_CAPATH are cleared so libcurl does not fall back to the
 * system bundle: the uploader runs chrooted and must open no file.
 *
 * Timeouts: connecting (TCP and TLS) may take connect_timeout (at most
 * CONNECT_TIMEOUT); after that there is no overall limit, since a large
 * archive on a slow link may take hours, only a stall limit: less than
 * LOW_SPEED_LIMIT bytes/s for low_speed_time seconds (default 60, half
 * the daemon's default stall-timeout, so curl gives up and reports a
 * transient error well before the watchdog would call the uploader
 * wedged; a short stall-timeout shortens both).  HEAD and ping are
 * small and also get SMALL_TIMEOUT overall.
 *
 * Redirects are never followed (the bearer token must not travel to
 * another server), only https is allowed, and proxies from the
 * environment are ignored: the receiver is reached directly.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "log.h"
#include "uploader/classify.h"
#include "uploader/http.h"

#define CONNECT_TIMEOUT		15	/* s, TCP + TLS handshake */
#define LOW_SPEED_LIMIT		1	/* bytes/s ... */
#define HTTP_LOW_SPEED_TIME	60	/* ... for this many seconds */
#define SMALL_TIMEOUT		30	/* s, whole HEAD or ping */
#define EXPECT_TIMEOUT_MS	5000	/* wait for "100 Continue" */
#define BODY_MAX		4096	/* reply bodies kept, the rest dropped */
#define HDR_MAX			256	/* header values kept */
#define USER_AGENT		"cis490-shipper"

struct http {
	CURL			*curl;
	struct http_config	 conf;
	char			*base;		/* url without trailing '/' */
	char			 auth[1024];	/* the Authorization header */
	char			 errbuf[CURL_ERROR_SIZE];
	/*
	 * The parent resolves the receiver's name (the sandbox has no
	 * /etc/hosts and no resolver thread): set, libcurl is given only
	 * these addresses, and without them no request is made.
	 */
	int			 resolve_set;
	struct curl_slist	*resolve;	/* "host:port:addr,..." */
	char			 resolve_err[256];
};

/* One request's state, seen by the callbacks. */
struct xfer {
	/* the body we send */
	int			 fd;
	uint64_t		 off;
	uint64_t		 size;
	int			 read_errno;
	int			 short_file;
	http_progress_cb	 progress;
	void			*arg;
	int			 stopped;
	/* what we receive */
	char			 body[BODY_MAX];
	size_t			 blen;
	char			 date[HDR_MAX];
	char			 retry_after[HDR_MAX];
	char			 digest[HDR_MAX];
};

static void	 http_prepare(struct http *, struct xfer *, const char *,
		    struct curl_slist *, long);
static struct curl_slist *slist_add(struct curl_slist *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static size_t	 cb_header(char *, size_t, size_t, void *);
static size_t	 cb_write(char *, size_t, size_t, void *);
static size_t	 cb_read(char *, size_t, size_t, void *);
static int	 cb_seek(void *, curl_off_t, int);
static int	 cb_xferinfo(void *, curl_off_t, curl_off_t, curl_off_t,
		    curl_off_t);
static int	 http_head(struct http *, const char *, const char *,
		    struct xfer *, struct upload_result *);
static void	 http_put(struct http *, const struct upload_job *, int,
		    const char *, const char *, struct xfer *,
		    struct upload_result *);
static void	 fill_result(struct http *, struct xfer *, CURLcode, long,
		    struct upload_result *);
static void	 transport_detail(struct http *, CURLcode, char *, size_t);
static void	 error_detail(const struct xfer *, long, char *, size_t);
static enum ping_step ping_step_of(struct http *, CURLcode);
static int	 no_reply(struct http *);
static void	 setopt_fail(CURLcode, const char *) __attribute__((noreturn));

#define SETOPT(c, o, v) do {						\
	CURLcode	 rc_ = curl_easy_setopt((c), (o), (v));		\
	if (rc_ != CURLE_OK)						\
		setopt_fail(rc_, #o);					\
} while (0)

static void
setopt_fail(CURLcode rc, const char *opt)
{
	fatalx("libcurl refuses %s: %s (libcurl with OpenSSL, 7.77 or "
	    "later, is needed)", opt, curl_easy_strerror(rc));
}

struct http *
http_new(const struct http_config *conf)
{
	struct http	*h;
	size_t		 n;
	const char	*p;

	if (strncasecmp(conf->url, "https://", 8) != 0)
		fatalx("receiver URL %s is not https://", log_esc(conf->url));
	for (p = conf->token; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			fatalx("the bearer token holds a space or control "
			    "character: check the token file");
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatal("http_new");
	h->conf = *conf;
	if (h->conf.low_speed_time == 0)
		h->conf.low_speed_time = HTTP_LOW_SPEED_TIME;
	if (h->conf.connect_timeout <= 0 ||
	    h->conf.connect_timeout > CONNECT_TIMEOUT)
		h->conf.connect_timeout = CONNECT_TIMEOUT;
	if (h->conf.head_threshold == 0)
		h->conf.head_threshold = HTTP_HEAD_THRESHOLD;
	if ((h->base = strdup(conf->url)) == NULL)
		fatal("http_new");
	n = strlen(h->base);
	while (n > 0 && h->base[n - 1] == '/')
		h->base[--n] = '\0';
	if ((size_t)snprintf(h->auth, sizeof(h->auth),
	    "Authorization: Bearer %s", conf->token) >= sizeof(h->auth))
		fatalx("the bearer token is too long (%zu bytes)",
		    strlen(conf->token));
	if ((h->curl = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed");
	return (h);
}

int
http_url_hostport(const char *url, char *host, size_t hostlen, int *port)
{
	const char	*p, *end, *colon;
	size_t		 n;
	long		 v;
	char		*ep;

	if (strncasecmp(url, "https://", 8) != 0)
		return (-1);
	p = url + 8;
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', end - p) != NULL)
		return (-1);
	if (*p == '[') {
		if ((colon = memchr(p, ']', end - p)) == NULL)
			return (-1);
		n = colon - p - 1;
		p++;
		colon++;
		if (colon != end && *colon != ':')
			return (-1);
	} else {
		colon = memchr(p, ':', end - p);
		n = (colon != NULL ? colon : end) - p;
	}
	if (n == 0 || n >= hostlen)
		return (-1);
	memcpy(host, p, n);
	host[n] = '\0';
	*port = 443;
	if (colon != NULL && colon != end) {
		errno = 0;
		v = strtol(colon + 1, &ep, 10);
		if (ep != end || errno != 0 || v < 1 || v > 65535)
			return (-1);
		*port = (int)v;
	}
	return (0);
}

/* A literal address needs no resolving; libcurl makes no thread for it. */
static int
host_is_literal(const struct http *h)
{
	char		 host[256];
	unsigned char	 a[16];
	int		 port;

	if (http_url_hostport(h->base, host, sizeof(host), &port) == -1)
		return (0);
	return (inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1);
}

void
http_set_resolve(struct http *h, const char *entry, const char *err)
{
	curl_slist_free_all(h->resolve);
	h->resolve = NULL;
	h->resolve_set = 1;
	h->resolve_err[0] = '\0';
	if (entry != NULL && entry[0] != '\0') {
		if ((h->resolve = curl_slist_append(NULL, entry)) == NULL)
			fatalx("curl_slist_append: out of memory");
	} else
		strlcpy(h->resolve_err, err != NULL ? err : "not resolved",
		    sizeof(h->resolve_err));
}

/* No address for the receiver: say why, make no request. */
static const char *
unresolved(const struct http *h)
{
	if (!h->resolve_set || h->resolve != NULL || host_is_literal(h))
		return (NULL);
	return (h->resolve_err);
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	curl_slist_free_all(h->resolve);
	curl_easy_cleanup(h->curl);
	explicit_bzero(h->auth, sizeof(h->auth));
	free(h->base);
	free(h);
}

static struct curl_slist *
slist_add(struct curl_slist *l, const char *fmt, ...)
{
	struct curl_slist	*n;
	va_list			 ap;
	char			 buf[1024];

	va_start(ap, fmt);
	if ((size_t)vsnprintf(buf, sizeof(buf), fmt, ap) >= sizeof(buf)) {
		va_end(ap);
		fatalx("request header too long: %s", log_esc(buf));
	}
	va_end(ap);
	if ((n = curl_slist_append(l, buf)) == NULL)
		fatalx("curl_slist_append: out of memory");
	return (n);
}

/* The options every request has; the caller adds its method. */
static void
http_prepare(struct http *h, struct xfer *x, const char *url,
    struct curl_slist *hdrs, long timeout)
{
	struct curl_blob	 ca, cert, key;
	CURL			*c = h->curl;

	curl_easy_reset(c);
	h->errbuf[0] = '\0';

	ca.data = (void *)(uintptr_t)h->conf.ca;
	ca.len = h->conf.ca_len;
	ca.flags = CURL_BLOB_NOCOPY;
	cert.data = (void *)(uintptr_t)h->conf.cert;
	cert.len = h->conf.cert_len;
	cert.flags = CURL_BLOB_NOCOPY;
	key.data = (void *)(uintptr_t)h->conf.key;
	key.len = h->conf.key_len;
	key.flags = CURL_BLOB_NOCOPY;

	SETOPT(c, CURLOPT_URL, url);
	if (h->resolve != NULL)
		SETOPT(c, CURLOPT_RESOLVE, h->resolve);
	SETOPT(c, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(c, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(c, CURLOPT_PROXY, "");
	SETOPT(c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(c, CURLOPT_USERAGENT, USER_AGENT);
	SETOPT(c, CURLOPT_ERRORBUFFER, h->errbuf);

	SETOPT(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(c, CURLOPT_CAINFO, NULL);
	SETOPT(c, CURLOPT_CAPATH, NULL);
	SETOPT(c, CURLOPT_CAINFO_BLOB, &ca);
	SETOPT(c, CURLOPT_SSLCERTTYPE, "PEM");
	SETOPT(c, CURLOPT_SSLCERT_BLOB, &cert);
	SETOPT(c, CURLOPT_SSLKEYTYPE, "PEM");
	SETOPT(c, CURLOPT_SSLKEY_BLOB, &key);

	SETOPT(c, CURLOPT_CONNECTTIMEOUT, h->conf.connect_timeout);
	SETOPT(c, CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED_LIMIT);
	SETOPT(c, CURLOPT_LOW_SPEED_TIME, h->conf.low_speed_time);
	SETOPT(c, CURLOPT_TIMEOUT, timeout);
	SETOPT(c, CURLOPT_TCP_KEEPALIVE, 1L);

	SETOPT(c, CURLOPT_HTTPHEADER, hdrs);
	SETOPT(c, CURLOPT_HEADERFUNCTION, cb_header);
	SETOPT(c, CURLOPT_HEADERDATA, x);
	SETOPT(c, CURLOPT_WRITEFUNCTION, cb_write);
	SETOPT(c, CURLOPT_WRITEDATA, x);
}

/* Keep the reply headers we use; a new status line starts afresh. */
static size_t
cb_header(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n, vlen;
	const char	*v;
	char		*dst;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		x->date[0] = x->retry_after[0] = x->digest[0] = '\0';
		x->blen = 0;
		return (len);
	}
	if ((v = memchr(buf, ':', len)) == NULL)
		return (len);
	if ((size_t)(v - buf) == 4 && strncasecmp(buf, "Date", 4) == 0)
		dst = x->date;
	else if ((size_t)(v - buf) == 11 &&
	    strncasecmp(buf, "Retry-After", 11) == 0)
		dst = x->retry_after;
	else if ((size_t)(v - buf) == 11 &&
	    strncasecmp(buf, "Repr-Digest", 11) == 0)
		dst = x->digest;
	else
		return (len);
	for (v++; v < buf + len && (*v == ' ' || *v == '\t'); v++)
		;
	vlen = buf + len - v;
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
	    v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (vlen >= HDR_MAX)
		vlen = HDR_MAX - 1;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
	return (len);
}

static size_t
cb_write(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n, room;

	room = sizeof(x->body) - 1 - x->blen;
	if (len < room)
		room = len;
	memcpy(x->body + x->blen, buf, room);
	x->blen += room;
	x->body[x->blen] = '\0';
	return (len);
}

static size_t
cb_read(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 want = size * n;
	ssize_t		 r;

	if (x->off >= x->size)
		return (0);
	if (want > x->size - x->off)
		want = x->size - x->off;
	do
		r = pread(x->fd, buf, want, (off_t)x->off);
	while (r == -1 && errno == EINTR);
	if (r == -1) {
		x->read_errno = errno;
		return (CURL_READFUNC_ABORT);
	}
	if (r == 0) {
		/* Sending less than Content-Length would hang the request. */
		x->short_file = 1;
		return (CURL_READFUNC_ABORT);
	}
	x->off += r;
	return (r);
}

/* libcurl rewinds when it must resend the body (a reused connection). */
static int
cb_seek(void *arg, curl_off_t off, int whence)
{
	struct xfer	*x = arg;

	if (whence != SEEK_SET || off < 0 || (uint64_t)off > x->size)
		return (CURL_SEEKFUNC_CANTSEEK);
	x->off = off;
	return (CURL_SEEKFUNC_OK);
}

static int
cb_xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer	*x = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	if (x->progress == NULL)
		return (0);
	if (x->progress(x->arg, ulnow < 0 ? 0 : (uint64_t)ulnow,
	    x->size) != 0) {
		x->stopped = 1;
		return (1);
	}
	return (0);
}

void
http_upload(struct http *h, const struct upload_job *job, int fd,
    http_progress_cb progress, void *arg, struct upload_result *res)
{
	struct xfer	*x;
	struct stat	 st;
	char		 b64[64], *url;
	const char	*why;

	memset(res, 0, sizeof(*res));
	strlcpy(res->id, job->id, sizeof(res->id));
	res->action = ACTION_RETRY;
	res->class = CLASS_TRANSIENT;
	if ((why = unresolved(h)) != NULL) {
		snprintf(res->detail, sizeof(res->detail), "cannot resolve "
		    "the receiver's name: %s", why);
		return;
	}

	/* A spool file that is not what was recorded is a local problem. */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != job->size) {
		snprintf(res->detail, sizeof(res->detail), "spool archive of "
		    "episode %s is not the %" PRIu64 " bytes recorded "
		    "(%lld): it will be packed again", job->id, job->size,
		    (long long)st.st_size);
		return;
	}

	EVP_EncodeBlock((unsigned char *)b64, job->digest,
	    sizeof(job->digest));
	if (asprintf(&url, "%s/v1/episodes/%s/%s", h->base, h->conf.host,
	    job->id) == -1)
		fatal("asprintf");
	if ((x = calloc(1, sizeof(*x))) == NULL)
		fatal("http_upload");
	x->fd = fd;
	x->size = job->size;
	x->progress = progress;
	x->arg = arg;

	if (job->size < h->conf.head_threshold ||
	    http_head(h, url, b64, x, res) == 0)
		http_put(h, job, fd, url, b64, x, res);
	free(url);
	free(x);
}

/*
 * HEAD before a large PUT: an archive the receiver already holds is not
 * sent again.  Returns 0 when the PUT should follow, 1 when res says all.
 */
static int
http_head(struct http *h, const char *url, const char *b64, struct xfer *x,
    struct upload_result *res)
{
	struct curl_slist	*hdrs;
	CURLcode		 rc;
	long			 status = 0;
	char			 have[HDR_MAX];
	struct answer		 a;

	hdrs = slist_add(NULL, "%s", h->auth);
	http_prepare(h, x, url, hdrs, SMALL_TIMEOUT);
	SETOPT(h->curl, CURLOPT_NOBODY, 1L);
	SETOPT(h->curl, CURLOPT_NOPROGRESS, 0L);
	SETOPT(h->curl, CURLOPT_XFERINFOFUNCTION, cb_xferinfo);
	SETOPT(h->curl, CURLOPT_XFERINFODATA, x);
	rc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);

	if (rc != CURLE_OK) {
		/* The PUT would meet the same broken link or server. */
		fill_result(h, x, rc, 0, res);
		return (1);
	}
	if (status == 200 &&
	    repr_digest_sha256(x->digest, have, sizeof(have)) == 0) {
		res->http_status = status;
		if (strcmp(have, b64) == 0) {
			res->action = ACTION_RETIRE;
			res->class = CLASS_STORED;
			snprintf(res->detail, sizeof(res->detail),
			    "already stored (HEAD), not sent again");
		} else {
			res->action = ACTION_QUARANTINE;
			res->class = CLASS_CONFLICT;
			snprintf(res->detail, sizeof(res->detail),
			    "the receiver holds other bytes under this id "
			    "(sha-256 %s, ours %s)", log_esc(have), b64);
		}
		return (1);
	}
	/*
	 * Our credentials, or a busy receiver, answer the PUT the same way:
	 * stop here.  Anything else (404 not stored, 200 without a digest,
	 * an odd status) lets the PUT decide; a HEAD never quarantines.
	 */
	a = classify_answer(status, rc);
	if (a.action == ACTION_PAUSE || status == 408 || status == 429 ||
	    status >= 500) {
		fill_result(h, x, rc, status, res);
		return (1);
	}
	return (0);
}

static void
http_put(struct http *h, const struct upload_job *job, int fd,
    const char *url, const char *b64, struct xfer *x,
    struct upload_result *res)
{
	struct curl_slist	*hdrs;
	CURLcode		 rc;
	long			 status = 0;
	struct tm		 tm;
	time_t			 t;
	char			 etime[32];

	t = (time_t)job->episode_time;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(etime, sizeof(etime), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(etime, "1970-01-01T00:00:00Z", sizeof(etime));
	hdrs = slist_add(NULL, "%s", h->auth);
	hdrs = slist_add(hdrs, "Content-Type: application/zstd");
	hdrs = slist_add(hdrs, "Repr-Digest: sha-256=:%s:", b64);
	hdrs = slist_add(hdrs, "Episode-Time: %s", etime);
	hdrs = slist_add(hdrs, "Expect: 100-continue");

	x->fd = fd;
	x->off = 0;
	http_prepare(h, x, url, hdrs, 0L);
	SETOPT(h->curl, CURLOPT_UPLOAD, 1L);
	SETOPT(h->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)job->size);
	SETOPT(h->curl, CURLOPT_READFUNCTION, cb_read);
	SETOPT(h->curl, CURLOPT_READDATA, x);
	SETOPT(h->curl, CURLOPT_SEEKFUNCTION, cb_seek);
	SETOPT(h->curl, CURLOPT_SEEKDATA, x);
	SETOPT(h->curl, CURLOPT_EXPECT_100_TIMEOUT_MS,
	    (long)EXPECT_TIMEOUT_MS);
	SETOPT(h->curl, CURLOPT_NOPROGRESS, 0L);
	SETOPT(h->curl, CURLOPT_XFERINFOFUNCTION, cb_xferinfo);
	SETOPT(h->curl, CURLOPT_XFERINFODATA, x);
	if (h->conf.max_rate > 0)
		SETOPT(h->curl, CURLOPT_MAX_SEND_SPEED_LARGE,
		    (curl_off_t)(h->conf.max_rate > INT64_MAX ? INT64_MAX :
		    h->conf.max_rate));
	rc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	fill_result(h, x, rc, status, res);
}

/* The answer's action, class, Retry-After and a one-line detail. */
static void
fill_result(struct http *h, struct xfer *x, CURLcode rc, long status,
    struct upload_result *res)
{
	struct answer	 a;

	/*
	 * A final status below 200 is none: the exchange ended after an
	 * interim "100 Continue".
	 */
	if (status < 200)
		status = 0;
	a = classify_answer(status, rc);
	res->http_status = status;
	res->action = a.action;
	res->class = a.class;
	res->retry_after = status != 0 ?
	    parse_retry_after(x->retry_after, time(NULL)) : 0;

	if (x->stopped)
		snprintf(res->detail, sizeof(res->detail), "stopped after "
		    "%" PRIu64 " of %" PRIu64 " bytes: the daemon is "
		    "stopping", x->off, x->size);
	else if (x->read_errno != 0)
		snprintf(res->detail, sizeof(res->detail), "cannot read the "
		    "spool archive: %s; it will be packed again",
		    strerror(x->read_errno));
	else if (x->short_file)
		snprintf(res->detail, sizeof(res->detail), "the spool archive "
		    "ends after %" PRIu64 " of %" PRIu64 " bytes; it will be "
		    "packed again", x->off, x->size);
	else if (status == 0)
		transport_detail(h, rc, res->detail, sizeof(res->detail));
	else if (status == 200)
		strlcpy(res->detail, "already stored", sizeof(res->detail));
	else if (status == 201)
		strlcpy(res->detail, "stored", sizeof(res->detail));
	else
		error_detail(x, status, res->detail, sizeof(res->detail));
}

/* "HTTP 412 out-of-window: Episode-Time ..." from the JSON error body. */
static void
error_detail(const struct xfer *x, long status, char *buf, size_t len)
{
	char	 err[64], det[DETAIL_MAX];

	if (json_get_string(x->body, x->blen, "error", err, sizeof(err)) ==
	    -1)
		strlcpy(err, "(no error body)", sizeof(err));
	if (json_get_string(x->body, x->blen, "detail", det, sizeof(det)) ==
	    -1)
		det[0] = '\0';
	snprintf(buf, len, "HTTP %ld %s%s%s", status, log_esc(err),
	    det[0] != '\0' ? ": " : "", log_esc(det));
}

/* libcurl's own words, and OpenSSL's reason when verification failed. */
static void
transport_detail(struct http *h, CURLcode rc, char *buf, size_t len)
{
	const char	*ip = NULL;
	long		 verify = 0, port = 0;
	int		 n;

	n = snprintf(buf, len, "%s", h->errbuf[0] != '\0' ?
	    log_esc(h->errbuf) : curl_easy_strerror(rc));
	if (n < 0 || (size_t)n >= len)
		return;
	if (rc == CURLE_COULDNT_CONNECT &&
	    curl_easy_getinfo(h->curl, CURLINFO_PRIMARY_IP, &ip) ==
	    CURLE_OK && ip != NULL && *ip != '\0' &&
	    strstr(buf, ip) == NULL) {
		curl_easy_getinfo(h->curl, CURLINFO_PRIMARY_PORT, &port);
		n += snprintf(buf + n, len - n, " (address %s port %ld)",
		    log_esc(ip), port);
		if ((size_t)n >= len)
			return;
	}
	if (curl_easy_getinfo(h->curl, CURLINFO_SSL_VERIFYRESULT, &verify) ==
	    CURLE_OK && verify != X509_V_OK &&
	    verify != X509_V_ERR_UNSPECIFIED &&	/* never got that far */
	    strstr(buf, X509_verify_cert_error_string(verify)) == NULL)
		snprintf(buf + n, len - n, "; certificate verification: %s",
		    X509_verify_cert_error_string(verify));
}

/*
 * The connection broke before any byte of a reply.  A TLS 1.3 server
 * that refuses our certificate does so after the client has finished its
 * side of the handshake: it sends an alert and closes, and the client
 * sees only a failed send or receive.
 */
static int
no_reply(struct http *h)
{
	long	 hsize = 0;

	curl_easy_getinfo(h->curl, CURLINFO_HEADER_SIZE, &hsize);
	return (hsize == 0);
}

/* Which step of a ping failed. */
static enum ping_step
ping_step_of(struct http *h, CURLcode rc)
{
	curl_off_t	 tconn = 0, tapp = 0;

	curl_easy_getinfo(h->curl, CURLINFO_CONNECT_TIME_T, &tconn);
	curl_easy_getinfo(h->curl, CURLINFO_APPCONNECT_TIME_T, &tapp);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return (PING_RESOLVE);
	case CURLE_COULDNT_CONNECT:
		return (PING_CONNECT);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return (PING_TLS);
	case CURLE_OPERATION_TIMEDOUT:
		if (tconn == 0)
			return (PING_CONNECT);
		return (tapp == 0 ? PING_TLS : PING_HTTP);
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		if (tapp == 0 || no_reply(h))
			return (PING_TLS);
		return (PING_HTTP);
	default:
		return (PING_HTTP);
	}
}

void
http_ping(struct http *h, struct ping_result *res)
{
	struct curl_slist	*hdrs;
	struct xfer		*x;
	CURLcode		 rc;
	long			 status = 0;
	char			*url, t[64];
	time_t			 v;
	const char		*why;

	memset(res, 0, sizeof(*res));
	if ((why = unresolved(h)) != NULL) {
		res->step = PING_RESOLVE;
		snprintf(res->detail, sizeof(res->detail), "cannot resolve "
		    "the receiver's name: %s", why);
		return;
	}
	if (asprintf(&url, "%s/v1/ping", h->base) == -1)
		fatal("asprintf");
	if ((x = calloc(1, sizeof(*x))) == NULL)
		fatal("http_ping");
	hdrs = slist_add(NULL, "%s", h->auth);
	http_prepare(h, x, url, hdrs, SMALL_TIMEOUT);
	SETOPT(h->curl, CURLOPT_POST, 1L);
	SETOPT(h->curl, CURLOPT_POSTFIELDS, "");
	SETOPT(h->curl, CURLOPT_POSTFIELDSIZE, 0L);
	rc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	free(url);

	if (x->date[0] != '\0' && (v = curl_getdate(x->date, NULL)) != -1)
		res->date_header = v;
	if (rc != CURLE_OK || status < 200) {
		res->step = ping_step_of(h, rc);
		transport_detail(h, rc, res->detail, sizeof(res->detail));
		if (res->step == PING_TLS && (rc == CURLE_RECV_ERROR ||
		    rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING))
			strlcat(res->detail, "; the receiver closed the "
			    "connection after the TLS handshake: it probably "
			    "refused our certificate (is it signed by the "
			    "receiver's CA, and not expired?)",
			    sizeof(res->detail));
	} else if (status != 200) {
		res->step = PING_HTTP;
		res->http_status = status;
		error_detail(x, status, res->detail, sizeof(res->detail));
	} else {
		res->step = PING_OK;
		res->http_status = status;
		if (json_get_string(x->body, x->blen, "time", t,
		    sizeof(t)) == 0 && parse_rfc3339(t, &v) == 0)
			res->receiver_time = v;
		else
			snprintf(res->detail, sizeof(res->detail), "the "
			    "receiver's answer has no valid \"time\": %s",
			    log_escn(x->body, x->blen));
	}
	free(x);
}
