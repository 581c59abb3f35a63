/*
 * Unit tests for common/imsg.c: framing under one-byte reads, descriptor
 * passing, malformed and truncated input, and a write queue that has to
 * wait for the socket.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "imsg.h"
#include "unit.h"

/*
 * What the i-th message of a test stream looks like, so the receiving
 * side can check every field without keeping a copy of what was sent.
 */
/*
 * Every ck_assert writes a record to Check's log even when it passes,
 * which adds up to seconds on the per-byte paths; those use REQUIRE,
 * which costs nothing until it fails.
 */
#define REQUIRE(cond, ...) do {						\
	if (!(cond))							\
		ck_abort_msg(__VA_ARGS__);				\
} while (0)

struct expect {
	size_t	  n;
	size_t	(*datalen)(size_t);
	size_t	  fdevery;	/* i has an fd when i % fdevery == 1 */
	int	 *orig;		/* [n]: the sender's copy of that fd */
};

static void
mkpair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
}

static void
set_nonblock(int fd)
{
	int	 fl;

	ck_assert_int_ne(fl = fcntl(fd, F_GETFL), -1);
	ck_assert_int_ne(fcntl(fd, F_SETFL, fl | O_NONBLOCK), -1);
}

/* Leaks of received or queued descriptors show up as a changed count. */
static int
count_open_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	ck_assert_ptr_nonnull(d = opendir("/proc/self/fd"));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n);
}

/* A distinct open file each call, so descriptors can be told apart. */
static int
new_file(void)
{
	int	 fd;

	fd = memfd_create("imsg-test", MFD_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	return (fd);
}

static int
is_closed(int fd)
{
	return (fcntl(fd, F_GETFD) == -1 && errno == EBADF);
}

static void
same_file(int a, int b)
{
	struct stat	 sa, sb;

	ck_assert_int_eq(fstat(a, &sa), 0);
	ck_assert_int_eq(fstat(b, &sb), 0);
	ck_assert_uint_eq(sa.st_dev, sb.st_dev);
	ck_assert_uint_eq(sa.st_ino, sb.st_ino);
}

static void
raw_write(int fd, const void *buf, size_t len)
{
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
}

static void
raw_header(int fd, uint32_t type, uint16_t len, uint16_t flags)
{
	struct imsg_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.flags = flags;
	hdr.peerid = 1;
	hdr.pid = 2;
	raw_write(fd, &hdr, sizeof(hdr));
}

/* Send len bytes with one descriptor per entry of fds attached. */
static void
raw_send_fds(int sock, const void *buf, size_t len, const int *fds,
    size_t nfds)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 32)];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;

	REQUIRE(nfds <= 32, "%zu descriptors", nfds);
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	REQUIRE(sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len,
	    "sendmsg: %s", strerror(errno));
}

/*
 * Hands the reader under test the stream one byte per read.  Where
 * descriptors travel it also reads one byte at a time, so each descriptor
 * stays tied to the byte it was sent with; without them it reads in bulk,
 * which halves the system calls per byte.
 */
struct relay {
	int		 from, to;
	int		 bulk;
	size_t		 off, len;
	unsigned char	 buf[4096];
};

/* Returns 1 when a byte moved, 0 when none was waiting. */
static int
relay_byte(struct relay *r)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 8)];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	int		 fds[8];
	size_t		 i, nfds = 0, k;
	ssize_t		 n;

	if (r->off < r->len) {
		raw_send_fds(r->to, r->buf + r->off++, 1, NULL, 0);
		return (1);
	}

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = r->buf;
	iov.iov_len = r->bulk ? sizeof(r->buf) : 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	n = recvmsg(r->from, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1 && errno == EAGAIN)
		return (0);
	REQUIRE(n > 0, "relay recvmsg: %zd, %s", n, strerror(errno));
	REQUIRE((msg.msg_flags & MSG_CTRUNC) == 0, "relay: MSG_CTRUNC");
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++, nfds++) {
			REQUIRE(nfds < 8, "relay: too many descriptors");
			memcpy(&fds[nfds], CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
		}
	}
	REQUIRE(nfds == 0 || !r->bulk,
	    "bulk relay got a descriptor it cannot place");
	r->len = n;
	r->off = 1;
	raw_send_fds(r->to, r->buf, 1, fds, nfds);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	return (1);
}

