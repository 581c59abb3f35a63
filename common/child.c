/*
 * What every shipper child does at start: name itself, note the account
 * it will become, and serve its channel to the parent from an sd-event
 * loop until the parent closes it or asks it to stop.  Root is given up
 * later, by the sandbox (sandbox.c), once the child has opened what it
 * needs: the chroot comes before the account switch.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "shipper.h"

static int	 child_signal(sd_event_source *, const struct signalfd_siginfo *,
		    void *);
static void	 child_closed(struct imsgev *);

static sd_event	*child_ev;
static uint32_t	 hello_flags;

sd_event *
child_start(enum shipper_proc p, const char *user, struct imsgev *iev,
    void (*dispatch)(struct imsgev *, struct imsg *))
{
	int	 r;

	setproctitle("%s", proc_name(p));
	/* Read now: the account database is not there after a chroot. */
	sandbox_account(user);
	proc_block_signals();

	if ((r = sd_event_new(&child_ev)) < 0) {
		errno = -r;
		fatal("sd_event_new");
	}
	/* SIGTERM or SIGINT alone is a clean stop; the parent decides. */
	if (sd_event_add_signal(child_ev, NULL, SIGTERM, child_signal,
	    NULL) < 0 ||
	    sd_event_add_signal(child_ev, NULL, SIGINT, child_signal,
	    NULL) < 0 ||
	    sd_event_add_signal(child_ev, NULL, SIGHUP, child_signal,
	    NULL) < 0)
		fatalx("cannot watch signals");
	if (imsgev_init(iev, child_ev, PROC_PARENT_FD, "parent", dispatch,
	    child_closed, NULL) == -1)
		fatal("parent channel");
	return (child_ev);
}

void
child_run(sd_event *ev)
{
	int	 r;

	r = sd_event_loop(ev);
	if (r < 0) {
		errno = -r;
		fatal("event loop");
	}
	sd_event_unref(ev);
	exit(r);
}

int
child_hello(struct imsgev *iev, struct imsg *imsg, enum shipper_proc p)
{
	struct imsg_hello	 hello;

	if (imsg->hdr.type != IMSG_HELLO)
		return (0);
	if (imsg->hdr.len != IMSG_HEADER_SIZE + sizeof(hello))
		fatalx("hello from parent: bad size %u", imsg->hdr.len);
	memcpy(&hello, imsg->data, sizeof(hello));
	if (hello.version != SHIPPER_PROTO_VERSION)
		fatalx("parent speaks protocol %u, %s speaks %u: restart the "
		    "daemon after an upgrade", hello.version, proc_name(p),
		    SHIPPER_PROTO_VERSION);
	hello_flags = hello.flags;
	hello.proc = p;
	hello.flags = 0;
	if (imsgev_compose(iev, IMSG_HELLO, 0, -1, &hello,
	    sizeof(hello)) == -1)
		fatal("hello");
	log_debug("started, pid %ld", (long)getpid());
	return (1);
}

/* What the parent's hello asked for (HELLO_*). */
uint32_t
child_flags(void)
{
	return (hello_flags);
}

static int
child_signal(sd_event_source *s, const struct signalfd_siginfo *si,
    void *arg)
{
	(void)arg;
	if (si->ssi_signo == SIGHUP)
		return (0);
	log_debug("stopping on signal %u", si->ssi_signo);
	return (sd_event_exit(sd_event_source_get_event(s), 0));
}

/* The parent is gone or closed our channel: nothing left to do. */
static void
child_closed(struct imsgev *iev)
{
	(void)iev;
	log_debug("parent closed the channel, exiting");
	sd_event_exit(child_ev, 0);
}
