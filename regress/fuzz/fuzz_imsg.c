/*
 * Fuzz harness for common/imsg.c, the framing every process trusts.
 *
 * The first input byte picks one of two games, played over a real
 * non-blocking socketpair:
 *
 * Stream (even first byte): the rest is a script of what a hostile or
 * broken peer does to the socket: write a chunk of arbitrary bytes,
 * write a chunk with 1..4 descriptors attached (SCM_RIGHTS), let the
 * reader read (imsg_read) and take messages (imsg_get), or close its
 * end.  Every message the reader hands out must be exactly the bytes
 * that were sent at that point of the stream, a message claiming a
 * descriptor must come with the oldest one not yet handed out, and
 * each error must be one imsg.h documents, for the reason it gives.
 *
 * Compose (odd first byte): the rest describes messages (type, peerid,
 * pid, payload size, with or without a descriptor) that one imsgbuf
 * composes and flushes, interleaved with the other side's reads, as
 * the daemon does.  They must all arrive, in order, intact, each with
 * its own descriptor; oversized ones must be refused with EMSGSIZE and
 * their descriptor closed.
 *
 * Both games end with imsg_clear() and check that no descriptor leaked.
 * The descriptors passed are eventfds whose counter holds their serial
 * number, so the receiver can tell which one it got.
 *
 * The stream script, one op byte at a time (op & 3):
 *	0	a chunk: length byte L, L + 1 bytes (times 64 with op 0x80);
 *		the bytes follow, or with op 0x40 one byte to repeat
 *	1	the same with ((op >> 2) & 3) + 1 descriptors attached
 *	2	imsg_read(), then take all messages unless op & 4
 *	3	op & 4: close the peer's end (EOF); else take all messages
 * A compose message is five bytes: flags (1 descriptor, 2 size * 65,
 * 8 own pid, 0x20 flush after, 0xc6 all set: IMSG_MAX_DATA + (size & 1),
 * 0x30 peerid shift), type, peerid, pid, size.
 */
#include <sys/types.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "fuzz.h"

/* Bounds that keep one run fast; the socket buffers hold far more. */
#define MAX_STREAM	(256 * 1024)
#define MAX_MSGS	64

struct input {
	const uint8_t	*p;
	size_t		 left;
};

struct reader {
	struct imsgbuf	 ibuf;
	const uint8_t	*sent;		/* what the peer wrote, in order */
	size_t		 sentlen;
	size_t		 readlen;	/* bytes imsg_read() returned */
	size_t		 consumed;	/* bytes imsg_get() handed out */
	uint64_t	 next_fd;	/* serial of the next descriptor */
	uint64_t	 nfds_sent;
	int		 dead;		/* an error made the stream unusable */
};

static uint8_t		 stream[MAX_STREAM];
static uint8_t		 fill[256 * 64];
static struct reader	 rd;
static struct imsgbuf	 wr;

static int	 count_fds(void);
static int	 byte(struct input *, int *);
static int	 serial_fd(uint64_t);
static uint64_t	 fd_serial(int);
static void	 check_get_error(struct reader *, int);
static void	 drain(struct reader *);
static int	 do_read(struct reader *);
static int	 send_chunk(int, const uint8_t *, size_t, int, uint64_t *);
static void	 stream_game(struct input *);
static void	 compose_game(struct input *);

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		fuzz_fail("opendir /proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n);
}

static int
byte(struct input *in, int *b)
{
	if (in->left == 0)
		return (0);
	*b = *in->p++;
	in->left--;
	return (1);
}

static int
serial_fd(uint64_t serial)
{
	int	 fd;

	/* eventfd's counter starts at an unsigned int. */
	if ((fd = eventfd((unsigned int)serial + 1, EFD_CLOEXEC |
	    EFD_NONBLOCK)) == -1)
		fuzz_fail("eventfd: %s", strerror(errno));
	return (fd);
}

static uint64_t
fd_serial(int fd)
{
	uint64_t	 v;

	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		fuzz_fail("descriptor %d handed out is not one of ours: %s",
		    fd, strerror(errno));
	return (v - 1);
}

