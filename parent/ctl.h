/*
 * The client side of the control socket, for `status` and `doctor`:
 * blocking, with a deadline on every request, because a tool an
 * operator runs must answer even when the daemon is wedged.
 */
#ifndef CTL_H
#define CTL_H

#include "imsg.h"

struct ctl_client {
	struct imsgbuf	 ibuf;
	int		 open;
};

/* What went wrong when ctl_open fails. */
enum ctl_failure {
	CTL_DOWN = 1,		/* no socket, or nobody listens */
	CTL_DENIED,		/* the socket's mode or the daemon said no */
	CTL_BROKEN		/* timeout, protocol error, version */
};

/* Connect and say hello; 0, or -1 with *why and err set. */
int	 ctl_open(struct ctl_client *, const char *, int, enum ctl_failure *,
	    char *, size_t);

/*
 * Send a request without payload and hand each answer to CB until
 * CTL_END; 0, or -1 with err set (a CTL_ERROR from the daemon, a
 * timeout of TIMEOUT_MS, a closed connection).
 */
int	 ctl_request(struct ctl_client *, uint32_t, int,
	    void (*)(struct imsg *, void *), void *, char *, size_t);

/* A ctl_request callback: copies the one struct ctl_status into ARG. */
void	 ctl_got_status(struct imsg *, void *);

void	 ctl_close(struct ctl_client *);

#endif /* CTL_H */
