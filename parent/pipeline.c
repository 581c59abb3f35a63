/*
 * The parent's side of the pipeline (the flow is drawn above enum
 * imsg_type in shipper.h).  The parent keeps one pack and one upload
 * going, relays between the children after checking each message's
 * size, and turns upload answers into actions (DESIGN §6): retire,
 * quarantine, pause on credentials, or back off with full jitter.  It
 * parses nothing from the network: the uploader classifies answers.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netdb.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "imsg.h"
#include "log.h"
#include "shipper.h"
#include "util.h"
#include "uploader/classify.h"
#include "uploader/http.h"

static struct {
	struct shipper_conf	*conf;
	sd_event		*ev;
	enum shipper_mode	 mode;
	int			 started;	/* every child said hello */
	int			 ready;		/* first pass reported */
	struct scan_report	 report;

	int			 pack_asked, packing, pack_none;
	char			 pack_id[ID_MAXLEN + 1];
	struct stall		 pack_stall;

	int			 upload_asked, uploading, upload_none;
	int			 upload_refused;	/* `once`: 401/403 */
	unsigned int		 retiring;	/* answered, not yet retired */
	char			 upload_id[ID_MAXLEN + 1];
	struct progress		 upload_progress;
	struct stall		 upload_stall;

	struct backoff		 backoff;
	sd_event_source		*wait_timer;	/* backoff or pause */
	int			 waiting;

	unsigned int		 shipped, failed;
	unsigned int		 held;		/* ready, held back for space */

	/* For `status` and `doctor` (control.c). */
	time_t			 started_at;	/* wall clock */
	struct timespec		 heartbeat;	/* monotonic, last pass */
	uint64_t		 wait_until_ms;	/* monotonic, while waiting */
	int			 paused;	/* 401/403 */
	uint64_t		 pack_done, pack_total;
	time_t			 last_success;
	char			 last_success_id[ID_MAXLEN + 1];
} pl;

static void	 kick(void);
static void	 send_creds(void);
static void	 send_resolved(void);
static void	 upload_result(const struct upload_result *);
static int	 wait_over(sd_event_source *, uint64_t, void *);
static void	 once_check(void);
static void	 heartbeat(void);
static void	 status(void);
static int	 wedged_why(char *, size_t);
static uint64_t	 monotonic_ms(void);
static void	 answer_record(enum answer_class, int, const char *,
		    const char *);

void
pipeline_init(struct shipper_conf *conf, sd_event *ev, enum shipper_mode mode)
{
	memset(&pl, 0, sizeof(pl));
	pl.conf = conf;
	pl.ev = ev;
	pl.mode = mode;
	pl.started_at = time(NULL);
	backoff_init(&pl.backoff, conf->backoff_base, conf->backoff_cap);
}

/* All children said hello. */
void
pipeline_start(void)
{
	/* Credentials first: the uploader takes no job before them. */
	send_creds();
	pl.started = 1;
	if (pl.mode == MODE_PING)
		parent_send(PROC_UPLOADER, IMSG_PING, -1, NULL, 0);
	/* The first pass may have been reported already. */
	if (pl.ready)
		notify_ready();
	kick();
}

/* The scanner finished a pass: systemd hears about it. */
static void
heartbeat(void)
{
	char	 why[ID_MAXLEN + 128];
	int	 wedged;

	clock_gettime(CLOCK_MONOTONIC, &pl.heartbeat);
	wedged = wedged_why(why, sizeof(why));
	notify_heartbeat(wedged, why);
	if (pl.started)
		notify_ready();
	status();
}

/* A pack or upload without progress for stall-timeout, and which. */
static int
wedged_why(char *why, size_t len)
{
	time_t	 limit = pl.conf->stall_timeout;

	why[0] = '\0';
	if (stall_check(&pl.pack_stall, pl.packing, limit)) {
		snprintf(why, len, "%s: packing made no progress for %llds",
		    pl.pack_id, (long long)limit);
		return (1);
	}
	if (stall_check(&pl.upload_stall, pl.uploading, limit)) {
		snprintf(why, len, "%s: upload made no progress for %llds",
		    pl.upload_id, (long long)limit);
		return (1);
	}
	return (0);
}

