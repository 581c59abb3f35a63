/*
 * The serving process: one sd-event loop over non-blocking libtls
 * connections, so a slow client costs a descriptor and a buffer, never
 * the others' time.  Each connection runs a small state machine
 * (handshake, request head, body, response, linger, close) under a
 * deadline that a periodic sweep enforces: a client that stalls in any
 * state is dropped.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "log.h"
#include "proc.h"
#include "receiver.h"
#include "server.h"

#define USEC			((uint64_t)1000000)
#define SWEEP_USEC		(USEC / 4)
#define LINGER_USEC		(2 * USEC)
#define STOP_GRACE_USEC		(3 * USEC)
/* A sweep this much later than due means the loop was stalled. */
#define STALL_USEC		(USEC / 2)
/* Past max-connections, this many more get a 503; beyond, a close. */
#define OVERLOAD_SLACK		64
/* Body bytes per wakeup, so one fast upload cannot starve the rest. */
#define BODY_BUDGET		(1024 * 1024)
/* What one read(2) of a connection's socket may bring (see below). */
#define RBUF_SIZE		(64 * 1024)
#define RETRY_AFTER		5

struct listener {
	int			 fd;
	sd_event_source		*src;
};

TAILQ_HEAD(connlist, conn);

struct receiver_conf	*server_conf;
struct tokenlist	*server_tokens;
int			 server_stopping;

static sd_event		*ev;
static struct tls	*tls_ctx;
static struct listener	 listeners[MAX_LISTEN];
static int		 nlisteners;
static int		 listeners_paused;
static struct connlist	 conns = TAILQ_HEAD_INITIALIZER(conns);
static int		 nconns;
static struct imsgev	 parent_iev;
static uint64_t		 stop_deadline;
static uint64_t		 last_sweep;
static unsigned char	 bodybuf[65536];

static int	 server_accept(sd_event_source *, int, uint32_t, void *);
static ssize_t	 conn_sock_read(struct tls *, void *, size_t, void *);
static ssize_t	 conn_sock_write(struct tls *, const void *, size_t, void *);
static int	 server_sweep(sd_event_source *, uint64_t, void *);
static int	 server_signal(sd_event_source *,
		    const struct signalfd_siginfo *, void *);
static void	 server_stop(void);
static void	 parent_dispatch(struct imsgev *, struct imsg *);
static void	 parent_closed(struct imsgev *);
static int	 conn_io(sd_event_source *, int, uint32_t, void *);
static int	 conn_defer(sd_event_source *, void *);
static void	 conn_run(struct conn *);
static void	 conn_free(struct conn *, const char *);
static void	 conn_log(struct conn *);
static void	 conn_reset(struct conn *);
static int	 conn_flush(struct conn *);
static int	 conn_read_head(struct conn *);
static int	 conn_read_body(struct conn *);

/*
 * The clock is read afresh, not taken from sd_event_now(): that is the
 * time the loop woke up, which is stale after a long callback (a commit
 * on a slow disk), and deadlines set or judged against it would be off
 * by that much.
 */
uint64_t
server_now(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return ((uint64_t)ts.tv_sec * USEC + (uint64_t)ts.tv_nsec / 1000);
}

