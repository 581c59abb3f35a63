/*
 * Privilege-separated processes: spawning a re-executed child on its own
 * socketpair, dropping to an account, and imsg channels driven by an
 * sd-event loop.
 */
#ifndef PROC_H
#define PROC_H

#include <sys/types.h>

#include <stdint.h>

#include <systemd/sd-event.h>

#include "imsg.h"

/* A child finds its end of the socketpair to the parent here. */
#define PROC_PARENT_FD	3

struct imsgev;
typedef void	(*imsgev_dispatch_cb)(struct imsgev *, struct imsg *);
typedef void	(*imsgev_closed_cb)(struct imsgev *);

struct imsgev {
	struct imsgbuf		 ibuf;
	sd_event_source		*src;
	const char		*peer;		/* for log lines */
	imsgev_dispatch_cb	 dispatch;
	imsgev_closed_cb	 closed;	/* EOF, error or bad imsg */
	void			*data;
	int			 open;
};

int	 imsgev_init(struct imsgev *, sd_event *, int, const char *,
	    imsgev_dispatch_cb, imsgev_closed_cb, void *);
int	 imsgev_compose(struct imsgev *, uint32_t, uint32_t, int,
	    const void *, size_t);
void	 imsgev_close(struct imsgev *);

/*
 * Fork and re-execute this binary as child NAME with fd as its
 * PROC_PARENT_FD.  argv is the child's argument vector after argv[0]
 * (the caller puts "-P NAME" and what else the child needs in it).
 * The child starts with an empty signal mask and without the variables
 * that only the parent may use (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*).
 */
pid_t	 proc_spawn(const char *, int, char *const *);

/*
 * Block the signals that sd-event will deliver through a signalfd and
 * ignore SIGPIPE (a peer that went away is an EPIPE, not a death).
 */
void	 proc_block_signals(void);

#endif /* PROC_H */