static uint64_t
monotonic_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Everything `status` shows and `doctor` judges, from the daemon. */
void
pipeline_status(struct ctl_status *st)
{
	uint64_t	 now = monotonic_ms(), hb;

	memset(st, 0, sizeof(*st));
	st->now = time(NULL);
	st->started = pl.started_at;
	st->pid = getpid();
	st->ready = pl.ready;
	st->started_children = pl.started;
	if (pl.heartbeat.tv_sec == 0 && pl.heartbeat.tv_nsec == 0)
		st->heartbeat_age_ms = -1;
	else {
		hb = (uint64_t)pl.heartbeat.tv_sec * 1000 +
		    (uint64_t)pl.heartbeat.tv_nsec / 1000000;
		st->heartbeat_age_ms = now > hb ? (int64_t)(now - hb) : 0;
	}
	st->wedged = wedged_why(st->wedged_why, sizeof(st->wedged_why));
	st->report = pl.report;
	st->report.held = pl.held;
	if (pl.packing) {
		strlcpy(st->pack_id, pl.pack_id, sizeof(st->pack_id));
		st->pack_done = pl.pack_done;
		st->pack_total = pl.pack_total;
	}
	if (pl.uploading) {
		strlcpy(st->upload_id, pl.upload_id, sizeof(st->upload_id));
		if (strcmp(pl.upload_progress.id, pl.upload_id) == 0) {
			st->upload_done = pl.upload_progress.done;
			st->upload_total = pl.upload_progress.total;
		}
	}
	if (pl.waiting && pl.wait_until_ms > now)
		st->wait_ms = (int64_t)(pl.wait_until_ms - now);
	st->paused = pl.waiting && pl.paused;
	st->backoff_failures = pl.backoff.attempt;
	st->last_success = pl.last_success;
	strlcpy(st->last_success_id, pl.last_success_id,
	    sizeof(st->last_success_id));
	st->shipped = pl.shipped;
	answers_counts(CTL_WINDOW_SHORT, st->counts_short);
	answers_counts(CTL_WINDOW_LONG, st->counts_long);
	st->scan_interval = pl.conf->scan_interval;
	st->stall_timeout = pl.conf->stall_timeout;
	st->min_free_space = pl.conf->min_free_space;
	st->min_free_inodes = pl.conf->min_free_inodes;
	st->quarantine_keep_days = pl.conf->quarantine_keep_days;
}

/*
 * Every answer once in the log, in one fixed form: `doctor` classifies
 * these lines from the journal when it cannot ask the daemon.
 */
static void
answer_record(enum answer_class class, int http_status, const char *id,
    const char *detail)
{
	answers_add(class, http_status, id, detail);
	if (class == CLASS_STORED)
		return;
	log_warnx("answer %s: %s: HTTP %d: %s", answer_class_name(class), id,
	    http_status, log_esc(detail));
}

/* STATUS=: "3 pending, shipping ep-123 41%". */
static void
status(void)
{
	unsigned int	 pending = pl.report.ready + pl.report.packed;

	if (pl.uploading && pl.upload_progress.total > 0 &&
	    strcmp(pl.upload_progress.id, pl.upload_id) == 0)
		notify_status("%u pending, shipping %s %llu%%", pending,
		    pl.upload_id, (unsigned long long)(pl.upload_progress.done *
		    100 / pl.upload_progress.total));
	else if (pl.uploading)
		notify_status("%u pending, shipping %s", pending, pl.upload_id);
	else if (pl.packing)
		notify_status("%u pending, packing %s", pending, pl.pack_id);
	else if (pl.waiting)
		notify_status("%u pending, waiting to retry", pending);
	else
		notify_status("%u pending, idle", pending);
}

/*
 * Key material goes to the uploader as memfds: it opens no files, and
 * a CA bundle is larger than an imsg.
 */