void
server_main(struct server_env *env)
{
	struct receiver_conf	*conf = env->conf;
	sd_event_source		*src;
	struct rlimit		 rl;
	int			 rootfd, i, r;

	server_conf = conf;
	server_tokens = env->tokens;
	setproctitle("server");
	log_procname("server");

	/* Only the parent talks to systemd. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		fatal("prctl");
	if (getppid() == 1)
		fatalx("parent gone before the server started");

	if ((rootfd = open(conf->storage_root, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("storage-root %s", conf->storage_root);

	if ((tls_ctx = tls_server()) == NULL)
		fatalx("tls_server");
	if (tls_configure(tls_ctx, env->tls_config) == -1)
		fatalx("TLS configuration: %s", tls_error(tls_ctx));
	tls_config_clear_keys(env->tls_config);
	tls_config_free(env->tls_config);

	/* Enough descriptors for every connection, its upload and slack. */
	rl.rlim_cur = rl.rlim_max = (rlim_t)(conf->max_connections +
	    OVERLOAD_SLACK) * 2 + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 &&
	    (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    rl.rlim_cur < (rlim_t)conf->max_connections * 2))
		log_warnx("cannot raise the descriptor limit; "
		    "max-connections %d may not be reached",
		    conf->max_connections);

	if ((r = sd_event_new(&ev)) < 0) {
		errno = -r;
		fatal("sd_event_new");
	}
	if (sd_event_add_signal(ev, NULL, SIGTERM, server_signal, NULL) < 0 ||
	    sd_event_add_signal(ev, NULL, SIGINT, server_signal, NULL) < 0 ||
	    sd_event_add_signal(ev, NULL, SIGHUP, server_signal, NULL) < 0)
		fatalx("cannot watch signals");
	if (sd_event_add_time_relative(ev, &src, CLOCK_MONOTONIC, SWEEP_USEC,
	    0, server_sweep, NULL) < 0)
		fatalx("cannot add the sweep timer");
	last_sweep = server_now();
	for (i = 0; i < conf->nlisten; i++) {
		listeners[i].fd = conf->listen[i].fd;
		if (sd_event_add_io(ev, &listeners[i].src, listeners[i].fd,
		    EPOLLIN, server_accept, &listeners[i]) < 0)
			fatalx("cannot watch listen socket");
		nlisteners++;
	}
	if (imsgev_init(&parent_iev, ev, env->parent_fd, "parent",
	    parent_dispatch, parent_closed, NULL) == -1)
		fatal("parent channel");

	sandbox_confine(conf->user, rootfd);
	store_init(rootfd);
	store_cleanup_tmp();

	if (imsgev_compose(&parent_iev, IMSG_READY, 0, -1, NULL, 0) == -1)
		fatal("ready");
	log_debug("serving, pid %ld", (long)getpid());

	r = sd_event_loop(ev);
	if (r < 0) {
		errno = -r;
		fatal("event loop");
	}
	tls_free(tls_ctx);
	log_debug("stopped");
	exit(0);
}

static void
parent_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	(void)iev;
	fatalx("unexpected imsg type %u from the parent", imsg->hdr.type);
}

static void
parent_closed(struct imsgev *iev)
{
	(void)iev;
	log_debug("parent closed the channel, exiting");
	sd_event_exit(ev, 0);
}

static int
server_signal(sd_event_source *s, const struct signalfd_siginfo *si,
    void *arg)
{
	(void)s;
	(void)arg;
	if (si->ssi_signo == SIGHUP)
		return (0);
	server_stop();
	return (0);
}

/*
 * Stop accepting, drop idle connections, give the others a moment to
 * finish what they are doing, then go; an unfinished upload leaves
 * nothing behind, so going is always safe.
 */
static void
server_stop(void)
{
	struct conn	*c, *t;
	int		 i;

	if (server_stopping)
		return;
	server_stopping = 1;
	stop_deadline = server_now() + STOP_GRACE_USEC;
	for (i = 0; i < nlisteners; i++) {
		listeners[i].src = sd_event_source_disable_unref(
		    listeners[i].src);
		close(listeners[i].fd);
	}
	nlisteners = 0;
	TAILQ_FOREACH_SAFE(c, &conns, entry, t)
		if (c->state == CONN_HANDSHAKE ||
		    (c->state == CONN_HEADERS && c->inlen == 0))
			conn_free(c, NULL);
	if (nconns == 0)
		sd_event_exit(ev, 0);
}

/*
 * Drop the connections past their deadline.  When this sweep comes much
 * later than due, the loop itself was stalled (a commit waiting on the
 * disk, the process stopped): the clients may have sent everything in
 * time without being read, so every deadline moves by the stall instead
 * of blaming them for it.
 */
