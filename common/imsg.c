/*
 * imsg-style framing over a SOCK_STREAM AF_UNIX socket; see imsg.h.
 *
 * Descriptors and bytes travel separately on a stream socket: the kernel
 * hands an SCM_RIGHTS descriptor to the recvmsg() that reads the first
 * byte of the sendmsg() it came with, and that recvmsg() may also return
 * bytes of earlier messages.  So the writer always starts a message that
 * carries a descriptor with a sendmsg() of its own, the reader queues
 * descriptors in arrival order, and imsg_get() gives the oldest queued
 * one to the next message that says IMSGF_HASFD.  Since the descriptor
 * rides on the message's first byte, it is always queued by the time the
 * whole message is.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

/* Messages gathered into one sendmsg(); far below IOV_MAX. */
#define IMSG_WRITE_IOVS		64

/*
 * Room for a whole batch, not just the one a message may carry, so a
 * peer that sends several at once fails on the queue bound with every
 * descriptor accounted for; beyond this the kernel sets MSG_CTRUNC.
 */
#define IMSG_CMSG_FDS		IMSG_MAX_QUEUED_FDS

static void	 imsg_close_rfds(struct imsgbuf *);
static void	 imsg_wbuf_free(struct imsg_wbuf *);

void
imsg_init(struct imsgbuf *ibuf, int fd)
{
	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	ibuf->pid = getpid();
	TAILQ_INIT(&ibuf->wq);
}

ssize_t
imsg_read(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * IMSG_CMSG_FDS)];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	size_t		 i, nfds;
	int		 fd, overflow = 0;

	/*
	 * A caller that drains imsg_get() after each read always leaves
	 * room, as less than one message stays buffered.  Reading zero
	 * bytes would look like EOF, so say why instead.
	 */
	if (ibuf->rlen >= sizeof(ibuf->rbuf)) {
		errno = ENOBUFS;
		return (-1);
	}

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = sizeof(ibuf->rbuf) - ibuf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		n = recvmsg(ibuf->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-1);

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			/*
			 * The queue is bounded so a peer cannot make us
			 * hold descriptors until we run out of them.
			 */
			if ((msg.msg_flags & MSG_CTRUNC) != 0 ||
			    ibuf->nrfds >= IMSG_MAX_QUEUED_FDS) {
				close(fd);
				overflow = 1;
				continue;
			}
			ibuf->rfds[ibuf->nrfds++] = fd;
		}
	}

	/*
	 * Truncated control data means the kernel dropped descriptors, so
	 * the FIFO no longer lines up with the messages; the stream is
	 * unusable from here on.
	 */
	if ((msg.msg_flags & MSG_CTRUNC) != 0 || overflow) {
		errno = EBADMSG;
		return (-1);
	}

	if (n == 0) {
		ibuf->eof = 1;
		return (0);
	}
	ibuf->rlen += n;
	return (n);
}

ssize_t
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	size_t		 datalen;
	void		*data = NULL;

	if (ibuf->rlen < IMSG_HEADER_SIZE) {
		if (ibuf->eof && ibuf->rlen > 0) {
			errno = EPROTO;
			return (-1);
		}
		return (0);
	}

	memcpy(&hdr, ibuf->rbuf, sizeof(hdr));
	if (hdr.len < IMSG_HEADER_SIZE || hdr.len > IMSG_MAX_SIZE) {
		errno = EBADMSG;
		return (-1);
	}
	if (ibuf->rlen < hdr.len) {
		if (ibuf->eof) {
			errno = EPROTO;
			return (-1);
		}
		return (0);
	}
	if ((hdr.flags & IMSGF_HASFD) != 0 && ibuf->nrfds == 0) {
		errno = EBADMSG;
		return (-1);
	}

	/* Allocate before consuming so ENOMEM leaves the buffer intact. */
	datalen = hdr.len - IMSG_HEADER_SIZE;
	if (datalen > 0) {
		if ((data = malloc(datalen)) == NULL)
			return (-1);
		memcpy(data, ibuf->rbuf + IMSG_HEADER_SIZE, datalen);
	}

	imsg->hdr = hdr;
	imsg->data = data;
	imsg->fd = -1;
	if ((hdr.flags & IMSGF_HASFD) != 0) {
		imsg->fd = ibuf->rfds[0];
		ibuf->nrfds--;
		memmove(ibuf->rfds, ibuf->rfds + 1,
		    ibuf->nrfds * sizeof(ibuf->rfds[0]));
	}

	ibuf->rlen -= hdr.len;
	memmove(ibuf->rbuf, ibuf->rbuf + hdr.len, ibuf->rlen);
	return (hdr.len);
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t datalen)
{
	struct imsg_wbuf	*wb;
	struct imsg_hdr		 hdr;
	size_t			 len;

	if (datalen > IMSG_MAX_DATA) {
		errno = EMSGSIZE;
		goto fail;
	}
	if (datalen > 0 && data == NULL) {
		errno = EINVAL;
		goto fail;
	}

	len = IMSG_HEADER_SIZE + datalen;
	if ((wb = malloc(sizeof(*wb) + len)) == NULL)
		goto fail;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint16_t)len;
	hdr.flags = fd == -1 ? 0 : IMSGF_HASFD;
	hdr.peerid = peerid;
	hdr.pid = (uint32_t)(pid == 0 ? ibuf->pid : pid);

	memcpy(wb->buf, &hdr, sizeof(hdr));
	if (datalen > 0)
		memcpy(wb->buf + IMSG_HEADER_SIZE, data, datalen);
	wb->len = len;
	wb->off = 0;
	wb->fd = fd;
	TAILQ_INSERT_TAIL(&ibuf->wq, wb, entry);
	ibuf->wqlen++;
	return (0);

