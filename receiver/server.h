/*
 * The serving process: connections, requests, and the calls between the
 * event loop (server.c), the HTTP parser (http.c) and the endpoints
 * (api.c).
 */
#ifndef SERVER_H
#define SERVER_H

#include <sys/queue.h>

#include <stdint.h>

#include <systemd/sd-event.h>

#include "receiver.h"

struct tls;
struct store_upload;
struct receiver_conf;
struct tokenlist;

struct request {
	char		 method[16];
	char		*target;		/* into the header buffer */
	int		 minor;			/* HTTP/1.x */
	int		 has_length;
	uint64_t	 length;
	int		 has_te;		/* any Transfer-Encoding */
	int		 expect_continue;
	int		 close;			/* no keep-alive */
	const char	*host;			/* checked only for presence */
	const char	*authorization;
	const char	*repr_digest;
	const char	*episode_time;
	const char	*content_type;
};

enum conn_state {
	CONN_HANDSHAKE,
	CONN_HEADERS,
	CONN_BODY,
	CONN_RESPOND,		/* response being written */
	CONN_LINGER,		/* response sent, draining before close */
	CONN_CLOSE		/* tls_close in progress */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	int			 fd;
	struct tls		*tls;
	sd_event_source		*io;
	sd_event_source		*defer;
	enum conn_state		 state;
	char			 peer[64];	/* address:port */
	char			**ids;		/* certificate identities */
	size_t			 nids;
	int			 overload;	/* answer 503 and close */

	char			*in;		/* header buffer */
	size_t			 inlen;
	size_t			 hdrlen;	/* bytes of the request head */
	struct request		 req;
	int			 have_req;

	char			*out;
	size_t			 outlen;
	size_t			 outoff;
	int			 close_after;

	/* PUT in progress */
	uint64_t		 body_left;
	struct store_upload	*up;
	unsigned char		 digest[32];
	char			 host[ID_MAXLEN + 1];
	char			 id[ID_MAXLEN + 1];

	uint64_t		 deadline;	/* CLOCK_MONOTONIC usec */
	uint64_t		 started;	/* request start, for the log */
	uint64_t		 bytes_in;	/* body bytes of this request */
	uint64_t		 bytes_out;
	int			 status;
	const char		*note;		/* error code, for the log */
	char			 path[256];	/* escaped target, for the log */
	size_t			 inpos;		/* next unconsumed byte of in */
	int			 body_unread;	/* answered before the body */
	const char		*who;		/* identity for the log */
	int			 want;		/* events libtls asked for */

	unsigned char		*rbuf;		/* read from the socket ... */
	size_t			 rpos, rlen;	/* ... not yet taken by libtls */
};

/* server.c */
extern struct receiver_conf	*server_conf;
extern struct tokenlist		*server_tokens;
extern int			 server_stopping;
uint64_t	 server_now(void);

/* response.c */
void		 conn_respond(struct conn *, int, const char *, const char *,
		    int);
void		 conn_error(struct conn *, int, const char *, const char *,
		    ...) __attribute__((format(printf, 4, 5)));
void		 conn_continue(struct conn *);

/* http.c */
int		 http_parse(char *, size_t, struct request *, const char **);
const char	*http_reason(int);
void		 http_fmt_rfc3339(char *, size_t, time_t);
void		 http_fmt_date(char *, size_t, time_t);
int		 http_repr_digest(const char *, unsigned char *);
void		 http_fmt_digest(char *, size_t, const unsigned char *);
size_t		 http_json_string(char *, size_t, const char *);
const char	*http_bearer(const char *, size_t *);

/* api.c */
void		 api_request(struct conn *);
void		 api_body_done(struct conn *);

#endif /* SERVER_H */
