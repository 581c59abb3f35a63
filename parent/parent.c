/*
 * The privileged parent: starts the scanner, packer and uploader, each on
 * its own socketpair, checks every imsg they send against its fixed size,
 * and ends the whole daemon when any of them dies.  It never parses
 * untrusted content.  There are no in-process restarts: systemd's
 * Restart=on-failure brings the whole daemon back (DESIGN §2).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "shipper.h"

/* Children get this long to exit after SIGTERM, inside DESIGN's 5 s. */
#define SHUTDOWN_GRACE_USEC	(4 * 1000000ULL)
/* A child whose channel closed gets this long to be reaped. */
#define CLOSED_GRACE_USEC	(1 * 1000000ULL)

struct child {
	enum shipper_proc	 proc;
	pid_t			 pid;
	int			 alive;
	int			 hello;
	struct imsgev		 iev;
	sd_event_source		*exit_src;
};

static struct child	 children[PROC_MAX];
static sd_event		*parent_ev;
static int		 shutting_down;
static int		 exit_code;

static void	 parent_start_child(enum shipper_proc, const char *,
		    const char *, int, int);
static void	 parent_shutdown(int);
static int	 parent_signal(sd_event_source *,
		    const struct signalfd_siginfo *, void *);
static int	 parent_child_exited(sd_event_source *, const siginfo_t *,
		    void *);
static int	 parent_grace_over(sd_event_source *, uint64_t, void *);
static void	 parent_dispatch(struct imsgev *, struct imsg *);
static void	 parent_channel_closed(struct imsgev *);
static int	 parent_closed_grace_over(sd_event_source *, uint64_t,
		    void *);
static void	 parent_check_account(const char *, const char *);

int
parent_main(const char *conffile, const char *ctlpath,
    struct shipper_conf *conf, int debug, int verbose, enum shipper_mode mode)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct imsg_hello	 hello;
	sd_event_source		*src;
	enum shipper_proc	 p;
	size_t			 i;
	int			 r;

	/*
	 * The parent keeps its command line as its title, as OpenBSD's
	 * daemons do; only the children rename themselves.
	 */
	if (geteuid() == 0) {
		parent_check_account("user", conf->user);
		parent_check_account("sandbox-user", conf->sandbox_user);
	} else
		log_info("not started as root: children keep uid %ld, no "
		    "account switching or chroot", (long)geteuid());

	proc_block_signals();
	if ((r = sd_event_new(&parent_ev)) < 0) {
		errno = -r;
		fatal("sd_event_new");
	}
	/*
	 * Signals come before child exits: a SIGTERM to the whole process
	 * group (systemd's stop, ^C) also ends the children, and that is a
	 * stop, not a lost child.
	 */
	for (i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
		if (sd_event_add_signal(parent_ev, &src, sigs[i],
		    parent_signal, NULL) < 0)
			fatalx("cannot watch signal %d", sigs[i]);
		sd_event_source_set_priority(src,
		    SD_EVENT_PRIORITY_IMPORTANT);
	}

	/* `ping` needs only the uploader, and no data tree. */
	if (mode != MODE_PING)
		datatree_create(conf);
	if (mode == MODE_DAEMON) {
		notify_init(conf);
		control_init(ctlpath, conf, parent_ev);
	}
	pipeline_init(conf, parent_ev, mode);
	for (p = PROC_SCANNER; p < PROC_MAX; p++)
		if (mode != MODE_PING || p == PROC_UPLOADER)
			parent_start_child(p, proc_name(p), conffile, debug,
			    verbose);

	memset(&hello, 0, sizeof(hello));
	hello.version = SHIPPER_PROTO_VERSION;
	hello.flags = mode == MODE_ONCE ? HELLO_ONCE : 0;
	for (p = PROC_SCANNER; p < PROC_MAX; p++) {
		if (children[p].pid == 0)
			continue;
		hello.proc = p;
		if (imsgev_compose(&children[p].iev, IMSG_HELLO, 0, -1,
		    &hello, sizeof(hello)) == -1)
			fatal("hello to %s", proc_name(p));
	}

	r = sd_event_loop(parent_ev);
	if (r < 0) {
		errno = -r;
		fatal("event loop");
	}
	control_cleanup();
	sd_event_unref(parent_ev);
	config_free(conf);
	log_info("exiting with status %d", r);
	return (r);
}