static int
file_memfd(const char *path, const char *name, int strip_newline)
{
	char		 buf[8192];
	struct stat	 st;
	ssize_t		 n;
	size_t		 total = 0;
	int		 in, out;

	if ((in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		fatal("%s", path);
	if (fstat(in, &st) == -1 || st.st_size > CRED_MAX_SIZE)
		fatalx("%s: larger than %d bytes", path, CRED_MAX_SIZE);
	if ((out = memfd_create(name, MFD_CLOEXEC)) == -1)
		fatal("memfd_create");
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		total += n;
		if (total > CRED_MAX_SIZE)
			fatalx("%s: larger than %d bytes", path, CRED_MAX_SIZE);
		/* The token is one line; its newline is not part of it. */
		if (strip_newline)
			while (n > 0 && (buf[n - 1] == '\n' ||
			    buf[n - 1] == '\r'))
				n--;
		if (write(out, buf, n) != n)
			fatal("memfd write");
	}
	if (n == -1)
		fatal("%s", path);
	close(in);
	explicit_bzero(buf, sizeof(buf));
	if (lseek(out, 0, SEEK_SET) == -1)
		fatal("lseek");
	return (out);
}

static void
send_creds(void)
{
	struct cred_done	 done;

	parent_send(PROC_UPLOADER, IMSG_CRED_CA,
	    file_memfd(pl.conf->ca_file, "ca", 0), NULL, 0);
	parent_send(PROC_UPLOADER, IMSG_CRED_CERT,
	    file_memfd(pl.conf->cert_file, "cert", 0), NULL, 0);
	parent_send(PROC_UPLOADER, IMSG_CRED_KEY,
	    file_memfd(pl.conf->key_file, "key", 0), NULL, 0);
	parent_send(PROC_UPLOADER, IMSG_CRED_TOKEN,
	    file_memfd(pl.conf->token_file, "token", 1), NULL, 0);
	memset(&done, 0, sizeof(done));
	strlcpy(done.host, pl.conf->host, sizeof(done.host));
	parent_send(PROC_UPLOADER, IMSG_CRED_DONE, -1, &done, sizeof(done));
	send_resolved();
}

/*
 * The uploader's sandbox has no /etc/hosts or resolv.conf, and libcurl
 * would resolve in a thread it may not start: the parent resolves the
 * receiver's name, at start and again after a transport error, and
 * hands the addresses over for CURLOPT_RESOLVE.  This blocks the
 * parent's loop for as long as the resolver takes (resolv.conf's
 * timeout), which only happens when the receiver is unreachable anyway.
 */
static void
send_resolved(void)
{
	struct resolved		 r;
	struct addrinfo		 hints, *res, *ai;
	char			 host[256], addr[INET6_ADDRSTRLEN];
	char			 item[INET6_ADDRSTRLEN + 3];
	const void		*a;
	size_t			 n;
	int			 port, e, count = 0;

	memset(&r, 0, sizeof(r));
	if (pl.conf->receiver_url == NULL ||
	    http_url_hostport(pl.conf->receiver_url, host, sizeof(host),
	    &port) == -1) {
		/* The uploader says what is wrong with the URL. */
		r.error = 1;
		strlcpy(r.entry, "no host in the receiver URL",
		    sizeof(r.entry));
		goto send;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if ((e = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		r.error = 1;
		snprintf(r.entry, sizeof(r.entry), "%s: %s", host,
		    e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		log_warnx("cannot resolve the receiver %s: %s", host,
		    e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		goto send;
	}
	n = (size_t)snprintf(r.entry, sizeof(r.entry), "%s:%d:", host, port);
	for (ai = res; ai != NULL && n < sizeof(r.entry); ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			a = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(ai->ai_family, a, addr, sizeof(addr)) == NULL)
			continue;
		snprintf(item, sizeof(item), ai->ai_family == AF_INET6 ?
		    "[%s]" : "%s", addr);
		/* getaddrinfo may list an address more than once. */
		if (strstr(r.entry + strlen(host), item) != NULL)
			continue;
		if (n + strlen(item) + 2 > sizeof(r.entry))
			break;
		if (count++ > 0)
			strlcat(r.entry, ",", sizeof(r.entry));
		strlcat(r.entry, item, sizeof(r.entry));
		n = strlen(r.entry);
	}
	freeaddrinfo(res);
	if (count == 0) {
		r.error = 1;
		snprintf(r.entry, sizeof(r.entry), "%s: no IPv4 or IPv6 "
		    "address", host);
	} else
		log_debug("receiver %s resolved: %s", host, r.entry);
 send:
	parent_send(PROC_UPLOADER, IMSG_RESOLVED, -1, &r, sizeof(r));
}

/* Keep one pack and one upload going while there is work. */
static void
kick(void)
{
	if (!pl.started || !pl.ready || pl.mode == MODE_PING)
		return;
	if (!pl.packing && !pl.pack_asked && !pl.pack_none) {
		pl.pack_asked = 1;
		parent_send(PROC_SCANNER, IMSG_WANT_PACK, -1, NULL, 0);
	}
	if (!pl.uploading && !pl.upload_asked && !pl.upload_none &&
	    !pl.waiting && !pl.upload_refused) {
		pl.upload_asked = 1;
		parent_send(PROC_SCANNER, IMSG_WANT_UPLOAD, -1, NULL, 0);
	}
	once_check();
}

/* `once`: done when nothing is left to pack or upload. */
static void
once_check(void)
{
	if (pl.mode != MODE_ONCE || !pl.ready)
		return;
	if (pl.packing || pl.pack_asked || !pl.pack_none ||
	    pl.uploading || pl.upload_asked || pl.retiring > 0 ||
	    !(pl.upload_none || pl.upload_refused))
		return;
	if (pl.held > 0)
		log_warnx("once: %u ready episode(s) not packed: the data root "
		    "is below min-free", pl.held);
	log_info("once: %u shipped, %u not shipped, %u still pending",
	    pl.shipped, pl.failed, pl.held);
	parent_exit(pl.failed == 0 && pl.held == 0 ? 0 : 1);
}

static int
wait_over(sd_event_source *s, uint64_t usec, void *arg)
{
	(void)s;
	(void)usec;
	(void)arg;
	pl.waiting = 0;
	pl.paused = 0;
	pl.wait_timer = sd_event_source_unref(pl.wait_timer);
	kick();
	return (0);
}

static void
wait_for(uint64_t msec)
{
	pl.waiting = 1;
	pl.wait_until_ms = monotonic_ms() + msec;
	pl.wait_timer = sd_event_source_unref(pl.wait_timer);
	if (sd_event_add_time_relative(pl.ev, &pl.wait_timer, CLOCK_MONOTONIC,
	    msec * 1000, 0, wait_over, NULL) < 0)
		fatalx("cannot arm the backoff timer");
}

static void
upload_result(const struct upload_result *r)
{
	struct retire	 rt;
	uint64_t	 msec;
	char		 how[16], pause[64];

	if (!pl.uploading || strcmp(r->id, pl.upload_id) != 0)
		fatalx("uploader: result for %s, which it was not sent",
		    log_esc(r->id));
	memset(&rt, 0, sizeof(rt));
	strlcpy(rt.id, r->id, sizeof(rt.id));
	rt.class = r->class;
	rt.http_status = r->http_status;
	strlcpy(rt.detail, r->detail, sizeof(rt.detail));
	answer_record(r->class, r->http_status, r->id, r->detail);

	switch (r->action) {
	case ACTION_RETIRE:
		rt.where = RETIRE_SHIPPED;
		backoff_reset(&pl.backoff);
		pl.shipped++;
		pl.last_success = time(NULL);
		strlcpy(pl.last_success_id, r->id, sizeof(pl.last_success_id));
		break;
	case ACTION_QUARANTINE:
		rt.where = RETIRE_QUARANTINE;
		pl.failed++;
		break;
	case ACTION_PAUSE:
		/* Our credentials: nothing to gain by hammering. */
		rt.where = RETIRE_BACK;
		pl.failed++;
		if (r->http_status != 0)
			snprintf(how, sizeof(how), "HTTP %d", r->http_status);
		else
			strlcpy(how, "TLS", sizeof(how));
		if (pl.mode == MODE_ONCE) {
			/* The other episodes would meet the same refusal. */
			pl.upload_refused = 1;
			snprintf(pause, sizeof(pause), "no more uploads in this "
			    "run");
		} else
			snprintf(pause, sizeof(pause), "uploads paused for "
			    "%llds", (long long)pl.conf->backoff_cap);
		log_warnx("%s: the receiver refused our credentials (%s): %s; "
		    "%s: check the token in %s and the certificate in %s",
		    r->id, how, r->detail, pause, pl.conf->token_file,
		    pl.conf->cert_file);
		if (pl.mode != MODE_ONCE) {
			wait_for(backoff_sec_to_ms(pl.conf->backoff_cap));
			pl.paused = 1;
		}
		break;
	case ACTION_RETRY:
		rt.where = RETIRE_BACK;
		pl.failed++;
		/* No answer at all: the receiver may have moved. */
		if (r->http_status == 0)
			send_resolved();
		msec = backoff_next(&pl.backoff, r->retry_after);
		if (pl.mode == MODE_ONCE) {
			log_warnx("%s: not shipped: %s", r->id, r->detail);
			break;
		}
		log_warnx("%s: not shipped: %s; next try in %llu.%03llus",
		    r->id, r->detail, (unsigned long long)msec / 1000,
		    (unsigned long long)msec % 1000);
		wait_for(msec);
		break;
	default:
		fatalx("uploader: bad action %d", r->action);
	}
	if (rt.where == RETIRE_SHIPPED)
		crashpoint("answered");
	if (rt.where != RETIRE_BACK) {
		/*
		 * The episode is done with the upload slot: ask for the next
		 * upload before the retire, so the scanner hands it over
		 * first and its PUT overlaps the retire's renames and fsyncs
		 * (for small episodes, half the time of each).  The retired
		 * episode stays EP_UPLOADING in the scanner until then, so
		 * it is not handed out again.
		 */
		pl.uploading = 0;
		pl.retiring++;
		kick();
	}
	parent_send(PROC_SCANNER, IMSG_RETIRE, -1, &rt, sizeof(rt));
}

static void
check_size(struct imsg *imsg, size_t want, const char *what)
{
	if (imsg->hdr.len != IMSG_HEADER_SIZE + want)
		fatalx("%s: bad size %u", what, imsg->hdr.len);
}

static void
check_id(const char *id, size_t len, const char *what)
{
	if (memchr(id, '\0', len) == NULL || !valid_id(id))
		fatalx("%s: bad episode id", what);
}

/* Returns 0 for a message that is not the pipeline's. */
int
pipeline_dispatch(enum shipper_proc from, struct imsg *imsg)
{
	struct pack_begin	 begin;
	struct pack_result	 pr;
	struct upload_job	 job;
	struct upload_result	 ur;
	struct retire		 rt;
	struct ping_result	 ping;
	int			 fd = imsg->fd;

	/* Relayed descriptors change hands: the imsg no longer owns it. */
	imsg->fd = -1;
	switch (imsg->hdr.type) {
	case IMSG_SCAN_DONE:
		if (from != PROC_SCANNER)
			break;
		check_size(imsg, sizeof(pl.report), "scan report");
		memcpy(&pl.report, imsg->data, sizeof(pl.report));
		if (!pl.ready)
			log_info("first scan: %u ready, %u packed, %u waiting",
			    pl.report.ready, pl.report.packed,
			    pl.report.waiting);
		pl.ready = 1;
		pl.pack_none = pl.upload_none = 0;
		heartbeat();
		kick();
		return (1);
	case IMSG_NOTHING_TO_PACK:
		if (from != PROC_SCANNER)
			break;
		check_size(imsg, sizeof(struct nothing_to_pack),
		    "nothing to pack");
		{
			struct nothing_to_pack	 none;

			memcpy(&none, imsg->data, sizeof(none));
			pl.held = none.held;
		}
		pl.pack_asked = 0;
		pl.pack_none = 1;
		kick();
		return (1);
	case IMSG_PACK_BEGIN:
		if (from != PROC_SCANNER || fd == -1)
			break;
		check_size(imsg, sizeof(begin), "pack begin");
		memcpy(&begin, imsg->data, sizeof(begin));
		check_id(begin.id, sizeof(begin.id), "pack begin");
		pl.pack_asked = 0;
		pl.packing = 1;
		pl.pack_done = 0;
		pl.pack_total = begin.tar_total;
		strlcpy(pl.pack_id, begin.id, sizeof(pl.pack_id));
		stall_track(&pl.pack_stall, begin.id, 0);
		status();
		parent_send(PROC_PACKER, IMSG_PACK_BEGIN, fd, &begin,
		    sizeof(begin));
		return (1);
	case IMSG_PACK_ENTRY:
		/* Opaque to the parent; the packer checks it. */
		if (from != PROC_SCANNER || !pl.packing)
			break;
		parent_send(PROC_PACKER, IMSG_PACK_ENTRY, fd, imsg->data,
		    imsg->hdr.len - IMSG_HEADER_SIZE);
		return (1);
	case IMSG_PACK_CREDIT:
		if (from != PROC_PACKER || fd != -1)
			break;
		check_size(imsg, sizeof(struct pack_credit), "pack credit");
		parent_send(PROC_SCANNER, IMSG_PACK_CREDIT, -1, imsg->data,
		    sizeof(struct pack_credit));
		return (1);
	case IMSG_PACK_PROGRESS:
		if (from != PROC_PACKER)
			break;
		check_size(imsg, sizeof(struct progress), "pack progress");
		{
			struct progress	 p;

			memcpy(&p, imsg->data, sizeof(p));
			if (pl.packing && strncmp(p.id, pl.pack_id,
			    sizeof(p.id)) == 0) {
				stall_track(&pl.pack_stall, pl.pack_id, p.done);
				pl.pack_done = p.done;
				if (p.total != 0)
					pl.pack_total = p.total;
			}
		}
		return (1);
	case IMSG_PACK_RESULT:
		if (from != PROC_PACKER || fd != -1)
			break;
		check_size(imsg, sizeof(pr), "pack result");
		parent_send(PROC_SCANNER, IMSG_PACK_RESULT, -1, imsg->data,
		    sizeof(pr));
		return (1);
	case IMSG_PACKED:
	case IMSG_PACK_FAILED:
		if (from != PROC_SCANNER)
			break;
		check_size(imsg, sizeof(pr), "pack outcome");
		memcpy(&pr, imsg->data, sizeof(pr));
		if (imsg->hdr.type == IMSG_PACK_FAILED) {
			pr.id[sizeof(pr.id) - 1] = '\0';
			pr.detail[sizeof(pr.detail) - 1] = '\0';
			/* A full disk or fd table is not the episode's fault. */
			if (pr.status != PACK_ERR_NOSPACE &&
			    pr.status != PACK_ERR_HOST && valid_id(pr.id))
				answer_record(CLASS_PACK_FAILED, 0, pr.id,
				    pr.detail);
			if (pl.mode == MODE_ONCE)
				pl.failed++;
		}
		/* A failure found before packing began has no job. */
		pl.packing = 0;
		pl.pack_asked = 0;
		pl.upload_none = 0;
		kick();
		return (1);
	case IMSG_NOTHING_TO_UPLOAD:
		if (from != PROC_SCANNER)
			break;
		check_size(imsg, 0, "nothing to upload");
		pl.upload_asked = 0;
		pl.upload_none = 1;
		kick();
		return (1);
	case IMSG_UPLOAD_JOB:
		if (from != PROC_SCANNER || fd == -1)
			break;
		check_size(imsg, sizeof(job), "upload job");
		memcpy(&job, imsg->data, sizeof(job));
		check_id(job.id, sizeof(job.id), "upload job");
		pl.upload_asked = 0;
		pl.uploading = 1;
		strlcpy(pl.upload_id, job.id, sizeof(pl.upload_id));
		memset(&pl.upload_progress, 0, sizeof(pl.upload_progress));
		stall_track(&pl.upload_stall, job.id, 0);
		status();
		parent_send(PROC_UPLOADER, IMSG_UPLOAD_JOB, fd, &job,
		    sizeof(job));
		return (1);
	case IMSG_UPLOAD_PROGRESS:
		if (from != PROC_UPLOADER)
			break;
		check_size(imsg, sizeof(pl.upload_progress), "upload progress");
		memcpy(&pl.upload_progress, imsg->data,
		    sizeof(pl.upload_progress));
		pl.upload_progress.id[sizeof(pl.upload_progress.id) - 1] = '\0';
		if (pl.uploading && strcmp(pl.upload_progress.id,
		    pl.upload_id) == 0) {
			stall_track(&pl.upload_stall, pl.upload_id,
			    pl.upload_progress.done);
			status();
		}
		return (1);
	case IMSG_UPLOAD_RESULT:
		if (from != PROC_UPLOADER)
			break;
		check_size(imsg, sizeof(ur), "upload result");
		memcpy(&ur, imsg->data, sizeof(ur));
		check_id(ur.id, sizeof(ur.id), "upload result");
		ur.detail[sizeof(ur.detail) - 1] = '\0';
		upload_result(&ur);
		return (1);
	case IMSG_RETIRED:
		if (from != PROC_SCANNER)
			break;
		check_size(imsg, sizeof(rt), "retired");
		memcpy(&rt, imsg->data, sizeof(rt));
		if (rt.where == RETIRE_BACK)
			pl.uploading = 0;
		else {
			if (pl.retiring == 0)
				fatalx("scanner: retired an episode it was not "
				    "sent");
			pl.retiring--;
			/* A retire that failed left the episode packed. */
			pl.upload_none = 0;
		}
		kick();
		return (1);
	case IMSG_PING_RESULT:
		if (from != PROC_UPLOADER || pl.mode == MODE_ONCE)
			break;
		check_size(imsg, sizeof(ping), "ping result");
		memcpy(&ping, imsg->data, sizeof(ping));
		ping.detail[sizeof(ping.detail) - 1] = '\0';
		if (pl.mode == MODE_DAEMON) {
			/* A client of the control socket asked for it. */
			control_ping_result(&ping);
			return (1);
		}
		ping_report(pl.conf, &ping);
		parent_exit(ping.step == PING_OK ? 0 : 1);
		return (1);
	}
	imsg->fd = fd;
	return (0);
}

/* `ping`: one line on stdout an operator can act on. */
void
ping_report(const struct shipper_conf *conf, const struct ping_result *p)
{
	static const char *const steps[] = {
		[PING_OK] = "OK",
		[PING_RESOLVE] = "name resolution",
		[PING_CONNECT] = "TCP connection",
		[PING_TLS] = "TLS",
		[PING_HTTP] = "HTTP",
	};
	char		 when[32];
	struct tm	 tm;
	time_t		 t;

	if (p->step == PING_OK) {
		t = p->receiver_time != 0 ? p->receiver_time : p->date_header;
		if (t != 0 && gmtime_r(&t, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		else
			strlcpy(when, "unknown", sizeof(when));
		printf("OK: %s answers as %s, receiver time %s, clock skew "
		    "%+llds\n", conf->receiver_url, conf->host, when,
		    t != 0 ? (long long)(time(NULL) - t) : 0LL);
	} else
		printf("FAILED at %s: %s: %s\n",
		    p->step > 0 && p->step <= PING_HTTP ? steps[p->step] :
		    "unknown step", conf->receiver_url, log_esc(p->detail));
	fflush(stdout);
}
