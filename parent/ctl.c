/*
 * The client side of the control socket (see ctl.h and control.c).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "shipper.h"

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* The next message, waiting until DEADLINE; 1, 0 on EOF, -1 on error. */
static int
ctl_next(struct ctl_client *c, struct imsg *imsg, int64_t deadline,
    char *err, size_t errlen)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	int64_t		 left;

	for (;;) {
		if ((n = imsg_get(&c->ibuf, imsg)) == -1) {
			snprintf(err, errlen, "bad message from the daemon: %s",
			    strerror(errno));
			return (-1);
		}
		if (n > 0)
			return (1);
		if ((left = deadline - now_ms()) <= 0) {
			snprintf(err, errlen, "the daemon did not answer in "
			    "time");
			return (-1);
		}
		pfd.fd = c->ibuf.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return (-1);
		}
		if (pfd.revents == 0)
			continue;
		if ((n = imsg_read(&c->ibuf)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			snprintf(err, errlen, "read: %s", strerror(errno));
			return (-1);
		}
		if (n == 0 || c->ibuf.eof) {
			/* What was read may still hold whole messages. */
			if ((n = imsg_get(&c->ibuf, imsg)) > 0)
				return (1);
			snprintf(err, errlen, "the daemon closed the "
			    "connection");
			return (0);
		}
	}
}

static int
ctl_send(struct ctl_client *c, uint32_t type, const void *data, size_t len,
    char *err, size_t errlen)
{
	if (imsg_compose(&c->ibuf, type, 0, getpid(), -1, data, len) == -1 ||
	    imsg_flush_all(&c->ibuf) == -1) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		return (-1);
	}
	return (0);
}

/* A CTL_ERROR's text, made safe to print. */
static void
ctl_error_text(struct imsg *imsg, char *err, size_t errlen)
{
	size_t	 len = imsg->hdr.len - IMSG_HEADER_SIZE, i;
	char	*s = imsg->data;

	if (len >= errlen)
		len = errlen - 1;
	for (i = 0; i < len && s[i] != '\0'; i++)
		err[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	err[i] = '\0';
}

int
ctl_open(struct ctl_client *c, const char *path, int timeout_ms,
    enum ctl_failure *why, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct ctl_hello	 hello;
	struct imsg		 imsg;
	int			 fd, r;

	memset(c, 0, sizeof(*c));
	*why = CTL_BROKEN;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			*why = CTL_DOWN;
		else if (errno == EACCES || errno == EPERM)
			*why = CTL_DENIED;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return (-1);
	}
	imsg_init(&c->ibuf, fd);
	c->open = 1;
	hello.version = CTL_PROTO_VERSION;
	if (ctl_send(c, IMSG_CTL_HELLO, &hello, sizeof(hello), err,
	    errlen) == -1)
		goto fail;
	if ((r = ctl_next(c, &imsg, now_ms() + timeout_ms, err, errlen)) != 1)
		goto fail;
	if (imsg.hdr.type == IMSG_CTL_ERROR) {
		ctl_error_text(&imsg, err, errlen);
		if (strncmp(err, "permission denied", 17) == 0)
			*why = CTL_DENIED;
		imsg_free(&imsg);
		goto fail;
	}
	if (imsg.hdr.type != IMSG_CTL_HELLO ||
	    imsg.hdr.len != IMSG_HEADER_SIZE + sizeof(hello)) {
		snprintf(err, errlen, "unexpected answer to hello");
		imsg_free(&imsg);
		goto fail;
	}
	imsg_free(&imsg);
	return (0);
 fail:
	ctl_close(c);
	return (-1);
}

int
ctl_request(struct ctl_client *c, uint32_t type, int timeout_ms,
    void (*cb)(struct imsg *, void *), void *arg, char *err, size_t errlen)
{
	struct imsg	 imsg;
	int64_t		 deadline = now_ms() + timeout_ms;
	int		 r;

	if (!c->open) {
		snprintf(err, errlen, "not connected");
		return (-1);
	}
	if (ctl_send(c, type, NULL, 0, err, errlen) == -1)
		return (-1);
	for (;;) {
		if ((r = ctl_next(c, &imsg, deadline, err, errlen)) != 1)
			return (-1);
		switch (imsg.hdr.type) {
		case IMSG_CTL_END:
			imsg_free(&imsg);
			return (0);
		case IMSG_CTL_ERROR:
			ctl_error_text(&imsg, err, errlen);
			imsg_free(&imsg);
			return (-1);
		default:
			if (imsg.hdr.type != type) {
				snprintf(err, errlen, "unexpected answer "
				    "type %u", imsg.hdr.type);
				imsg_free(&imsg);
				return (-1);
			}
			cb(&imsg, arg);
			imsg_free(&imsg);
		}
	}
}

void
ctl_close(struct ctl_client *c)
{
	if (!c->open)
		return;
	imsg_clear(&c->ibuf);
	close(c->ibuf.fd);
	c->open = 0;
}

void
ctl_got_status(struct imsg *imsg, void *arg)
{
	if (imsg->hdr.len != IMSG_HEADER_SIZE + sizeof(struct ctl_status))
		fatalx("status answer of bad size %u", imsg->hdr.len);
	memcpy(arg, imsg->data, sizeof(struct ctl_status));
}