/* Fail at start, with the fix, rather than in a child later. */
static void
parent_check_account(const char *keyword, const char *user)
{
	struct passwd	*pw;

	if ((pw = getpwnam(user)) == NULL)
		fatalx("%s %s: no such account; create it with "
		    "systemd-sysusers (see cis490-shipper(8)) or set %s",
		    keyword, log_esc(user), keyword);
	if (pw->pw_uid == 0)
		fatalx("%s %s: is root; name an unprivileged account",
		    keyword, log_esc(user));
}

static void
parent_start_child(enum shipper_proc p, const char *name,
    const char *conffile, int debug, int verbose)
{
	struct child	*c = &children[p];
	char		*argv[16];
	int		 fds[2], argc = 0, i, r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0, fds) == -1)
		fatal("socketpair for %s", name);

	/* execv wants writable strings; these live until the fork is done. */
	if ((argv[argc++] = strdup(SHIPPER_NAME)) == NULL ||
	    (argv[argc++] = strdup("-P")) == NULL ||
	    (argv[argc++] = strdup(name)) == NULL ||
	    (argv[argc++] = strdup("-f")) == NULL ||
	    (argv[argc++] = strdup(conffile)) == NULL ||
	    (debug && (argv[argc++] = strdup("-d")) == NULL))
		fatal("strdup");
	for (i = 0; i < verbose && i < 3; i++)
		if ((argv[argc++] = strdup("-v")) == NULL)
			fatal("strdup");
	argv[argc] = NULL;

	c->proc = p;
	c->pid = proc_spawn(name, fds[1], argv);
	c->alive = 1;
	close(fds[1]);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	if (imsgev_init(&c->iev, parent_ev, fds[0], name, parent_dispatch,
	    parent_channel_closed, c) == -1)
		fatal("channel to %s", name);
	r = sd_event_add_child(parent_ev, &c->exit_src, c->pid, WEXITED,
	    parent_child_exited, c);
	if (r < 0) {
		errno = -r;
		fatal("watch %s", name);
	}
	log_debug("started %s, pid %ld", name, (long)c->pid);
}

void
parent_send(enum shipper_proc p, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (imsgev_compose(&children[p].iev, type, 0, fd, data, len) == -1) {
		/* Only a lost child makes this fail; its exit is on the way. */
		if (errno != EPIPE)
			fatal("imsg to %s", proc_name(p));
	}
}

void
parent_exit(int code)
{
	parent_shutdown(code);
}

static void
parent_shutdown(int code)
{
	enum shipper_proc	 p;
	int			 left = 0;

	if (shutting_down)
		return;
	shutting_down = 1;
	exit_code = code;
	for (p = PROC_SCANNER; p < PROC_MAX; p++) {
		imsgev_close(&children[p].iev);
		if (children[p].alive) {
			kill(children[p].pid, SIGTERM);
			left++;
		}
	}
	if (left == 0) {
		sd_event_exit(parent_ev, exit_code);
		return;
	}
	if (sd_event_add_time_relative(parent_ev, NULL, CLOCK_MONOTONIC,
	    SHUTDOWN_GRACE_USEC, 0, parent_grace_over, NULL) < 0)
		fatalx("cannot arm the shutdown timer");
}

static int
parent_grace_over(sd_event_source *s, uint64_t usec, void *arg)
{
	enum shipper_proc	 p;

	(void)s;
	(void)usec;
	(void)arg;
	for (p = PROC_SCANNER; p < PROC_MAX; p++)
		if (children[p].alive) {
			log_warnx("%s did not stop in time, killing it",
			    proc_name(p));
			kill(children[p].pid, SIGKILL);
		}
	return (0);
}