/* imsg_get() said -1: it must be for a reason imsg.h gives. */
static void
check_get_error(struct reader *r, int error)
{
	struct imsg_hdr	 hdr;
	size_t		 rlen = r->ibuf.rlen;

	if (error == EBADMSG) {
		if (rlen < IMSG_HEADER_SIZE)
			fuzz_fail("EBADMSG without a whole header buffered");
		memcpy(&hdr, r->ibuf.rbuf, sizeof(hdr));
		if (hdr.len >= IMSG_HEADER_SIZE && hdr.len <= IMSG_MAX_SIZE &&
		    ((hdr.flags & IMSGF_HASFD) == 0 || r->ibuf.nrfds > 0))
			fuzz_fail("EBADMSG for a valid header (len %u, flags "
			    "%#x, %d descriptors queued)", hdr.len, hdr.flags,
			    r->ibuf.nrfds);
	} else if (error == EPROTO) {
		if (!r->ibuf.eof || rlen == 0)
			fuzz_fail("EPROTO without EOF inside a message");
		if (rlen >= IMSG_HEADER_SIZE) {
			memcpy(&hdr, r->ibuf.rbuf, sizeof(hdr));
			if (rlen >= hdr.len)
				fuzz_fail("EPROTO with the whole message "
				    "buffered");
		}
	} else
		fuzz_fail("imsg_get: unexpected error %s", strerror(error));
	r->dead = 1;
}

/* Take every whole message; each must be exactly what was sent. */
static void
drain(struct reader *r)
{
	struct imsg_hdr	 hdr;
	struct imsg	 imsg;
	ssize_t		 n;
	size_t		 datalen;

	while (!r->dead) {
		if (r->ibuf.rlen != r->readlen - r->consumed)
			fuzz_fail("%zu bytes buffered, %zu read and %zu "
			    "handed out", r->ibuf.rlen, r->readlen,
			    r->consumed);
		n = imsg_get(&r->ibuf, &imsg);
		if (n == -1) {
			check_get_error(r, errno);
			return;
		}
		if (n == 0) {
			if (r->ibuf.rlen >= IMSG_HEADER_SIZE) {
				memcpy(&hdr, r->ibuf.rbuf, sizeof(hdr));
				if (r->ibuf.rlen >= hdr.len)
					fuzz_fail("a whole message (%u bytes) "
					    "buffered but not handed out",
					    hdr.len);
			}
			return;
		}
		if ((size_t)n != imsg.hdr.len || n < (ssize_t)IMSG_HEADER_SIZE ||
		    n > IMSG_MAX_SIZE)
			fuzz_fail("imsg_get returned %zd for a message of "
			    "%u bytes", n, imsg.hdr.len);
		if (r->consumed + (size_t)n > r->sentlen)
			fuzz_fail("message ends past what was sent");
		if (memcmp(&imsg.hdr, r->sent + r->consumed,
		    IMSG_HEADER_SIZE) != 0)
			fuzz_fail("header differs from the bytes sent at "
			    "offset %zu", r->consumed);
		datalen = (size_t)n - IMSG_HEADER_SIZE;
		if ((datalen == 0) != (imsg.data == NULL))
			fuzz_fail("payload of %zu bytes but data %p", datalen,
			    imsg.data);
		if (datalen > 0 && memcmp(imsg.data, r->sent + r->consumed +
		    IMSG_HEADER_SIZE, datalen) != 0)
			fuzz_fail("payload differs from the bytes sent at "
			    "offset %zu", r->consumed);
		if ((imsg.hdr.flags & IMSGF_HASFD) != 0) {
			if (imsg.fd < 0)
				fuzz_fail("IMSGF_HASFD without a descriptor");
			/* The oldest queued descriptor, in send order. */
			if (fd_serial(imsg.fd) != r->next_fd)
				fuzz_fail("descriptors out of order");
			r->next_fd++;
			close(imsg.fd);
		} else if (imsg.fd != -1)
			fuzz_fail("descriptor %d without IMSGF_HASFD",
			    imsg.fd);
		r->consumed += (size_t)n;
		imsg_free(&imsg);
	}
}

/* 1: bytes read, 0: nothing (EAGAIN, EOF, dead), -1: buffer full. */
static int
do_read(struct reader *r)
{
	ssize_t	 n;

	if (r->dead || r->ibuf.eof)
		return (0);
	n = imsg_read(&r->ibuf);
	if (n > 0) {
		r->readlen += (size_t)n;
		if (r->readlen > r->sentlen)
			fuzz_fail("read %zu bytes, only %zu sent",
			    r->readlen, r->sentlen);
		return (1);
	}
	if (n == 0) {
		if (!r->ibuf.eof)
			fuzz_fail("imsg_read returned 0 without EOF");
		return (0);
	}
	switch (errno) {
	case EAGAIN:
		return (0);
	case ENOBUFS:
		/* The script read without taking messages out. */
		if (r->ibuf.rlen < sizeof(r->ibuf.rbuf))
			fuzz_fail("ENOBUFS with room in the buffer");
		return (-1);
	case EBADMSG:
		/* More descriptors than the queue takes. */
		if (r->nfds_sent - r->next_fd <= IMSG_MAX_QUEUED_FDS)
			fuzz_fail("EBADMSG from imsg_read with %llu "
			    "descriptors outstanding", (unsigned long long)
			    (r->nfds_sent - r->next_fd));
		r->dead = 1;
		return (0);
	default:
		fuzz_fail("imsg_read: %s", strerror(errno));
	}
}

