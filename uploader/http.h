/*
 * The uploader's HTTP client (DESIGN §5): one libcurl easy handle for the
 * process lifetime, so the TLS connection to the receiver is kept alive
 * between requests, with the key material given as memory blobs and no
 * file ever opened.
 */
#ifndef UPLOADER_HTTP_H
#define UPLOADER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "shipper.h"

/* Archives this large or larger are first asked about with HEAD. */
#define HTTP_HEAD_THRESHOLD	(1024 * 1024)

/*
 * Everything is borrowed: the strings and blobs must stay valid and
 * unchanged for as long as the client lives.
 */
struct http_config {
	const char	*url;		/* https://name[:port] */
	const char	*host;		/* our identity, {host} in paths */
	const char	*token;		/* bearer token, visible ASCII */
	const void	*ca;		/* PEM */
	size_t		 ca_len;
	const void	*cert;		/* PEM */
	size_t		 cert_len;
	const void	*key;		/* PEM */
	size_t		 key_len;
	uint64_t	 max_rate;	/* bytes/s, 0: unlimited */
	long		 low_speed_time;	/* s; 0: HTTP_LOW_SPEED_TIME */
	long		 connect_timeout;	/* s, TCP + TLS; 0 or more
						   than 15: 15 */
	uint64_t	 head_threshold;	/* 0: HTTP_HEAD_THRESHOLD */
};

/*
 * Called at least once a second during an upload, with bytes sent so far
 * and the archive size.  Returning non-zero aborts the transfer (the
 * result is then transient, detail "stopped").
 */
typedef int	(*http_progress_cb)(void *, uint64_t, uint64_t);

struct http;

/* curl_global_init() must have been called; fatal on failure. */
struct http	*http_new(const struct http_config *);
void		 http_free(struct http *);

/*
 * Ship one archive: HEAD (above the threshold), then PUT.  Always fills
 * in res (id, status, action, class, retry_after, detail); never closes
 * fd, which it reads with pread so the file offset does not matter.
 */
void		 http_upload(struct http *, const struct upload_job *, int,
		    http_progress_cb, void *, struct upload_result *);

/*
 * The https:// URL's host (without IPv6 brackets) and port (default
 * 443); -1 when the URL is not of that form.
 */
int		 http_url_hostport(const char *, char *, size_t, int *);

/*
 * From now on libcurl gets only this CURLOPT_RESOLVE entry ("host:port:
 * addr[,addr...]"), resolved by the parent; NULL or "": no address
 * (err says why), so requests fail at once with a resolve error, unless
 * the URL's host is an address.  Without a call, libcurl resolves.
 */
void		 http_set_resolve(struct http *, const char *, const char *);

/* POST /v1/ping: the failing step, or the receiver's clocks. */
void		 http_ping(struct http *, struct ping_result *);

#endif /* UPLOADER_HTTP_H */