static int
parent_signal(sd_event_source *s, const struct signalfd_siginfo *si,
    void *arg)
{
	(void)s;
	(void)arg;
	if (si->ssi_signo == SIGHUP) {
		log_info("SIGHUP ignored: restart the service to reload "
		    "the configuration");
		return (0);
	}
	log_info("stopping on %s", si->ssi_signo == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	notify_stopping();
	parent_shutdown(0);
	return (0);
}

static int
parent_child_exited(sd_event_source *s, const siginfo_t *si, void *arg)
{
	struct child		*c = arg;
	enum shipper_proc	 p;

	(void)s;
	c->alive = 0;
	if (!shutting_down) {
		if (si->si_code == CLD_EXITED)
			log_warnx("lost child: %s (exited with status %d)",
			    proc_name(c->proc), si->si_status);
		else
			log_warnx("lost child: %s (killed by signal %d)",
			    proc_name(c->proc), si->si_status);
		parent_shutdown(1);
	} else
		log_debug("%s stopped", proc_name(c->proc));

	for (p = PROC_SCANNER; p < PROC_MAX; p++)
		if (children[p].alive)
			return (0);
	sd_event_exit(parent_ev, exit_code);
	return (0);
}


/*
 * A dying child's channel closes just before its exit is reported.  Wait
 * a moment for that report, which says how it died (a signal number
 * points at the OOM killer or a seccomp kill); a child that closed its
 * channel and lives on is lost all the same.
 */
static void
parent_channel_closed(struct imsgev *iev)
{
	struct child	*c = iev->data;

	if (shutting_down)
		return;
	if (sd_event_add_time_relative(parent_ev, NULL, CLOCK_MONOTONIC,
	    CLOSED_GRACE_USEC, 0, parent_closed_grace_over, c) < 0)
		fatalx("cannot arm a timer");
}

static int
parent_closed_grace_over(sd_event_source *s, uint64_t usec, void *arg)
{
	struct child	*c = arg;

	(void)s;
	(void)usec;
	if (shutting_down || !c->alive)
		return (0);
	log_warnx("lost child: %s (closed its channel)", proc_name(c->proc));
	parent_shutdown(1);
	return (0);
}

/*
 * Every imsg from a child has a fixed size for its type; anything else
 * means the child is broken or compromised, and the daemon stops.
 */
static void
parent_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct child		*c = iev->data;
	struct imsg_hello	 hello;
	enum shipper_proc	 p;

	switch (imsg->hdr.type) {
	case IMSG_HELLO:
		if (imsg->hdr.len != IMSG_HEADER_SIZE + sizeof(hello))
			fatalx("%s: hello of bad size %u", proc_name(c->proc),
			    imsg->hdr.len);
		memcpy(&hello, imsg->data, sizeof(hello));
		if (hello.version != SHIPPER_PROTO_VERSION ||
		    hello.proc != c->proc)
			fatalx("%s: bad hello (version %u, process %u)",
			    proc_name(c->proc), hello.version, hello.proc);
		c->hello = 1;
		for (p = PROC_SCANNER; p < PROC_MAX; p++)
			if (children[p].pid != 0 && !children[p].hello)
				return;
		log_info("started: scanner %ld, packer %ld, uploader %ld",
		    (long)children[PROC_SCANNER].pid,
		    (long)children[PROC_PACKER].pid,
		    (long)children[PROC_UPLOADER].pid);
		pipeline_start();
		break;
	default:
		if (!pipeline_dispatch(c->proc, imsg))
			fatalx("%s: unexpected imsg type %u", proc_name(c->proc),
			    imsg->hdr.type);
		/* A descriptor nobody took must not leak. */
		if (imsg->fd != -1)
			close(imsg->fd);
	}
}