fail:
	/* The caller gave the descriptor away; do not leak it. */
	if (fd != -1) {
		int saved_errno = errno;

		close(fd);
		errno = saved_errno;
	}
	return (-1);
}

int
imsg_flush(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct iovec		 iov[IMSG_WRITE_IOVS];
	struct msghdr		 msg;
	struct cmsghdr		*cmsg;
	struct imsg_wbuf	*wb, *head;
	ssize_t			 n;
	size_t			 left, chunk;
	int			 niov;

	while ((head = TAILQ_FIRST(&ibuf->wq)) != NULL) {
		memset(&msg, 0, sizeof(msg));

		/*
		 * Gather messages up to, not including, the next one that
		 * carries a descriptor: that one must start a sendmsg()
		 * of its own, or its descriptor would arrive with the
		 * bytes of the messages before it.
		 */
		niov = 0;
		TAILQ_FOREACH(wb, &ibuf->wq, entry) {
			if (niov == IMSG_WRITE_IOVS ||
			    (wb != head && wb->fd != -1))
				break;
			iov[niov].iov_base = wb->buf + wb->off;
			iov[niov].iov_len = wb->len - wb->off;
			niov++;
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = niov;

		/* A descriptor is sent once, with its message's first byte. */
		if (head->fd != -1 && head->off == 0) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cmsg), &head->fd, sizeof(int));
		}

		n = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return (0);
			return (-1);
		}

		/* The peer holds its own reference now. */
		if (msg.msg_control != NULL && n > 0) {
			close(head->fd);
			head->fd = -1;
		}

		left = n;
		while (left > 0 && (wb = TAILQ_FIRST(&ibuf->wq)) != NULL) {
			chunk = wb->len - wb->off;
			if (chunk > left) {
				wb->off += left;
				break;
			}
			left -= chunk;
			TAILQ_REMOVE(&ibuf->wq, wb, entry);
			ibuf->wqlen--;
			imsg_wbuf_free(wb);
		}
	}
	return (1);
}

int
imsg_flush_all(struct imsgbuf *ibuf)
{
	struct pollfd	 pfd;
	int		 rv;

	for (;;) {
		if ((rv = imsg_flush(ibuf)) == -1)
			return (-1);
		if (rv == 1)
			return (0);

		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if ((pfd.revents & POLLNVAL) != 0) {
			errno = EBADF;
			return (-1);
		}
		/* POLLHUP and POLLERR: the next sendmsg() says which error. */
	}
}

void
imsg_free(struct imsg *imsg)
{
	free(imsg->data);
	imsg->data = NULL;
}

void
imsg_clear(struct imsgbuf *ibuf)
{
	struct imsg_wbuf	*wb;

	while ((wb = TAILQ_FIRST(&ibuf->wq)) != NULL) {
		TAILQ_REMOVE(&ibuf->wq, wb, entry);
		imsg_wbuf_free(wb);
	}
	ibuf->wqlen = 0;
	imsg_close_rfds(ibuf);
	ibuf->rlen = 0;
}

static void
imsg_close_rfds(struct imsgbuf *ibuf)
{
	int	 i;

	for (i = 0; i < ibuf->nrfds; i++)
		close(ibuf->rfds[i]);
	ibuf->nrfds = 0;
}

static void
imsg_wbuf_free(struct imsg_wbuf *wb)
{
	if (wb->fd != -1)
		close(wb->fd);
	free(wb);
}