static int
server_sweep(sd_event_source *s, uint64_t usec, void *arg)
{
	struct conn	*c, *t;
	uint64_t	 now = server_now(), late = 0;
	int		 i;

	(void)usec;
	(void)arg;
	if (now > last_sweep + SWEEP_USEC + STALL_USEC)
		late = now - last_sweep - SWEEP_USEC;
	last_sweep = now;
	if (late > 0) {
		log_info("the server was stalled for %" PRIu64 ".%03" PRIu64
		    "s; deadlines moved by as much", late / USEC,
		    (late % USEC) / 1000);
		TAILQ_FOREACH(c, &conns, entry)
			c->deadline += late;
		if (server_stopping)
			stop_deadline += late;
	}
	TAILQ_FOREACH_SAFE(c, &conns, entry, t) {
		if (now < c->deadline)
			continue;
		switch (c->state) {
		case CONN_LINGER:
		case CONN_CLOSE:
			conn_free(c, NULL);
			break;
		case CONN_HEADERS:
			conn_free(c, c->inlen == 0 ? NULL :
			    "header-timeout");
			break;
		case CONN_HANDSHAKE:
			log_info("%s: no TLS handshake within %llds, dropped",
			    c->peer, (long long)server_conf->header_timeout);
			conn_free(c, NULL);
			break;
		default:
			conn_free(c, c->state == CONN_BODY ? "body-timeout" :
			    "write-timeout");
			break;
		}
	}
	if (server_stopping && now >= stop_deadline) {
		TAILQ_FOREACH_SAFE(c, &conns, entry, t)
			conn_free(c, "shutdown");
		sd_event_exit(ev, 0);
		return (0);
	}
	if (listeners_paused) {
		listeners_paused = 0;
		for (i = 0; i < nlisteners; i++)
			sd_event_source_set_enabled(listeners[i].src,
			    SD_EVENT_ON);
	}
	sd_event_source_set_time_relative(s, SWEEP_USEC);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return (0);
}

static void
fmt_peer(char *buf, size_t len, const struct sockaddr_storage *ss)
{
	char	 a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	}
}

static int
server_accept(sd_event_source *s, int lfd, uint32_t revents, void *arg)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct conn		*c;
	int			 fd, i;

	(void)s;
	(void)revents;
	(void)arg;
	for (;;) {
		sslen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return (0);
			/* Out of descriptors: breathe until the sweep. */
			log_warn("accept");
			listeners_paused = 1;
			for (i = 0; i < nlisteners; i++)
				sd_event_source_set_enabled(listeners[i].src,
				    SD_EVENT_OFF);
			return (0);
		}
		if (nconns >= server_conf->max_connections + OVERLOAD_SLACK) {
			close(fd);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->in = malloc(server_conf->max_header_size)) == NULL ||
		    (c->rbuf = malloc(RBUF_SIZE)) == NULL) {
			log_warn("accept");
			if (c != NULL) {
				free(c->in);
				free(c);
			}
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = CONN_HANDSHAKE;
		c->who = "-";
		c->overload = nconns >= server_conf->max_connections;
		fmt_peer(c->peer, sizeof(c->peer), &ss);
		c->deadline = server_now() + server_conf->header_timeout * USEC;
		if (tls_accept_cbs(tls_ctx, &c->tls, conn_sock_read,
		    conn_sock_write, c) == -1) {
			log_warnx("%s: %s", c->peer, tls_error(tls_ctx));
			close(fd);
			free(c->rbuf);
			free(c->in);
			free(c);
			continue;
		}
		if (sd_event_add_io(ev, &c->io, fd, EPOLLIN, conn_io,
		    c) < 0) {
			log_warnx("%s: cannot watch the connection", c->peer);
			tls_free(c->tls);
			close(fd);
			free(c->rbuf);
			free(c->in);
			free(c);
			continue;
		}
		TAILQ_INSERT_TAIL(&conns, c, entry);
		nconns++;
		conn_run(c);
	}
}

/*
 * libtls reads a TLS record in two reads, its 5-byte header and then
 * its body, each a read(2) on a plain socket: on a large upload that
 * was a third of the server's time.  These callbacks read up to
 * RBUF_SIZE at once and hand it out from there.  TLS_WANT_POLLIN only
 * when the buffer is empty and the socket has nothing more, so the
 * event loop's wait for EPOLLIN never sleeps on buffered bytes.
 */
