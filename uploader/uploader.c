/*
 * The uploader: sends spool archives to the receiver, as the sandbox
 * account, with key material the parent hands over as memory files.
 *
 * Protocol with the parent (shipper.h): CRED_CA, CRED_CERT, CRED_KEY and
 * CRED_TOKEN, each with a memfd, then CRED_DONE with our host id; only
 * then UPLOAD_JOB (+ the archive's fd) and PING.  Every job gets exactly
 * one UPLOAD_RESULT, every ping one PING_RESULT.
 *
 * A transfer blocks the event loop, by design: while it runs, the
 * progress callback talks to the parent directly (compose and flush),
 * and ends the transfer early when the parent's channel is closed or a
 * stop signal is pending, so a stopping daemon never waits for an
 * upload.
 *
 * The parent resolves the receiver's name and passes the addresses
 * (IMSG_RESOLVED, used as CURLOPT_RESOLVE): the sandboxed uploader
 * reads no file and starts no resolver thread.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "shipper.h"
#include "util.h"
#include "uploader/classify.h"
#include "uploader/http.h"

/* Progress to the parent: at most this often ... */
#define PROGRESS_MIN_MS		250
/* ... and at least this often, even when no byte moved. */
#define PROGRESS_MAX_MS		1000
/* Unsent progress messages beyond which new ones are dropped. */
#define PROGRESS_QUEUE_MAX	8

enum cred {
	CRED_CA,
	CRED_CERT,
	CRED_KEY,
	CRED_TOKEN,
	CRED_NUM
};

static const char *const cred_names[CRED_NUM] = {
	"CA", "certificate", "key", "token"
};

struct progress_state {
	const struct upload_job	*job;
	struct timespec		 last;
	uint64_t		 last_done;
	int			 sent;
};

static void	 uploader_dispatch(struct imsgev *, struct imsg *);
static void	 cred_read(enum cred, struct imsg *);
static void	 cred_done(struct imsg *);
static void	 do_upload(struct imsg *);
static void	 do_ping(struct imsg *);
static void	 resolved(struct imsg *);
static int	 upload_progress(void *, uint64_t, uint64_t);
static int	 stopping(void);
static int64_t	 ms_since(const struct timespec *);

static struct imsgev		 iev_parent;
static struct shipper_conf	*conf;
static struct http		*http;
static char			*creds[CRED_NUM];
static size_t			 cred_len[CRED_NUM];
static char			 host[ID_MAXLEN + 1];

void
uploader_main(struct shipper_conf *c)
{
	struct sandbox_opts	 so;
	sd_event		*ev;
	char			 name[256];

	conf = c;
	ev = child_start(PROC_UPLOADER, conf->sandbox_user, &iev_parent,
	    uploader_dispatch);
	/*
	 * Now, before any sandbox: libcurl and OpenSSL read their
	 * configuration once, at global init, and glibc reads
	 * /etc/localtime on the first gmtime_r (OpenSSL's certificate
	 * time checks), unless tzset() has done it already.
	 */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	tzset();
	/*
	 * Key material arrives as memfds, archives as descriptors, and
	 * the receiver's addresses from the parent (IMSG_RESOLVED): no
	 * file and no name lookup from here on.
	 */
	memset(&so, 0, sizeof(so));
	so.chroot = SANDBOX_EMPTY_DIR;
	so.data_fd = -1;
	if (conf->receiver_url == NULL || http_url_hostport(
	    conf->receiver_url, name, sizeof(name), &so.tcp_port) == -1)
		so.tcp_port = 0;
	so.debug = log_getverbose() >= 2;
	sandbox_enter(SANDBOX_UPLOADER, &so);
	child_run(ev);
}

static void
uploader_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	if (child_hello(iev, imsg, PROC_UPLOADER))
		return;
	/* Only these carry a descriptor; a stray one is a protocol error. */
	if (imsg->fd != -1 && imsg->hdr.type != IMSG_UPLOAD_JOB &&
	    (imsg->hdr.type < IMSG_CRED_CA || imsg->hdr.type > IMSG_CRED_TOKEN))
		fatalx("parent sent a descriptor with imsg type %u",
		    imsg->hdr.type);

	switch (imsg->hdr.type) {
	case IMSG_CRED_CA:
		cred_read(CRED_CA, imsg);
		break;
	case IMSG_CRED_CERT:
		cred_read(CRED_CERT, imsg);
		break;
	case IMSG_CRED_KEY:
		cred_read(CRED_KEY, imsg);
		break;
	case IMSG_CRED_TOKEN:
		cred_read(CRED_TOKEN, imsg);
		break;
	case IMSG_CRED_DONE:
		cred_done(imsg);
		break;
	case IMSG_UPLOAD_JOB:
		do_upload(imsg);
		break;
	case IMSG_PING:
		do_ping(imsg);
		break;
	case IMSG_RESOLVED:
		resolved(imsg);
		break;
	default:
		fatalx("unexpected imsg type %u from parent", imsg->hdr.type);
	}
}

