/*
 * The control socket (DESIGN §8): the parent answers `status` and
 * `doctor` on a UNIX socket, mode 0660 and the group of "user", so the
 * data owner's group may ask and nobody else.  The file mode is the
 * first gate; SO_PEERCRED is the second, checked on every connection,
 * because a socket's mode is easy to widen by mistake.
 *
 * Clients are small and few: each connection gets an imsg channel with
 * the same framing as the children's, a hello with CTL_PROTO_VERSION,
 * then requests.  Nothing a client sends reaches a child except a ping,
 * which carries no data.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "shipper.h"

#define CTL_MAX_CONNS		16
/* A ping result older than this is not quoted to a client. */
#define CTL_PING_MAX_AGE	600

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	struct imsgev		 iev;
	uid_t			 uid;
	pid_t			 pid;
	int			 hello;
	int			 ping_wait;
	int			 dead;
	sd_event_source		*reap;
};

static struct {
	const struct shipper_conf	*conf;
	sd_event			*ev;
	char				 path[sizeof(((struct sockaddr_un *)0)
					    ->sun_path)];
	int				 fd;
	uid_t				 uid;	/* of "user" */
	gid_t				 gid;
	sd_event_source			*src;
	TAILQ_HEAD(, ctl_conn)		 conns;
	int				 nconns;
	int				 ping_inflight;
	struct ctl_ping			 last_ping;
	int				 have_ping;
} ctl = { .fd = -1 };

static int	 control_accept(sd_event_source *, int, uint32_t, void *);
static void	 control_dispatch(struct imsgev *, struct imsg *);
static void	 control_closed(struct imsgev *);
static int	 control_reap(sd_event_source *, void *);
static int	 control_peer_allowed(uid_t, gid_t);
static void	 control_error(struct ctl_conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

void
control_init(const char *path, const struct shipper_conf *conf, sd_event *ev)
{
	struct sockaddr_un	 sun;
	struct passwd		*pw;
	mode_t			 old;
	char			*slash;
	int			 fd;

	ctl.conf = conf;
	ctl.ev = ev;
	TAILQ_INIT(&ctl.conns);
	if ((pw = getpwnam(conf->user)) != NULL) {
		ctl.uid = pw->pw_uid;
		ctl.gid = pw->pw_gid;
	} else {
		/* Not root and no such account: only our own uid may ask. */
		ctl.uid = geteuid();
		ctl.gid = getegid();
	}

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("control socket %s: path too long", path);
	strlcpy(ctl.path, path, sizeof(ctl.path));

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		fatal("control socket");
	/*
	 * A socket that still answers belongs to a daemon that runs: two
	 * daemons on one data tree would fight over every episode.  One
	 * that does not answer is left over from a crash.
	 */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		fatalx("control socket %s answers: another %s is running; "
		    "stop it first (systemctl stop %s)", path, SHIPPER_NAME,
		    SHIPPER_UNIT);
	close(fd);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		fatal("control socket");
	/*
	 * systemd makes the directory (RuntimeDirectory=); started by
	 * hand, the daemon makes it like systemd would.
	 */
	if ((slash = strrchr(ctl.path, '/')) != NULL && slash != ctl.path) {
		*slash = '\0';
		if (mkdir(ctl.path, 0755) == -1 && errno != EEXIST)
			fatal("control socket: mkdir %s", ctl.path);
		*slash = '/';
	}
	if (unlink(path) == -1 && errno != ENOENT)
		fatal("control socket: unlink %s", path);
	old = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("control socket: bind %s (its directory is made by "
		    "the unit's RuntimeDirectory=)", path);
	umask(old);
	if (geteuid() == 0 && chown(path, 0, ctl.gid) == -1)
		fatal("control socket: chown %s", path);
	if (chmod(path, 0660) == -1)
		fatal("control socket: chmod %s", path);
	if (listen(fd, CTL_MAX_CONNS) == -1)
		fatal("control socket: listen %s", path);
	if (sd_event_add_io(ev, &ctl.src, fd, EPOLLIN, control_accept,
	    NULL) < 0)
		fatalx("control socket: cannot watch %s", path);
	ctl.fd = fd;
	log_debug("control socket %s", path);
}

void
control_cleanup(void)
{
	if (ctl.fd == -1)
		return;
	ctl.src = sd_event_source_disable_unref(ctl.src);
	close(ctl.fd);
	ctl.fd = -1;
	unlink(ctl.path);
}

/*
 * Root, the data owner, and members of its group; the socket's mode
 * says the same, this makes sure of it.
 */
static int
control_peer_allowed(uid_t uid, gid_t gid)
{
	struct passwd	*pw;
	gid_t		 groups[256];
	int		 n = sizeof(groups) / sizeof(*groups), i;

	if (uid == 0 || uid == ctl.uid || gid == ctl.gid)
		return (1);
	if ((pw = getpwuid(uid)) == NULL)
		return (0);
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return (0);
	for (i = 0; i < n; i++)
		if (groups[i] == ctl.gid)
			return (1);
	return (0);
}

static int
control_accept(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct ctl_conn	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 cfd;

	(void)s;
	(void)revents;
	(void)arg;
	if ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("control socket: accept");
		return (0);
	}
	if (ctl.nconns >= CTL_MAX_CONNS) {
		log_warnx("control socket: %d clients already, refusing one",
		    ctl.nconns);
		close(cfd);
		return (0);
	}
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control socket: SO_PEERCRED");
		close(cfd);
		return (0);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal(NULL);
	c->uid = cred.uid;
	c->pid = cred.pid;
	if (imsgev_init(&c->iev, ctl.ev, cfd, "control client",
	    control_dispatch, control_closed, c) == -1)
		fatal("control client");
	TAILQ_INSERT_TAIL(&ctl.conns, c, entry);
	ctl.nconns++;
	if (!control_peer_allowed(cred.uid, cred.gid)) {
		log_warnx("control socket: refused uid %ld (pid %ld): not "
		    "root, %s, or in its group", (long)cred.uid,
		    (long)cred.pid, ctl.conf->user);
		control_error(c, "permission denied: uid %ld is not root, "
		    "%s, or in its group", (long)cred.uid, ctl.conf->user);
	}
	return (0);
}