/* Mostly small; empty at 0, 100, ... 900 and maximal at 50, ... 950. */
static size_t
len_varied(size_t i)
{
	if (i % 100 == 0)
		return (0);
	if (i % 100 == 50)
		return (IMSG_MAX_DATA);
	return ((i * 37) % 300);
}

/* With fdevery 3, empty (1, 31, 61, 91) and maximal (4, 64) carry fds. */
static size_t
len_fd(size_t i)
{
	if (i % 30 == 1)
		return (0);
	if (i % 60 == 4)
		return (IMSG_MAX_DATA);
	return ((i * 37) % 160);
}

static size_t
len_8k(size_t i)
{
	return (8192 - IMSG_HEADER_SIZE + (i % 7) * 3);
}

static unsigned char
pattern(size_t i, size_t j)
{
	return ((unsigned char)(i * 131 + j * 7 + (j >> 8)));
}

static int
has_fd(const struct expect *ex, size_t i)
{
	return (ex->fdevery != 0 && i % ex->fdevery == 1);
}

/* Queue the whole stream on the sender; descriptors go as dups. */
static void
compose_all(struct imsgbuf *ibuf, const struct expect *ex)
{
	unsigned char	*buf;
	size_t		 i, j, len;
	int		 fd;

	ck_assert_ptr_nonnull(buf = malloc(IMSG_MAX_DATA));
	for (i = 0; i < ex->n; i++) {
		len = ex->datalen(i);
		for (j = 0; j < len; j++)
			buf[j] = pattern(i, j);
		fd = -1;
		if (has_fd(ex, i))
			ck_assert_int_ne(fd = dup(ex->orig[i]), -1);
		ck_assert_int_eq(imsg_compose(ibuf, 1000 + i,
		    (uint32_t)(i * 2654435761u), 40000 + i, fd, buf, len), 0);
	}
	ck_assert_uint_eq(ibuf->wqlen, ex->n);
	free(buf);
}

static void
open_files(struct expect *ex)
{
	size_t	 i;

	ck_assert_ptr_nonnull(ex->orig = calloc(ex->n, sizeof(int)));
	for (i = 0; i < ex->n; i++)
		ex->orig[i] = has_fd(ex, i) ? new_file() : -1;
}

static void
close_files(struct expect *ex)
{
	size_t	 i;

	if (ex->orig == NULL)
		return;
	for (i = 0; i < ex->n; i++)
		if (ex->orig[i] != -1)
			close(ex->orig[i]);
	free(ex->orig);
	ex->orig = NULL;
}

/* Check message i in every field, then free it and close its fd. */
static void
check_msg(const struct expect *ex, size_t i, struct imsg *imsg, ssize_t rv)
{
	const unsigned char	*p;
	size_t			 j, len;

	len = ex->datalen(i);
	ck_assert_int_eq(rv, (ssize_t)(IMSG_HEADER_SIZE + len));
	ck_assert_uint_eq(imsg->hdr.type, 1000 + i);
	ck_assert_uint_eq(imsg->hdr.peerid, (uint32_t)(i * 2654435761u));
	ck_assert_uint_eq(imsg->hdr.pid, 40000 + i);
	ck_assert_uint_eq(imsg->hdr.len, IMSG_HEADER_SIZE + len);
	if (len == 0)
		ck_assert_ptr_null(imsg->data);
	else {
		ck_assert_ptr_nonnull(imsg->data);
		p = imsg->data;
		for (j = 0; j < len; j++)
			if (p[j] != pattern(i, j))
				ck_abort_msg("message %zu: byte %zu is %u, "
				    "want %u", i, j, p[j], pattern(i, j));
	}
	if (has_fd(ex, i)) {
		ck_assert_uint_eq(imsg->hdr.flags & IMSGF_HASFD, IMSGF_HASFD);
		ck_assert_int_ne(imsg->fd, -1);
		same_file(imsg->fd, ex->orig[i]);
		close(imsg->fd);
	} else {
		ck_assert_uint_eq(imsg->hdr.flags & IMSGF_HASFD, 0);
		ck_assert_int_eq(imsg->fd, -1);
	}
	imsg_free(imsg);
	ck_assert_ptr_null(imsg->data);
}