/* The parent resolved the receiver's name: libcurl gets only that. */
static void
resolved(struct imsg *imsg)
{
	struct resolved	 r;
	char		 want[300], name[256];
	size_t		 n;
	int		 port;

	if (imsg->hdr.len != IMSG_HEADER_SIZE + sizeof(r))
		fatalx("RESOLVED: bad imsg size %u", imsg->hdr.len);
	if (http == NULL)
		fatalx("protocol error: RESOLVED before CRED_DONE");
	memcpy(&r, imsg->data, sizeof(r));
	if (memchr(r.entry, '\0', sizeof(r.entry)) == NULL)
		fatalx("RESOLVED: entry not terminated");
	if (r.error) {
		log_debug("receiver name not resolved: %s", log_esc(r.entry));
		http_set_resolve(http, NULL, r.entry);
		return;
	}
	/* Only for our receiver's host and port, only addresses. */
	if (http_url_hostport(conf->receiver_url, name, sizeof(name),
	    &port) == -1)
		fatalx("receiver URL %s: no host", log_esc(conf->receiver_url));
	n = (size_t)snprintf(want, sizeof(want), "%s:%d:", name, port);
	if (n >= sizeof(want) || strncmp(r.entry, want, n) != 0 ||
	    r.entry[n] == '\0' ||
	    strspn(r.entry + n, "0123456789abcdefABCDEF.:,[]") !=
	    strlen(r.entry + n))
		fatalx("RESOLVED: bad entry %s", log_esc(r.entry));
	log_debug("receiver resolved: %s", log_esc(r.entry));
	http_set_resolve(http, r.entry, NULL);
}

/* Read a memfd whole (it is the parent's copy of a key file). */
static void
cred_read(enum cred which, struct imsg *imsg)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd = imsg->fd;

	if (imsg->hdr.len != IMSG_HEADER_SIZE)
		fatalx("credential %s: bad imsg size %u", cred_names[which],
		    imsg->hdr.len);
	if (http != NULL)
		fatalx("protocol error: credential %s after CRED_DONE",
		    cred_names[which]);
	if (fd == -1)
		fatalx("credential %s came without its descriptor",
		    cred_names[which]);
	if (fstat(fd, &st) == -1)
		fatal("credential %s", cred_names[which]);
	if (st.st_size > CRED_MAX_SIZE)
		fatalx("credential %s is %lld bytes, more than %d: check the "
		    "file named in the configuration", cred_names[which],
		    (long long)st.st_size, CRED_MAX_SIZE);
	/* One byte more than allowed tells a file that grew meanwhile. */
	if ((buf = malloc(CRED_MAX_SIZE + 2)) == NULL)
		fatal("credential %s", cred_names[which]);
	for (;;) {
		n = pread(fd, buf + len, CRED_MAX_SIZE + 1 - len, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fatal("credential %s: read", cred_names[which]);
		if (n == 0)
			break;
		len += n;
		if (len > CRED_MAX_SIZE)
			fatalx("credential %s is larger than %d bytes",
			    cred_names[which], CRED_MAX_SIZE);
	}
	close(fd);
	imsg->fd = -1;
	if (len == 0)
		fatalx("credential %s is empty: check the file named in the "
		    "configuration", cred_names[which]);
	buf[len] = '\0';
	if (which == CRED_TOKEN) {
		/* The token file ends in a newline; the header must not. */
		while (len > 0 && strchr(" \t\r\n", buf[len - 1]) != NULL)
			buf[--len] = '\0';
		if (len == 0)
			fatalx("the token file is blank: put the token the "
			    "receiver gave this host in it");
	}
	if (creds[which] != NULL) {
		explicit_bzero(creds[which], cred_len[which]);
		free(creds[which]);
	}
	creds[which] = buf;
	cred_len[which] = len;
}

static void
cred_done(struct imsg *imsg)
{
	struct cred_done	 cd;
	struct http_config	 hc;
	int			 i;

	if (imsg->hdr.len != IMSG_HEADER_SIZE + sizeof(cd))
		fatalx("CRED_DONE: bad imsg size %u", imsg->hdr.len);
	if (http != NULL)
		fatalx("protocol error: CRED_DONE twice");
	memcpy(&cd, imsg->data, sizeof(cd));
	if (memchr(cd.host, '\0', sizeof(cd.host)) == NULL ||
	    !valid_id(cd.host))
		fatalx("CRED_DONE: invalid host id %s",
		    log_escn(cd.host, strnlen(cd.host, sizeof(cd.host))));
	for (i = 0; i < CRED_NUM; i++)
		if (creds[i] == NULL)
			fatalx("protocol error: CRED_DONE without the %s",
			    cred_names[i]);
	strlcpy(host, cd.host, sizeof(host));

	memset(&hc, 0, sizeof(hc));
	hc.url = conf->receiver_url;
	hc.host = host;
	hc.token = creds[CRED_TOKEN];
	hc.ca = creds[CRED_CA];
	hc.ca_len = cred_len[CRED_CA];
	hc.cert = creds[CRED_CERT];
	hc.cert_len = cred_len[CRED_CERT];
	hc.key = creds[CRED_KEY];
	hc.key_len = cred_len[CRED_KEY];
	hc.max_rate = conf->upload_max_rate;
	/*
	 * Give up on a stalled link before the watchdog gives up on us:
	 * a connection or TLS handshake that hangs moves no bytes either.
	 */
	if (conf->stall_timeout > 0 && conf->stall_timeout / 2 < 60) {
		hc.low_speed_time = conf->stall_timeout / 2 > 5 ?
		    conf->stall_timeout / 2 : 5;
		hc.connect_timeout = hc.low_speed_time;
	}
	if (hc.url == NULL)
		fatalx("no receiver URL in the configuration");
	http = http_new(&hc);
	log_debug("credentials loaded, host %s, receiver %s", host,
	    log_esc(hc.url));
}