/* Send len bytes of p from fd, with nfds new descriptors attached. */
static int
send_chunk(int fd, const uint8_t *p, size_t len, int nfds, uint64_t *serial)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 4)];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	int		 fds[4], i;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		for (i = 0; i < nfds; i++)
			fds[i] = serial_fd(*serial + i);
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return (0);
	if (n == -1)
		fuzz_fail("sendmsg: %s", strerror(errno));
	/* Far below the socket buffer: the kernel takes it whole. */
	if ((size_t)n != len)
		fuzz_fail("short sendmsg: %zd of %zu", n, len);
	*serial += nfds;
	return (1);
}

static void
stream_game(struct input *in)
{
	const uint8_t	*src;
	int		 sv[2], op, b, nfds, rv, closed = 0;
	size_t		 len, skip;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		fuzz_fail("socketpair: %s", strerror(errno));
	memset(&rd, 0, sizeof(rd));
	imsg_init(&rd.ibuf, sv[0]);
	rd.sent = stream;

	while (byte(in, &op)) {
		switch (op & 3) {
		case 0:
		case 1:
			/*
			 * A chunk: length byte (+1, times 64 with 0x80),
			 * then that many bytes, or with 0x40 one byte to
			 * repeat: big messages from small inputs.
			 */
			if (!byte(in, &b))
				break;
			len = (size_t)b + 1;
			if ((op & 0x80) != 0)
				len *= 64;
			if ((op & 0x40) != 0) {
				if (!byte(in, &b))
					break;
				src = fill;
				memset(fill, b, len);
				skip = 0;
			} else {
				if (len > in->left)
					len = in->left;
				src = in->p;
				skip = len;
			}
			in->p += skip;
			in->left -= skip;
			if (len == 0 || closed ||
			    rd.sentlen + len > sizeof(stream))
				break;
			nfds = (op & 3) == 1 ? ((op >> 2) & 3) + 1 : 0;
			memcpy(stream + rd.sentlen, src, len);
			if (send_chunk(sv[1], src, len, nfds,
			    &rd.nfds_sent))
				rd.sentlen += len;
			break;
		case 2:
			do_read(&rd);
			if ((op & 4) == 0)
				drain(&rd);
			break;
		case 3:
			if ((op & 4) != 0 && !closed) {
				close(sv[1]);
				closed = 1;
			} else
				drain(&rd);
			break;
		}
	}
	/* Read and take what is left, until the socket is empty. */
	for (;;) {
		rv = do_read(&rd);
		drain(&rd);
		if (rd.dead || rv == 0)
			break;
		/* Two buffers hold at least one whole message. */
		if (rv == -1 && rd.ibuf.rlen == sizeof(rd.ibuf.rbuf))
			fuzz_fail("read buffer full and nothing taken out");
	}
	if (!rd.dead && rd.readlen != rd.sentlen)
		fuzz_fail("only %zu of %zu bytes sent were read", rd.readlen,
		    rd.sentlen);
	imsg_clear(&rd.ibuf);
	if (rd.ibuf.nrfds != 0 || rd.ibuf.rlen != 0)
		fuzz_fail("imsg_clear left descriptors or bytes");
	close(sv[0]);
	if (!closed)
		close(sv[1]);
}

struct sent_msg {
	uint32_t	 type, peerid, pid;
	size_t		 datalen;
	uint8_t		 fill;
	int		 hasfd;
	uint64_t	 serial;
};

static struct sent_msg	 msgs[MAX_MSGS];
static uint8_t		 payload[255 * 65];

/*
 * One message: flags byte, then type, peerid, pid (one byte each,
 * spread out), then a size byte: payloads run up to and past
 * IMSG_MAX_DATA.
 */