static ssize_t
conn_sock_read(struct tls *t, void *buf, size_t len, void *arg)
{
	struct conn	*c = arg;
	ssize_t		 n;

	(void)t;
	if (c->rpos == c->rlen) {
		do
			n = read(c->fd, c->rbuf, RBUF_SIZE);
		while (n == -1 && errno == EINTR);
		if (n == -1)
			return (errno == EAGAIN || errno == EWOULDBLOCK ?
			    TLS_WANT_POLLIN : -1);
		if (n == 0)
			return (0);
		c->rpos = 0;
		c->rlen = (size_t)n;
	}
	if (len > c->rlen - c->rpos)
		len = c->rlen - c->rpos;
	memcpy(buf, c->rbuf + c->rpos, len);
	c->rpos += len;
	return ((ssize_t)len);
}

static ssize_t
conn_sock_write(struct tls *t, const void *buf, size_t len, void *arg)
{
	struct conn	*c = arg;
	ssize_t		 n;

	(void)t;
	do
		n = write(c->fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return (TLS_WANT_POLLOUT);
	return (n);
}

static int
conn_io(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	(void)s;
	(void)fd;
	(void)revents;
	conn_run(arg);
	return (0);
}

static int
conn_defer(sd_event_source *s, void *arg)
{
	(void)s;
	conn_run(arg);
	return (0);
}

/*
 * Drop a connection.  why is non-NULL when a request was under way:
 * it is logged in the access log in place of a status.
 */
static void
conn_free(struct conn *c, const char *why)
{
	if (why != NULL) {
		c->status = 0;
		c->note = why;
		if (c->path[0] == '\0')
			strlcpy(c->path, "-", sizeof(c->path));
		conn_log(c);
	}
	store_abort(c->up);
	TAILQ_REMOVE(&conns, c, entry);
	nconns--;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->defer);
	tls_free(c->tls);
	close(c->fd);
	auth_identity_free(c->ids, c->nids);
	free(c->rbuf);
	free(c->in);
	free(c->out);
	free(c);
	if (server_stopping && nconns == 0)
		sd_event_exit(ev, 0);
}

static void
conn_log(struct conn *c)
{
	uint64_t	 d = server_now() - c->started;
	char		 st[8];

	if (c->status == 0)
		strlcpy(st, "-", sizeof(st));
	else
		snprintf(st, sizeof(st), "%d", c->status);
	log_info("access %s %s %s \"%s\" %s in=%" PRIu64 " out=%" PRIu64
	    " %" PRIu64 ".%03" PRIu64 "s%s%s", c->peer, c->who,
	    c->req.method[0] != '\0' ? c->req.method : "-", c->path, st,
	    c->bytes_in, c->bytes_out, d / USEC, (d % USEC) / 1000,
	    c->note != NULL ? " " : "", c->note != NULL ? c->note : "");
}

/* Ready for the next request on a kept-alive connection. */
static void
conn_reset(struct conn *c)
{
	memmove(c->in, c->in + c->inpos, c->inlen - c->inpos);
	c->inlen -= c->inpos;
	c->inpos = 0;
	c->hdrlen = 0;
	c->have_req = 0;
	memset(&c->req, 0, sizeof(c->req));
	free(c->out);
	c->out = NULL;
	c->outlen = c->outoff = 0;
	c->close_after = 0;
	c->body_unread = 0;
	c->bytes_in = c->bytes_out = 0;
	c->status = 0;
	c->note = NULL;
	c->path[0] = '\0';
	c->state = CONN_HEADERS;
	/*
	 * Bytes of the next request already here (pipelined, or sent
	 * with the last body) start its head: header-timeout, not the
	 * idle timeout, from now.
	 */
	if (c->inlen > 0) {
		c->started = server_now();
		c->deadline = c->started + server_conf->header_timeout * USEC;
	} else {
		c->started = 0;
		c->deadline = server_now() + server_conf->idle_timeout * USEC;
	}
}