static void
do_upload(struct imsg *imsg)
{
	struct upload_job	 job;
	struct upload_result	 res;
	struct progress_state	 ps;
	int			 fd = imsg->fd;

	if (imsg->hdr.len != IMSG_HEADER_SIZE + sizeof(job))
		fatalx("UPLOAD_JOB: bad imsg size %u", imsg->hdr.len);
	if (http == NULL)
		fatalx("protocol error: UPLOAD_JOB before CRED_DONE");
	if (fd == -1)
		fatalx("UPLOAD_JOB came without the archive's descriptor");
	memcpy(&job, imsg->data, sizeof(job));
	if (memchr(job.id, '\0', sizeof(job.id)) == NULL || !valid_id(job.id))
		fatalx("UPLOAD_JOB: invalid episode id %s",
		    log_escn(job.id, strnlen(job.id, sizeof(job.id))));

	memset(&ps, 0, sizeof(ps));
	ps.job = &job;
	log_debug("episode %s: uploading %llu bytes", job.id,
	    (unsigned long long)job.size);
	http_upload(http, &job, fd, upload_progress, &ps, &res);
	close(fd);
	imsg->fd = -1;

	if (res.action == ACTION_RETIRE)
		log_info("episode %s: %s (HTTP %d)", job.id, res.detail,
		    res.http_status);
	else
		log_warnx("episode %s: %s, %s: %s", job.id,
		    answer_class_name(res.class),
		    answer_action_name(res.action), res.detail);
	if (imsgev_compose(&iev_parent, IMSG_UPLOAD_RESULT, 0, -1, &res,
	    sizeof(res)) == -1)
		log_warn("episode %s: cannot report the result", job.id);
}

static void
do_ping(struct imsg *imsg)
{
	struct ping_result	 res;

	if (imsg->hdr.len != IMSG_HEADER_SIZE)
		fatalx("PING: bad imsg size %u", imsg->hdr.len);
	if (http == NULL)
		fatalx("protocol error: PING before CRED_DONE");
	http_ping(http, &res);
	log_debug("ping: step %d, HTTP %d: %s", res.step, res.http_status,
	    res.detail);
	if (imsgev_compose(&iev_parent, IMSG_PING_RESULT, 0, -1, &res,
	    sizeof(res)) == -1)
		log_warn("cannot report the ping result");
}

static int64_t
ms_since(const struct timespec *then)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((int64_t)(now.tv_sec - then->tv_sec) * 1000 +
	    (now.tv_nsec - then->tv_nsec) / 1000000);
}

/*
 * The parent closed our channel, or we were told to stop.  The signals
 * are blocked (sd-event takes them from a signalfd), so a pending one is
 * visible here while the loop is busy with the transfer.
 */
static int
stopping(void)
{
	struct pollfd	 pfd;
	sigset_t	 set;

	if (!iev_parent.open)
		return (1);
	pfd.fd = iev_parent.ibuf.fd;
	pfd.events = POLLIN | POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0)
		return (1);
	if (sigpending(&set) == 0 && (sigismember(&set, SIGTERM) == 1 ||
	    sigismember(&set, SIGINT) == 1))
		return (1);
	return (0);
}

static int
upload_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress_state	*ps = arg;
	struct progress		 p;
	int64_t			 ms;

	if (stopping())
		return (1);
	if (done > 0 && done < total)
		crashpoint("upload");
	ms = ms_since(&ps->last);
	if (ps->sent && ms < PROGRESS_MAX_MS &&
	    (done == ps->last_done || ms < PROGRESS_MIN_MS))
		return (0);
	clock_gettime(CLOCK_MONOTONIC, &ps->last);
	ps->last_done = done;
	ps->sent = 1;

	/* A parent that does not read gets no more than a few behind. */
	if (iev_parent.ibuf.wqlen < PROGRESS_QUEUE_MAX) {
		memset(&p, 0, sizeof(p));
		strlcpy(p.id, ps->job->id, sizeof(p.id));
		p.done = done;
		p.total = total;
		if (imsgev_compose(&iev_parent, IMSG_UPLOAD_PROGRESS, 0, -1,
		    &p, sizeof(p)) == -1)
			return (1);
	}
	if (imsg_flush(&iev_parent.ibuf) == -1 && errno != EAGAIN &&
	    errno != EINTR)
		return (1);
	return (0);
}