static void
compose_game(struct input *in)
{
	struct sent_msg	*m;
	struct imsg	 imsg;
	ssize_t		 n;
	size_t		 nmsgs = 0, got = 0, queued = 0, i;
	uint64_t	 serial = 0, next_serial = 0;
	int		 sv[2], f, t, pe, pi, sz, fd, rv, rounds;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		fuzz_fail("socketpair: %s", strerror(errno));
	memset(&rd, 0, sizeof(rd));
	imsg_init(&rd.ibuf, sv[0]);
	imsg_init(&wr, sv[1]);

	while (nmsgs < MAX_MSGS && byte(in, &f) && byte(in, &t) &&
	    byte(in, &pe) && byte(in, &pi) && byte(in, &sz)) {
		m = &msgs[nmsgs];
		m->type = (uint32_t)t * 0x01010101u;
		m->peerid = (uint32_t)pe << ((f >> 4) & 3) * 8;
		/* 0 stands for the composer's own pid. */
		m->pid = (f & 8) != 0 ? (uint32_t)pi : 0;
		m->hasfd = (f & 1) != 0;
		m->fill = (uint8_t)(t ^ sz);
		m->datalen = (f & 2) != 0 ? (size_t)sz * 65 : (size_t)sz;
		if ((f & 0xc6) == 0xc6)
			m->datalen = IMSG_MAX_DATA + (sz & 1);
		memset(payload, m->fill, m->datalen);
		fd = m->hasfd ? serial_fd(serial) : -1;
		rv = imsg_compose(&wr, m->type, m->peerid, (pid_t)m->pid, fd,
		    m->datalen > 0 ? payload : NULL, m->datalen);
		if (m->datalen > IMSG_MAX_DATA) {
			if (rv != -1 || errno != EMSGSIZE)
				fuzz_fail("a payload of %zu bytes was not "
				    "refused with EMSGSIZE", m->datalen);
			if (fd != -1 && fcntl(fd, F_GETFD) != -1)
				fuzz_fail("refused message's descriptor left "
				    "open");
			continue;
		}
		if (rv == -1)
			fuzz_fail("imsg_compose: %s", strerror(errno));
		if (m->pid == 0)
			m->pid = (uint32_t)getpid();
		m->serial = serial;
		if (m->hasfd)
			serial++;
		nmsgs++;
		queued++;
		if (wr.wqlen != queued)
			fuzz_fail("wqlen %zu, %zu queued", wr.wqlen, queued);
		/* Sometimes flush and read between messages, as a child does. */
		if ((f & 0x20) != 0) {
			if (imsg_flush(&wr) == -1)
				fuzz_fail("imsg_flush: %s", strerror(errno));
			queued = wr.wqlen;
		}
	}

	/* Flush and read until everything has arrived. */
	for (rounds = 0; got < nmsgs; rounds++) {
		if (rounds > 100000)
			fuzz_fail("stuck: %zu of %zu messages after %d rounds",
			    got, nmsgs, rounds);
		if (imsg_flush(&wr) == -1)
			fuzz_fail("imsg_flush: %s", strerror(errno));
		n = imsg_read(&rd.ibuf);
		if (n == -1 && errno != EAGAIN)
			fuzz_fail("imsg_read: %s", strerror(errno));
		if (n == 0)
			fuzz_fail("EOF before all messages arrived");
		while ((n = imsg_get(&rd.ibuf, &imsg)) > 0) {
			if (got >= nmsgs)
				fuzz_fail("more messages than were sent");
			m = &msgs[got++];
			if (imsg.hdr.type != m->type ||
			    imsg.hdr.peerid != m->peerid ||
			    imsg.hdr.pid != m->pid ||
			    imsg.hdr.len != IMSG_HEADER_SIZE + m->datalen)
				fuzz_fail("message %zu: header differs", got);
			for (i = 0; i < m->datalen; i++)
				if (((uint8_t *)imsg.data)[i] != m->fill)
					fuzz_fail("message %zu: payload "
					    "differs at %zu", got, i);
			if (m->hasfd) {
				if (imsg.fd < 0 ||
				    fd_serial(imsg.fd) != m->serial ||
				    m->serial != next_serial)
					fuzz_fail("message %zu: wrong "
					    "descriptor", got);
				next_serial++;
				close(imsg.fd);
			} else if (imsg.fd != -1)
				fuzz_fail("message %zu: descriptor not sent",
				    got);
			imsg_free(&imsg);
		}
		if (n == -1)
			fuzz_fail("imsg_get: %s", strerror(errno));
	}
	if (imsg_flush(&wr) != 1 || wr.wqlen != 0)
		fuzz_fail("write queue not empty after every message arrived");
	imsg_clear(&wr);
	imsg_clear(&rd.ibuf);
	close(sv[0]);
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input	 in = { data, size };
	int		 mode, before;

	if (!byte(&in, &mode))
		return (0);
	before = count_fds();
	if ((mode & 1) == 0)
		stream_game(&in);
	else
		compose_game(&in);
	if (count_fds() != before)
		fuzz_fail("%d descriptors open before, %d after", before,
		    count_fds());
	return (0);
}