/* Returns 1 when everything is written, 0 to wait, -1 to drop. */
static int
conn_flush(struct conn *c)
{
	ssize_t	 n;

	while (c->outoff < c->outlen) {
		n = tls_write(c->tls, c->out + c->outoff,
		    c->outlen - c->outoff);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			c->want = (int)n;
			return (0);
		}
		if (n == -1) {
			log_debug("%s: write: %s", c->peer, tls_error(c->tls));
			return (-1);
		}
		c->outoff += (size_t)n;
		c->bytes_out += (uint64_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->outlen = c->outoff = 0;
	return (1);
}

static char *
find_head_end(char *buf, size_t len)
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

/* Returns 1 when a request was handled, 0 to wait, -1 to drop. */
static int
conn_read_head(struct conn *c)
{
	const char	*err = NULL;
	char		*end;
	ssize_t		 n;
	int		 status;

	while ((end = find_head_end(c->in, c->inlen)) == NULL) {
		if (c->inlen == server_conf->max_header_size) {
			c->started = server_now();
			strlcpy(c->path, "-", sizeof(c->path));
			c->body_unread = 1;
			conn_error(c, 431, "header-too-large", "the request "
			    "head exceeds max-header-size");
			return (1);
		}
		n = tls_read(c->tls, c->in + c->inlen,
		    server_conf->max_header_size - c->inlen);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			c->want = (int)n;
			return (0);
		}
		if (n == -1 || n == 0) {
			if (c->inlen != 0)
				log_info("%s: connection closed inside a "
				    "request head", c->peer);
			return (-1);
		}
		if (c->inlen == 0 && c->started == 0) {
			/* The header timeout runs from the first byte. */
			c->started = server_now();
			c->deadline = c->started +
			    server_conf->header_timeout * USEC;
		}
		c->inlen += (size_t)n;
	}
	if (c->started == 0)
		c->started = server_now();
	c->hdrlen = (size_t)(end - c->in);
	c->inpos = c->hdrlen;
	c->have_req = 1;
	status = http_parse(c->in, c->hdrlen, &c->req, &err);
	if (c->req.target != NULL)
		strlcpy(c->path, log_esc(c->req.target), sizeof(c->path));
	else
		strlcpy(c->path, "-", sizeof(c->path));
	if (status != 0) {
		/* Framing is unknown: nothing after this can be trusted. */
		c->body_unread = 1;
		conn_error(c, status, "bad-request", "%s", err);
		return (1);
	}
	if (c->overload) {
		conn_error(c, 503, "busy", "too many connections; retry "
		    "after %d seconds", RETRY_AFTER);
		return (1);
	}
	api_request(c);
	if (c->state == CONN_HEADERS)
		fatalx("request left unanswered");
	if (c->state == CONN_BODY)
		c->deadline = server_now() + server_conf->body_timeout * USEC;
	return (1);
}

/*
 * Returns 1 when the body is complete, 0 to wait, -1 to drop, -2 when it
 * cannot be written, -3 when the storage is full.
 */
static int
conn_read_body(struct conn *c)
{
	size_t	 want, avail, fill, budget = BODY_BUDGET;
	ssize_t	 n;
	int	 r;

	if (c->outlen > 0 && (r = conn_flush(c)) != 1)
		return (r);		/* 100 Continue still going out */
	avail = c->inlen - c->inpos;
	if (avail > 0 && c->body_left > 0) {
		want = avail < c->body_left ? avail : (size_t)c->body_left;
		if (store_write(c->up, c->in + c->inpos, want) == -1)
			return (store_full(errno) ? -3 : -2);
		c->inpos += want;
		c->body_left -= want;
		c->bytes_in += want;
	}
	while (c->body_left > 0) {
		if (budget == 0) {
			/* Let the others run; come back next iteration. */
			if (c->defer == NULL && sd_event_add_defer(ev,
			    &c->defer, conn_defer, c) < 0)
				return (-1);
			sd_event_source_set_enabled(c->defer,
			    SD_EVENT_ONESHOT);
			c->want = 0;
			return (0);
		}
		want = sizeof(bodybuf);
		if (want > c->body_left)
			want = (size_t)c->body_left;
		/*
		 * tls_read() gives one TLS record (16 KiB) at a time: gather
		 * what has arrived, so the write, the hash and the zstd walk
		 * take it in one piece.
		 */
		for (fill = 0, n = 0; fill < want; fill += (size_t)n) {
			n = tls_read(c->tls, bodybuf + fill, want - fill);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT ||
			    n == -1 || n == 0)
				break;
		}
		if (fill > 0) {
			if (store_write(c->up, bodybuf, fill) == -1)
				return (store_full(errno) ? -3 : -2);
			c->body_left -= (uint64_t)fill;
			c->bytes_in += (uint64_t)fill;
			c->deadline = server_now() +
			    server_conf->body_timeout * USEC;
			budget = fill >= budget ? 0 : budget - fill;
		}
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			c->want = (int)n;
			return (0);
		}
		if (n == -1 || n == 0)
			return (-1);
	}
	return (1);
}