/*
 * Send the stream through a relay that hands the reader one byte per
 * imsg_read(), and check that each message comes out of imsg_get()
 * exactly when its last byte has arrived: not earlier, not later.
 */
static void
pump_bytewise(const struct expect *ex)
{
	struct imsgbuf	 snd, rcv;
	struct imsg	 imsg;
	struct relay	 relay;
	int		 a[2], b[2];
	size_t		 got = 0, relayed = 0, end = 0;
	ssize_t		 rv;
	int		 moved, stalled = 1;

	mkpair(a);
	mkpair(b);
	set_nonblock(a[0]);
	set_nonblock(b[1]);
	imsg_init(&snd, a[0]);
	imsg_init(&rcv, b[1]);
	memset(&relay, 0, sizeof(relay));
	relay.from = a[1];
	relay.to = b[0];
	relay.bulk = ex->fdevery == 0;
	compose_all(&snd, ex);

	while (got < ex->n) {
		/* Flushing once per page keeps the syscall count down. */
		if (stalled || relayed % 4096 == 0)
			REQUIRE(imsg_flush(&snd) != -1, "imsg_flush: %s",
			    strerror(errno));
		if ((moved = relay_byte(&relay)) == 0) {
			REQUIRE(!TAILQ_EMPTY(&snd.wq),
			    "stream ended after %zu of %zu messages",
			    got, ex->n);
			stalled = 1;
			continue;
		}
		stalled = 0;
		relayed++;
		REQUIRE((rv = imsg_read(&rcv)) == 1, "byte %zu: imsg_read "
		    "returned %zd", relayed, rv);
		while ((rv = imsg_get(&rcv, &imsg)) > 0) {
			ck_assert_uint_lt(got, ex->n);
			end += IMSG_HEADER_SIZE + ex->datalen(got);
			/* Whole messages only, and as soon as they are. */
			ck_assert_uint_eq(relayed, end);
			check_msg(ex, got, &imsg, rv);
			got++;
		}
		REQUIRE(rv == 0, "byte %zu: imsg_get: %s", relayed,
		    strerror(errno));
	}

	ck_assert_int_eq(imsg_flush(&snd), 1);
	ck_assert_uint_eq(snd.wqlen, 0);
	ck_assert_int_eq(relay_byte(&relay), 0);
	ck_assert_uint_eq(rcv.rlen, 0);
	ck_assert_int_eq(rcv.nrfds, 0);
	imsg_clear(&snd);
	imsg_clear(&rcv);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

START_TEST(many_messages_bytewise)
{
	struct expect	 ex = { 1000, len_varied, 0, NULL };

	pump_bytewise(&ex);
}
END_TEST

START_TEST(fd_passing)
{
	struct imsgbuf	 snd, rcv;
	struct imsg	 imsg;
	int		 sv[2], file, dupfd, base;
	char		 c;

	base = count_open_fds();
	mkpair(sv);
	set_nonblock(sv[0]);
	set_nonblock(sv[1]);
	imsg_init(&snd, sv[0]);
	imsg_init(&rcv, sv[1]);

	file = new_file();
	raw_write(file, "abcdef", 6);
	ck_assert_int_ne(dupfd = dup(file), -1);
	ck_assert_int_eq(imsg_compose(&snd, 7, 9, 0, dupfd, "x", 1), 0);
	ck_assert_int_eq(imsg_flush_all(&snd), 0);
	/* The imsgbuf owned dupfd and must close it once it was sent. */
	ck_assert(is_closed(dupfd));

	ck_assert_int_gt(imsg_read(&rcv), 0);
	ck_assert_int_eq(imsg_get(&rcv, &imsg), IMSG_HEADER_SIZE + 1);
	ck_assert_uint_eq(imsg.hdr.type, 7);
	ck_assert_uint_eq(imsg.hdr.peerid, 9);
	ck_assert_uint_eq(imsg.hdr.pid, (uint32_t)getpid());
	ck_assert_uint_eq(imsg.hdr.flags & IMSGF_HASFD, IMSGF_HASFD);
	ck_assert_int_ne(imsg.fd, -1);
	ck_assert_int_ne(fcntl(imsg.fd, F_GETFD) & FD_CLOEXEC, 0);
	same_file(imsg.fd, file);

	/* One open file description: the offset moves for both. */
	ck_assert_int_eq(lseek(file, 0, SEEK_CUR), 6);
	ck_assert_int_eq(lseek(imsg.fd, 2, SEEK_SET), 2);
	ck_assert_int_eq(lseek(file, 0, SEEK_CUR), 2);
	ck_assert_int_eq(read(file, &c, 1), 1);
	ck_assert_int_eq(c, 'c');
	ck_assert_int_eq(lseek(imsg.fd, 0, SEEK_CUR), 3);

	close(imsg.fd);
	imsg_free(&imsg);
	ck_assert_int_eq(imsg_get(&rcv, &imsg), 0);
	close(file);
	imsg_clear(&snd);
	imsg_clear(&rcv);
	close(sv[0]);
	close(sv[1]);
	ck_assert_int_eq(count_open_fds(), base);
}
END_TEST

START_TEST(fd_passing_bytewise)
{
	/* Every third message has a descriptor, including 0-length and max. */
	struct expect	 ex = { 100, len_fd, 3, NULL };
	int		 base;

	base = count_open_fds();
	open_files(&ex);
	pump_bytewise(&ex);
	close_files(&ex);
	ck_assert_int_eq(count_open_fds(), base);
}
END_TEST

START_TEST(fd_passing_interleaved)
{
	/* Whole-socket reads: many messages, and a descriptor, per read. */
	struct expect	 ex = { 200, len_fd, 3, NULL };
	struct imsgbuf	 snd, rcv;
	struct imsg	 imsg;
	int		 sv[2], base, fr;
	size_t		 got = 0;
	ssize_t		 rv;

	base = count_open_fds();
	open_files(&ex);
	mkpair(sv);
	set_nonblock(sv[0]);
	set_nonblock(sv[1]);
	imsg_init(&snd, sv[0]);
	imsg_init(&rcv, sv[1]);
	compose_all(&snd, &ex);
	while (got < ex.n) {
		ck_assert_int_ne(fr = imsg_flush(&snd), -1);
		rv = imsg_read(&rcv);
		if (rv == -1 && errno == EAGAIN) {
			/* Everything was sent, so nothing more will come. */
			ck_assert_msg(fr == 0, "stream ended after %zu of %zu "
			    "messages", got, ex.n);
			continue;
		}
		ck_assert_int_gt(rv, 0);
		while ((rv = imsg_get(&rcv, &imsg)) > 0)
			check_msg(&ex, got++, &imsg, rv);
		ck_assert_int_eq(rv, 0);
	}
	ck_assert_int_eq(rcv.nrfds, 0);
	imsg_clear(&snd);
	imsg_clear(&rcv);
	close(sv[0]);
	close(sv[1]);
	close_files(&ex);
	ck_assert_int_eq(count_open_fds(), base);
}
END_TEST

START_TEST(fd_fifo_order)
{
	struct imsgbuf	 snd, rcv;
	struct imsg	 imsg;
	int		 sv[2], files[3], base, i, fd;

	/* All three descriptors are queued before the first is taken. */
	base = count_open_fds();
	mkpair(sv);
	set_nonblock(sv[1]);
	imsg_init(&snd, sv[0]);
	imsg_init(&rcv, sv[1]);
	for (i = 0; i < 3; i++) {
		files[i] = new_file();
		ck_assert_int_ne(fd = dup(files[i]), -1);
		ck_assert_int_eq(imsg_compose(&snd, i, 0, 0, fd, &i,
		    sizeof(i)), 0);
	}
	ck_assert_int_eq(imsg_flush_all(&snd), 0);
	while (rcv.rlen < 3 * (IMSG_HEADER_SIZE + sizeof(i)))
		ck_assert_int_gt(imsg_read(&rcv), 0);
	ck_assert_int_eq(rcv.nrfds, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(imsg_get(&rcv, &imsg),
		    IMSG_HEADER_SIZE + sizeof(i));
		ck_assert_uint_eq(imsg.hdr.type, i);
		same_file(imsg.fd, files[i]);
		close(imsg.fd);
		imsg_free(&imsg);
		close(files[i]);
	}
	imsg_clear(&snd);
	imsg_clear(&rcv);
	close(sv[0]);
	close(sv[1]);
	ck_assert_int_eq(count_open_fds(), base);
}
END_TEST

START_TEST(bad_len)
{
	static const uint16_t	 lens[] = {
		0, IMSG_HEADER_SIZE - 1, IMSG_MAX_SIZE + 1, UINT16_MAX
	};
	struct imsgbuf		 rcv;
	struct imsg		 imsg;
	int			 sv[2];

	mkpair(sv);
	set_nonblock(sv[1]);
	imsg_init(&rcv, sv[1]);
	raw_header(sv[0], 1, lens[_i], 0);
	ck_assert_int_eq(imsg_read(&rcv), IMSG_HEADER_SIZE);
	errno = 0;
	ck_assert_int_eq(imsg_get(&rcv, &imsg), -1);
	ck_assert_int_eq(errno, EBADMSG);
	imsg_clear(&rcv);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(good_len_limits)
{
	static unsigned char	 buf[IMSG_MAX_DATA];
	struct imsgbuf		 rcv;
	struct imsg		 imsg;
	int			 sv[2];

	/* The bounds themselves are fine: bad_len is not rejecting all. */
	mkpair(sv);
	set_nonblock(sv[1]);
	imsg_init(&rcv, sv[1]);
	raw_header(sv[0], 1, IMSG_HEADER_SIZE, 0);
	raw_header(sv[0], 2, IMSG_MAX_SIZE, 0);
	raw_write(sv[0], buf, sizeof(buf));
	while (rcv.rlen < IMSG_HEADER_SIZE + IMSG_MAX_SIZE)
		ck_assert_int_gt(imsg_read(&rcv), 0);
	ck_assert_int_eq(imsg_get(&rcv, &imsg), IMSG_HEADER_SIZE);
	ck_assert_uint_eq(imsg.hdr.type, 1);
	ck_assert_ptr_null(imsg.data);
	imsg_free(&imsg);
	ck_assert_int_eq(imsg_get(&rcv, &imsg), IMSG_MAX_SIZE);
	ck_assert_uint_eq(imsg.hdr.type, 2);
	imsg_free(&imsg);
	imsg_clear(&rcv);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(hasfd_without_fd)
{
	struct imsgbuf	 rcv;
	struct imsg	 imsg;
	struct imsg_hdr	 h[2];
	int		 sv[2], file, base;

	base = count_open_fds();

	/* A claim with no descriptor at all. */
	mkpair(sv);
	set_nonblock(sv[1]);
	imsg_init(&rcv, sv[1]);
	raw_header(sv[0], 1, IMSG_HEADER_SIZE, IMSGF_HASFD);
	ck_assert_int_eq(imsg_read(&rcv), IMSG_HEADER_SIZE);
	errno = 0;
	ck_assert_int_eq(imsg_get(&rcv, &imsg), -1);
	ck_assert_int_eq(errno, EBADMSG);
	imsg_clear(&rcv);
	close(sv[0]);
	close(sv[1]);

	/* Two claims, one descriptor: the first gets it, the second fails. */
	mkpair(sv);
	set_nonblock(sv[1]);
	imsg_init(&rcv, sv[1]);
	file = new_file();
	memset(h, 0, sizeof(h));
	h[0].type = 1;
	h[0].len = IMSG_HEADER_SIZE;
	h[0].flags = IMSGF_HASFD;
	h[1] = h[0];
	h[1].type = 2;
	raw_send_fds(sv[0], h, sizeof(h), &file, 1);
	ck_assert_int_eq(imsg_read(&rcv), 2 * IMSG_HEADER_SIZE);
	ck_assert_int_eq(imsg_get(&rcv, &imsg), IMSG_HEADER_SIZE);
	ck_assert_uint_eq(imsg.hdr.type, 1);
	same_file(imsg.fd, file);
	close(imsg.fd);
	imsg_free(&imsg);
	errno = 0;
	ck_assert_int_eq(imsg_get(&rcv, &imsg), -1);
	ck_assert_int_eq(errno, EBADMSG);

	imsg_clear(&rcv);
	close(sv[0]);
	close(sv[1]);
	close(file);
	ck_assert_int_eq(count_open_fds(), base);
}
END_TEST

START_TEST(eof_mid_message)
{
	static unsigned char	 body[20];
	struct imsgbuf		 rcv;
	struct imsg		 imsg;
	int			 sv[2];

	mkpair(sv);
	set_nonblock(sv[1]);
	imsg_init(&rcv, sv[1]);
	raw_header(sv[0], 1, IMSG_HEADER_SIZE + 100, 0);
	raw_write(sv[0], body, sizeof(body));
	close(sv[0]);

	ck_assert_int_eq(imsg_read(&rcv), IMSG_HEADER_SIZE + sizeof(body));
	/* Before EOF a partial message is just not ready yet. */
	ck_assert_int_eq(imsg_get(&rcv, &imsg), 0);
	ck_assert_int_eq(imsg_read(&rcv), 0);
	ck_assert_int_ne(rcv.eof, 0);
	errno = 0;
	ck_assert_int_eq(imsg_get(&rcv, &imsg), -1);
	ck_assert_int_eq(errno, EPROTO);
	imsg_clear(&rcv);
	close(sv[1]);
}
END_TEST

START_TEST(eof_mid_header)
{
	static unsigned char	 part[IMSG_HEADER_SIZE - 6];
	struct imsgbuf		 rcv;
	struct imsg		 imsg;
	int			 sv[2];

	mkpair(sv);
	set_nonblock(sv[1]);
	imsg_init(&rcv, sv[1]);
	raw_write(sv[0], part, sizeof(part));
	close(sv[0]);

	ck_assert_int_eq(imsg_read(&rcv), sizeof(part));
	ck_assert_int_eq(imsg_get(&rcv, &imsg), 0);
	ck_assert_int_eq(imsg_read(&rcv), 0);
	errno = 0;
	ck_assert_int_eq(imsg_get(&rcv, &imsg), -1);
	ck_assert_int_eq(errno, EPROTO);
	imsg_clear(&rcv);
	close(sv[1]);
}
END_TEST

START_TEST(eof_at_boundary)
{
	struct imsgbuf	 snd, rcv;
	struct imsg	 imsg;
	int		 sv[2];
	ssize_t		 n;

	mkpair(sv);
	set_nonblock(sv[1]);
	imsg_init(&snd, sv[0]);
	imsg_init(&rcv, sv[1]);
	ck_assert_int_eq(imsg_compose(&snd, 1, 0, 0, -1, "abc", 3), 0);
	ck_assert_int_eq(imsg_compose(&snd, 2, 0, 0, -1, NULL, 0), 0);
	ck_assert_int_eq(imsg_flush_all(&snd), 0);
	close(sv[0]);

	while ((n = imsg_read(&rcv)) > 0)
		;
	ck_assert_int_eq(n, 0);
	ck_assert_int_ne(rcv.eof, 0);
	ck_assert_int_eq(imsg_get(&rcv, &imsg), IMSG_HEADER_SIZE + 3);
	ck_assert_uint_eq(imsg.hdr.type, 1);
	ck_assert_int_eq(memcmp(imsg.data, "abc", 3), 0);
	imsg_free(&imsg);
	ck_assert_int_eq(imsg_get(&rcv, &imsg), IMSG_HEADER_SIZE);
	ck_assert_uint_eq(imsg.hdr.type, 2);
	imsg_free(&imsg);
	ck_assert_int_eq(imsg_get(&rcv, &imsg), 0);
	ck_assert_int_eq(imsg_get(&rcv, &imsg), 0);
	imsg_clear(&snd);
	imsg_clear(&rcv);
	close(sv[1]);
}
END_TEST

START_TEST(write_queue_eagain)
{
	/* 2000 messages of ~8 KiB, every 50th with a descriptor. */
	struct expect	 ex = { 2000, len_8k, 50, NULL };
	struct imsgbuf	 snd, rcv;
	struct imsg	 imsg;
	struct imsg_wbuf *head;
	int		 sv[2], sndbuf = 4096, base, rv, partial = 0;
	size_t		 got = 0;
	ssize_t		 n;

	base = count_open_fds();
	open_files(&ex);
	mkpair(sv);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)), 0);
	set_nonblock(sv[0]);
	set_nonblock(sv[1]);
	imsg_init(&snd, sv[0]);
	imsg_init(&rcv, sv[1]);
	compose_all(&snd, &ex);

	/* Nothing reads yet, so the socket fills and the queue stays. */
	ck_assert_int_eq(imsg_flush(&snd), 0);
	ck_assert_uint_gt(snd.wqlen, ex.n / 2);
	ck_assert_int_eq(imsg_flush(&snd), 0);

	rv = 0;
	while (got < ex.n) {
		n = imsg_read(&rcv);
		if (n == -1) {
			ck_assert_int_eq(errno, EAGAIN);
			ck_assert_msg(rv == 0, "stream ended after %zu of %zu "
			    "messages", got, ex.n);
		} else
			ck_assert_int_gt(n, 0);
		while ((n = imsg_get(&rcv, &imsg)) > 0) {
			ck_assert_uint_lt(got, ex.n);
			check_msg(&ex, got++, &imsg, n);
		}
		ck_assert_int_eq(n, 0);
		ck_assert_int_ne(rv = imsg_flush(&snd), -1);
		head = TAILQ_FIRST(&snd.wq);
		if (head != NULL && head->off > 0 && head->off < head->len)
			partial = 1;
		if (rv == 1)
			ck_assert_uint_eq(snd.wqlen, 0);
	}
	/* A small send buffer must have split some message. */
	ck_assert_int_ne(partial, 0);
	ck_assert_int_eq(imsg_flush(&snd), 1);
	ck_assert_ptr_null(TAILQ_FIRST(&snd.wq));
	imsg_clear(&snd);
	imsg_clear(&rcv);
	close(sv[0]);
	close(sv[1]);
	close_files(&ex);
	ck_assert_int_eq(count_open_fds(), base);
}
END_TEST