/* Says why, then answers nothing more; the client hangs up. */
static void
control_error(struct ctl_conn *c, const char *fmt, ...)
{
	char	 msg[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	imsgev_compose(&c->iev, IMSG_CTL_ERROR, 0, -1, msg, strlen(msg) + 1);
	c->dead = 1;
}

/* Freed outside the event that noticed, which may still hold it. */
static void
control_drop(struct ctl_conn *c)
{
	c->dead = 1;
	imsgev_close(&c->iev);
	if (c->reap == NULL &&
	    sd_event_add_defer(ctl.ev, &c->reap, control_reap, c) < 0)
		fatalx("control socket: cannot schedule a cleanup");
}

static int
control_reap(sd_event_source *s, void *arg)
{
	struct ctl_conn	*c = arg;

	(void)s;
	sd_event_source_unref(c->reap);
	TAILQ_REMOVE(&ctl.conns, c, entry);
	ctl.nconns--;
	free(c);
	return (0);
}

static void
control_closed(struct imsgev *iev)
{
	control_drop(iev->data);
}

static void
control_send_ping(struct ctl_conn *c, const struct ctl_ping *p)
{
	imsgev_compose(&c->iev, IMSG_CTL_PING, 0, -1, p, sizeof(*p));
	imsgev_compose(&c->iev, IMSG_CTL_END, 0, -1, NULL, 0);
}

static void
control_ping(struct ctl_conn *c)
{
	struct ctl_status	 st;
	struct ctl_ping		 p;

	pipeline_status(&st);
	/*
	 * The uploader does one thing at a time: behind an upload, a ping
	 * would wait for it to end.  A progressing upload says more about
	 * the receiver than a ping would; quote the last ping for the
	 * clock.  Before the uploader has its credentials, it may not be
	 * asked at all.
	 */
	if (st.upload_id[0] != '\0' || !st.started_children) {
		memset(&p, 0, sizeof(p));
		if (ctl.have_ping && time(NULL) - ctl.last_ping.sent <
		    CTL_PING_MAX_AGE)
			p = ctl.last_ping;
		else
			p.result.step = -1;
		p.fresh = 0;
		control_send_ping(c, &p);
		return;
	}
	c->ping_wait = 1;
	if (!ctl.ping_inflight) {
		ctl.ping_inflight = 1;
		parent_send(PROC_UPLOADER, IMSG_PING, -1, NULL, 0);
	}
}

/* The uploader answered a ping a client asked for. */
void
control_ping_result(const struct ping_result *r)
{
	struct ctl_conn	*c;

	ctl.ping_inflight = 0;
	memset(&ctl.last_ping, 0, sizeof(ctl.last_ping));
	ctl.last_ping.result = *r;
	ctl.last_ping.sent = time(NULL);
	ctl.last_ping.fresh = 1;
	ctl.have_ping = 1;
	TAILQ_FOREACH(c, &ctl.conns, entry) {
		if (!c->ping_wait || c->dead)
			continue;
		c->ping_wait = 0;
		control_send_ping(c, &ctl.last_ping);
	}
}

static void
control_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn		*c = iev->data;
	struct ctl_hello	 hello;
	struct ctl_status	 st;
	struct ctl_answer	 recent[16];
	size_t			 i, n;

	if (c->dead)
		return;
	if (imsg->fd != -1) {
		control_error(c, "descriptors are not accepted");
		return;
	}
	if (!c->hello && imsg->hdr.type != IMSG_CTL_HELLO) {
		control_error(c, "protocol error: no hello");
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_CTL_HELLO:
		if (imsg->hdr.len != IMSG_HEADER_SIZE + sizeof(hello)) {
			control_error(c, "protocol error: bad hello");
			return;
		}
		memcpy(&hello, imsg->data, sizeof(hello));
		if (hello.version != CTL_PROTO_VERSION) {
			control_error(c, "the daemon speaks control protocol "
			    "%u, this client %u: run the %s that belongs to "
			    "the running daemon", CTL_PROTO_VERSION,
			    hello.version, SHIPPER_NAME);
			return;
		}
		c->hello = 1;
		hello.version = CTL_PROTO_VERSION;
		imsgev_compose(iev, IMSG_CTL_HELLO, 0, -1, &hello,
		    sizeof(hello));
		break;
	case IMSG_CTL_STATUS:
		if (imsg->hdr.len != IMSG_HEADER_SIZE)
			goto bad;
		pipeline_status(&st);
		imsgev_compose(iev, IMSG_CTL_STATUS, 0, -1, &st, sizeof(st));
		imsgev_compose(iev, IMSG_CTL_END, 0, -1, NULL, 0);
		break;
	case IMSG_CTL_ANSWERS:
		if (imsg->hdr.len != IMSG_HEADER_SIZE)
			goto bad;
		n = answers_recent(recent, sizeof(recent) / sizeof(*recent));
		for (i = 0; i < n; i++)
			imsgev_compose(iev, IMSG_CTL_ANSWERS, 0, -1,
			    &recent[i], sizeof(recent[i]));
		imsgev_compose(iev, IMSG_CTL_END, 0, -1, NULL, 0);
		break;
	case IMSG_CTL_PING:
		if (imsg->hdr.len != IMSG_HEADER_SIZE)
			goto bad;
		control_ping(c);
		break;
	default:
		goto bad;
	}
	return;
 bad:
	control_error(c, "protocol error: request type %u, size %u",
	    imsg->hdr.type, imsg->hdr.len);
}
