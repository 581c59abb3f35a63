/*
 * imsg-style framing over a SOCK_STREAM AF_UNIX socket, after OpenBSD's
 * lib/libutil imsg: a 16-byte header, a capped message size, at most one
 * file descriptor per message (SCM_RIGHTS), a write queue flushed when the
 * socket is writable, and a reader that yields whole messages only.
 */
#ifndef IMSG_H
#define IMSG_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
#define IMSG_MAX_SIZE		16384		/* header included */
#define IMSG_MAX_DATA		(IMSG_MAX_SIZE - IMSG_HEADER_SIZE)
#define IMSG_MAX_QUEUED_FDS	16		/* received, not yet taken */

#define IMSGF_HASFD		0x0001

struct imsg_hdr {
	uint32_t	 type;
	uint16_t	 len;		/* header included */
	uint16_t	 flags;
	uint32_t	 peerid;
	uint32_t	 pid;
};

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 unless IMSGF_HASFD */
	void		*data;		/* hdr.len - IMSG_HEADER_SIZE bytes */
};

struct imsg_wbuf {
	TAILQ_ENTRY(imsg_wbuf)	 entry;
	size_t			 len;
	size_t			 off;	/* bytes already written */
	int			 fd;	/* -1, or sent with the first byte */
	unsigned char		 buf[];
};

struct imsgbuf {
	int			 fd;
	pid_t			 pid;
	int			 eof;
	/* read side */
	unsigned char		 rbuf[IMSG_MAX_SIZE * 2];
	size_t			 rlen;
	int			 rfds[IMSG_MAX_QUEUED_FDS];
	int			 nrfds;
	/* write side */
	TAILQ_HEAD(, imsg_wbuf)	 wq;
	size_t			 wqlen;	/* messages queued */
};

/* The socket should be non-blocking; the imsgbuf does not own it. */
void	 imsg_init(struct imsgbuf *, int);

/*
 * Read what the socket has.  Returns the number of bytes read, 0 on EOF
 * (ibuf->eof is set), -1 on error with errno set (EAGAIN: nothing yet;
 * EBADMSG: the peer sent more descriptors than IMSG_MAX_QUEUED_FDS or the
 * control data was truncated, the extra descriptors are closed and the
 * stream is unusable; ENOBUFS: the read buffer is full because imsg_get
 * was not called).  Received descriptors are queued until imsg_get hands
 * them out.
 */
ssize_t	 imsg_read(struct imsgbuf *);

/*
 * Take the next whole message.  Returns its total length (> 0), 0 when no
 * whole message is buffered (or at EOF on a message boundary), -1 on a
 * protocol error with errno set: EBADMSG for a header whose len is below
 * IMSG_HEADER_SIZE or above IMSG_MAX_SIZE or that claims a descriptor none
 * came with, EPROTO for a message cut short by EOF (ENOMEM leaves the
 * message buffered).  data is a malloc'd copy of the payload, NULL when it
 * is empty.  The caller must imsg_free() what it gets, and owns imsg.fd.
 */
ssize_t	 imsg_get(struct imsgbuf *, struct imsg *);

/*
 * Queue a message; the fd (or -1) is owned by the imsgbuf from here on
 * and closed once sent, or on error.  A pid of 0 stands for ibuf->pid
 * (getpid() at imsg_init).  Returns 0, or -1 with errno set (EMSGSIZE
 * when datalen > IMSG_MAX_DATA).
 */
int	 imsg_compose(struct imsgbuf *, uint32_t, uint32_t, pid_t, int,
	    const void *, size_t);

/*
 * Write as much of the queue as the socket takes, in order.  Returns 1
 * when the queue is empty, 0 when the socket would block with data left,
 * -1 on error with errno set (EPIPE when the peer is gone).
 */
int	 imsg_flush(struct imsgbuf *);

/*
 * Block until the whole queue is written (poll on the socket).  Returns 0,
 * or -1 with errno set as imsg_flush does.
 */
int	 imsg_flush_all(struct imsgbuf *);

/* Frees the payload; imsg.fd is the caller's to close. */
void	 imsg_free(struct imsg *);

/*
 * Drop the queues and close every descriptor the imsgbuf holds, except
 * the socket, which the caller owns.
 */
void	 imsg_clear(struct imsgbuf *);

#endif /* IMSG_H */