START_TEST(compose_too_big)
{
	static unsigned char	 buf[IMSG_MAX_DATA + 1];
	struct imsgbuf		 snd;
	int			 sv[2], fd;

	mkpair(sv);
	imsg_init(&snd, sv[0]);
	fd = new_file();
	errno = 0;
	ck_assert_int_eq(imsg_compose(&snd, 1, 0, 0, fd, buf, sizeof(buf)),
	    -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(snd.wqlen, 0);
	ck_assert_ptr_null(TAILQ_FIRST(&snd.wq));
	/* The imsgbuf owned fd from the call on, even a failed one. */
	ck_assert(is_closed(fd));
	ck_assert_int_eq(imsg_compose(&snd, 1, 0, 0, -1, buf,
	    IMSG_MAX_DATA), 0);
	ck_assert_uint_eq(snd.wqlen, 1);
	imsg_clear(&snd);
	ck_assert_uint_eq(snd.wqlen, 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(too_many_fds)
{
	struct imsgbuf	 rcv;
	int		 sv[2], file, base, i;

	base = count_open_fds();
	mkpair(sv);
	set_nonblock(sv[1]);
	imsg_init(&rcv, sv[1]);
	file = new_file();
	/* Reading without taking messages lets descriptors pile up. */
	for (i = 0; i < IMSG_MAX_QUEUED_FDS; i++) {
		raw_send_fds(sv[0], "x", 1, &file, 1);
		ck_assert_int_eq(imsg_read(&rcv), 1);
	}
	ck_assert_int_eq(rcv.nrfds, IMSG_MAX_QUEUED_FDS);
	raw_send_fds(sv[0], "x", 1, &file, 1);
	errno = 0;
	ck_assert_int_eq(imsg_read(&rcv), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(rcv.nrfds, IMSG_MAX_QUEUED_FDS);
	/* The extra one was closed, and clear closes the queued ones. */
	ck_assert_int_eq(count_open_fds(), base + 3 + IMSG_MAX_QUEUED_FDS);
	imsg_clear(&rcv);
	ck_assert_int_eq(rcv.nrfds, 0);
	ck_assert_int_eq(count_open_fds(), base + 3);
	close(sv[0]);
	close(sv[1]);
	close(file);
	ck_assert_int_eq(count_open_fds(), base);
}
END_TEST

START_TEST(fd_batch_truncated)
{
	struct imsgbuf	 rcv;
	int		 sv[2], file, base, i;
	int		 fds[IMSG_MAX_QUEUED_FDS + 1];

	base = count_open_fds();
	mkpair(sv);
	set_nonblock(sv[1]);
	imsg_init(&rcv, sv[1]);
	file = new_file();
	for (i = 0; i < IMSG_MAX_QUEUED_FDS + 1; i++)
		fds[i] = file;
	raw_send_fds(sv[0], "x", 1, fds, IMSG_MAX_QUEUED_FDS + 1);
	errno = 0;
	ck_assert_int_eq(imsg_read(&rcv), -1);
	ck_assert_int_eq(errno, EBADMSG);
	/* Whatever did arrive of a truncated batch was closed. */
	ck_assert_int_eq(rcv.nrfds, 0);
	ck_assert_int_eq(count_open_fds(), base + 3);
	imsg_clear(&rcv);
	close(sv[0]);
	close(sv[1]);
	close(file);
	ck_assert_int_eq(count_open_fds(), base);
}
END_TEST

START_TEST(clear_closes_queued_fds)
{
	struct imsgbuf	 snd;
	int		 sv[2], fd;

	mkpair(sv);
	imsg_init(&snd, sv[0]);
	fd = new_file();
	ck_assert_int_eq(imsg_compose(&snd, 1, 0, 0, fd, NULL, 0), 0);
	ck_assert(!is_closed(fd));
	imsg_clear(&snd);
	ck_assert(is_closed(fd));
	ck_assert_uint_eq(snd.wqlen, 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(flush_peer_gone)
{
	struct imsgbuf	 snd;
	int		 sv[2];

	/* MSG_NOSIGNAL: a SIGPIPE here would kill the test. */
	mkpair(sv);
	close(sv[1]);
	imsg_init(&snd, sv[0]);
	ck_assert_int_eq(imsg_compose(&snd, 1, 0, 0, -1, "x", 1), 0);
	errno = 0;
	ck_assert_int_eq(imsg_flush(&snd), -1);
	ck_assert_int_eq(errno, EPIPE);
	errno = 0;
	ck_assert_int_eq(imsg_flush_all(&snd), -1);
	ck_assert_int_eq(errno, EPIPE);
	imsg_clear(&snd);
	close(sv[0]);
}
END_TEST

Suite *
imsg_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("imsg");
	tc = tcase_create("imsg");
	/* Generous for a loaded CI host under ASan; each runs well below. */
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, many_messages_bytewise);
	tcase_add_test(tc, fd_passing);
	tcase_add_test(tc, fd_passing_bytewise);
	tcase_add_test(tc, fd_passing_interleaved);
	tcase_add_test(tc, fd_fifo_order);
	tcase_add_loop_test(tc, bad_len, 0, 4);
	tcase_add_test(tc, good_len_limits);
	tcase_add_test(tc, hasfd_without_fd);
	tcase_add_test(tc, eof_mid_message);
	tcase_add_test(tc, eof_mid_header);
	tcase_add_test(tc, eof_at_boundary);
	tcase_add_test(tc, write_queue_eagain);
	tcase_add_test(tc, compose_too_big);
	tcase_add_test(tc, too_many_fds);
	tcase_add_test(tc, fd_batch_truncated);
	tcase_add_test(tc, clear_closes_queued_fds);
	tcase_add_test(tc, flush_peer_gone);
	suite_add_tcase(s, tc);
	return (s);
}