static void
conn_handshake_done(struct conn *c)
{
	if (auth_identity(c->tls, &c->ids, &c->nids) == -1)
		log_warnx("%s: cannot read the client certificate",
		    c->peer);
	if (c->nids > 0)
		c->who = c->ids[0];
	log_debug("%s: TLS %s, client %s", c->peer,
	    tls_conn_version(c->tls), log_esc(c->who));
	c->state = CONN_HEADERS;
	c->deadline = server_now() + server_conf->header_timeout * USEC;
}

static void
conn_run(struct conn *c)
{
	uint32_t	 events;
	int		 r;
	ssize_t		 n;

	for (;;) {
		c->want = 0;
		switch (c->state) {
		case CONN_HANDSHAKE:
			r = tls_handshake(c->tls);
			if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
				c->want = r;
				goto wait;
			}
			if (r == -1) {
				log_info("%s: TLS handshake failed: %s",
				    c->peer, tls_error(c->tls));
				conn_free(c, NULL);
				return;
			}
			conn_handshake_done(c);
			continue;
		case CONN_HEADERS:
			if (server_stopping && c->inlen == 0) {
				conn_free(c, NULL);
				return;
			}
			r = conn_read_head(c);
			if (r == -1) {
				conn_free(c, NULL);
				return;
			}
			if (r == 0)
				goto wait;
			continue;
		case CONN_BODY:
			r = conn_read_body(c);
			if (r == -2) {
				c->body_unread = 1;
				conn_error(c, 500, "internal", "cannot write "
				    "the upload; see the receiver's log");
				continue;
			}
			if (r == -3) {
				/* It passes: 503 with Retry-After. */
				c->body_unread = 1;
				conn_error(c, 503, "storage-full", "the "
				    "receiver's storage is full; retry later");
				continue;
			}
			if (r == -1) {
				conn_free(c, "disconnected");
				return;
			}
			if (r == 0)
				goto wait;
			api_body_done(c);
			continue;
		case CONN_RESPOND:
			r = conn_flush(c);
			if (r == -1) {
				conn_free(c, "disconnected");
				return;
			}
			if (r == 0)
				goto wait;
			conn_log(c);
			if (!c->close_after) {
				conn_reset(c);
				continue;
			}
			c->state = c->body_unread ? CONN_LINGER : CONN_CLOSE;
			c->deadline = server_now() + LINGER_USEC;
			continue;
		case CONN_LINGER:
			/*
			 * Read what the client still sends, so closing does
			 * not reset the connection before it read the answer.
			 */
			n = tls_read(c->tls, bodybuf, sizeof(bodybuf));
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
				c->want = (int)n;
				goto wait;
			}
			if (n > 0) {
				c->bytes_in += (uint64_t)n;
				if (c->bytes_in % BODY_BUDGET <
				    (uint64_t)n) {
					c->want = TLS_WANT_POLLIN;
					goto wait;
				}
				continue;
			}
			c->state = CONN_CLOSE;
			continue;
		case CONN_CLOSE:
			r = tls_close(c->tls);
			if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
				c->want = r;
				goto wait;
			}
			conn_free(c, NULL);
			return;
		}
	}
 wait:
	events = 0;
	if (c->want == TLS_WANT_POLLIN)
		events = EPOLLIN;
	else if (c->want == TLS_WANT_POLLOUT)
		events = EPOLLOUT;
	if (events != 0) {
		sd_event_source_set_io_events(c->io, events);
		sd_event_source_set_enabled(c->io, SD_EVENT_ON);
	} else
		sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
}
