/*
 * Spawning privilege-separated children and talking to them (the
 * children confine themselves: sandbox.c).
 *
 * Children are re-executed (as OpenBSD daemons do with -P name) rather
 * than only forked: each gets a fresh address-space layout, none of the
 * parent's memory (key material, tokens), and an environment that no
 * longer holds what only the parent may use.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

/* Variables that belong to the parent alone (systemd's protocol). */
static const char *const parent_only_env[] = {
	"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
	"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
};

static void	 imsgev_update(struct imsgev *);
static int	 imsgev_io(sd_event_source *, int, uint32_t, void *);

int
imsgev_init(struct imsgev *iev, sd_event *ev, int fd, const char *peer,
    imsgev_dispatch_cb dispatch, imsgev_closed_cb closed, void *data)
{
	int	 r;

	memset(iev, 0, sizeof(*iev));
	imsg_init(&iev->ibuf, fd);
	iev->peer = peer;
	iev->dispatch = dispatch;
	iev->closed = closed;
	iev->data = data;
	r = sd_event_add_io(ev, &iev->src, fd, EPOLLIN, imsgev_io, iev);
	if (r < 0) {
		errno = -r;
		return (-1);
	}
	iev->open = 1;
	return (0);
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	if (!iev->open) {
		if (fd != -1)
			close(fd);
		errno = EPIPE;
		return (-1);
	}
	if (imsg_compose(&iev->ibuf, type, peerid, getpid(), fd, data,
	    len) == -1)
		return (-1);
	imsgev_update(iev);
	return (0);
}

void
imsgev_close(struct imsgev *iev)
{
	if (!iev->open)
		return;
	iev->open = 0;
	iev->src = sd_event_source_disable_unref(iev->src);
	imsg_clear(&iev->ibuf);
	close(iev->ibuf.fd);
	iev->ibuf.fd = -1;
}

static void
imsgev_update(struct imsgev *iev)
{
	uint32_t	 events = EPOLLIN;

	if (!iev->open)
		return;
	if (!TAILQ_EMPTY(&iev->ibuf.wq))
		events |= EPOLLOUT;
	if (sd_event_source_set_io_events(iev->src, events) < 0)
		fatalx("%s: cannot update event mask", iev->peer);
}

/* Tell the owner once, then stop listening to a channel that failed. */
static void
imsgev_fail(struct imsgev *iev)
{
	imsgev_close(iev);
	if (iev->closed != NULL)
		iev->closed(iev);
}

static int
imsgev_io(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	ssize_t		 n;

	(void)s;
	(void)fd;
	if (revents & EPOLLOUT) {
		if (imsg_flush(&iev->ibuf) == -1) {
			if (errno != EPIPE)
				log_warn("write to %s", iev->peer);
			imsgev_fail(iev);
			return (0);
		}
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		n = imsg_read(&iev->ibuf);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			if (errno != ECONNRESET)
				log_warn("read from %s", iev->peer);
			imsgev_fail(iev);
			return (0);
		}
		while (iev->open) {
			n = imsg_get(&iev->ibuf, &imsg);
			if (n == -1) {
				log_warn("bad imsg from %s", iev->peer);
				imsgev_fail(iev);
				return (0);
			}
			if (n == 0)
				break;
			iev->dispatch(iev, &imsg);
			imsg_free(&imsg);
		}
		if (iev->open && iev->ibuf.eof) {
			imsgev_fail(iev);
			return (0);
		}
	}
	imsgev_update(iev);
	return (0);
}

pid_t
proc_spawn(const char *name, int fd, char *const *argv)
{
	sigset_t	 none;
	pid_t		 pid;
	size_t		 i;
	ssize_t		 n;
	char		 self[PATH_MAX];

	switch ((pid = fork())) {
	case -1:
		fatal("fork %s", name);
	case 0:
		break;
	default:
		return (pid);
	}

	if (fd == PROC_PARENT_FD) {
		if (fcntl(fd, F_SETFD, 0) == -1)
			goto fail;
	} else if (dup2(fd, PROC_PARENT_FD) == -1)
		goto fail;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		goto fail;
	for (i = 0; i < sizeof(parent_only_env) / sizeof(*parent_only_env);
	    i++)
		unsetenv(parent_only_env[i]);
	/*
	 * The running binary by its path first: valgrind cannot follow an
	 * execve of /proc/self/exe (there it names valgrind's tool), and
	 * reports the client's path to readlink.  A binary replaced since
	 * the start reads "... (deleted)": then /proc/self/exe, the one
	 * that runs.
	 */
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		execv(self, argv);
	}
	execv("/proc/self/exe", argv);
 fail:
	log_warn("cannot start %s", name);
	_exit(1);
}

void
proc_block_signals(void)
{
	sigset_t	 set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
}
