/*
 * The scanner: the data owner.  It alone reads and renames inside the
 * data root: it finds ready episodes, walks them for the packer, and
 * makes every state change of DESIGN §3 durable.  It scans every
 * scan-interval, sooner when inotify says something arrived, and sends
 * the parent one heartbeat per completed pass, also when the pass met
 * errors (the parent's watchdog pings depend on it).
 */
#include <sys/epoll.h>
#include <sys/inotify.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "scanner.h"
#include "util.h"

/* How soon after an inotify event the pass runs: lets a burst settle. */
#define INOTIFY_DELAY_USEC	(50 * 1000ULL)

static void	 scanner_dispatch(struct imsgev *, struct imsg *);
static int	 scanner_tick(sd_event_source *, uint64_t, void *);
static int	 scanner_inotify(sd_event_source *, int, uint32_t, void *);
static void	 scanner_pass(void);
static void	 want_pack(void);
static void	 pack_result(const struct pack_result *);
static void	 pack_failed(struct episode *, const char *, int);
static void	 want_upload(void);
static void	 retire(const struct retire *);
static int	 send_parent(uint32_t, int, const void *, size_t);
static void	 check_id(const char *, size_t, const char *);

static struct scanner	 sc;
static struct imsgev	 iev_parent;
static sd_event_source	*tick;

void
scanner_main(struct shipper_conf *conf)
{
	struct sandbox_opts	 so;
	sd_event		*ev;
	char			 path[PATH_MAX];

	sc.conf = conf;
	ev = child_start(PROC_SCANNER, conf->user, &iev_parent,
	    scanner_dispatch);
	/*
	 * Everything the scanner will touch is opened now, as the data
	 * owner, whose permissions and inotify limits apply: the data
	 * root and its directories, as descriptors.  Then it is root
	 * again only to chroot to the empty directory (sandbox_enter), and
	 * the owner for good: from there on it works through those
	 * descriptors alone, and Landlock limits them to the data root.
	 */
	sandbox_assume();
	/* gmtime() for reason files: no /etc/localtime later. */
	tzset();
	queue_init(&sc);
	durable_open_tree(&sc);

	sc.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sc.inotify_fd == -1)
		log_warn("inotify: scanning every %llds only",
		    (long long)conf->scan_interval);
	else {
		snprintf(path, sizeof(path), "%s/%s", conf->data_root,
		    DIR_EPISODES);
		if (inotify_add_watch(sc.inotify_fd, path, IN_CREATE |
		    IN_MOVED_TO | IN_ONLYDIR) == -1)
			log_warn("inotify %s", path);
		if (sd_event_add_io(ev, NULL, sc.inotify_fd, EPOLLIN,
		    scanner_inotify, NULL) < 0)
			fatalx("cannot watch inotify");
	}
	if (sd_event_add_time_relative(ev, &tick, CLOCK_MONOTONIC, 0, 0,
	    scanner_tick, NULL) < 0)
		fatalx("cannot arm the scan timer");
	memset(&so, 0, sizeof(so));
	so.chroot = SANDBOX_EMPTY_DIR;
	so.data_fd = sc.root_fd;
	so.debug = log_getverbose() >= 2;
	sandbox_enter(SANDBOX_SCANNER, &so);
	child_run(ev);
}

static int
send_parent(uint32_t type, int fd, const void *data, size_t len)
{
	return (imsgev_compose(&iev_parent, type, 0, fd, data, len));
}

static void
scanner_pass(void)
{
	static int	 first = 1;

	sc.once = (child_flags() & HELLO_ONCE) != 0;
	queue_pass(&sc);
	if (first) {
		/* Spool state needs the episodes found; count again after. */
		durable_recover(&sc);
		queue_pass(&sc);
		first = 0;
	}
	if (send_parent(IMSG_SCAN_DONE, -1, &sc.report,
	    sizeof(sc.report)) == -1)
		fatal("heartbeat");
}

static int
scanner_tick(sd_event_source *s, uint64_t usec, void *arg)
{
	(void)usec;
	(void)arg;
	scanner_pass();
	if (sd_event_source_set_time_relative(s,
	    sc.conf->scan_interval * 1000000ULL) < 0 ||
	    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) < 0)
		fatalx("cannot re-arm the scan timer");
	return (0);
}

/* Something arrived: scan soon rather than at the next tick. */
static int
scanner_inotify(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	char		 buf[4096]
			    __attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t	 now, due;

	(void)s;
	(void)revents;
	(void)arg;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (sd_event_now(sd_event_source_get_event(tick), CLOCK_MONOTONIC,
	    &now) < 0 || sd_event_source_get_time(tick, &due) < 0)
		return (0);
	if (due > now + INOTIFY_DELAY_USEC) {
		sd_event_source_set_time(tick, now + INOTIFY_DELAY_USEC);
		sd_event_source_set_enabled(tick, SD_EVENT_ONESHOT);
	}
	return (0);
}

/* Ids from the parent are checked like anything else that crosses. */
static void
check_id(const char *id, size_t len, const char *what)
{
	if (memchr(id, '\0', len) == NULL || !valid_id(id))
		fatalx("%s: bad episode id from parent", what);
}

static void
pack_failed(struct episode *ep, const char *detail, int status)
{
	struct pack_result	 r;
	struct retire		 q;
	char			 err[DETAIL_MAX];

	memset(&r, 0, sizeof(r));
	strlcpy(r.id, ep->id, sizeof(r.id));
	r.status = status;
	strlcpy(r.detail, detail, sizeof(r.detail));
	durable_unlink_spool(&sc, ep->id);
	ep->state = EP_READY;
	if (status == PACK_ERR_NOSPACE || status == PACK_ERR_HOST) {
		/* The disk or the host, not the episode: count nothing. */
		ep->pack_retry_at = time(NULL) + sc.conf->scan_interval;
		log_warnx("%s: not packed: %s%s", ep->id, detail,
		    status == PACK_ERR_HOST ? " (the scanner is out of "
		    "descriptors or memory; retried, not counted)" : "");
	} else if (++ep->pack_attempts >= sc.conf->pack_retries) {
		memset(&q, 0, sizeof(q));
		strlcpy(q.id, ep->id, sizeof(q.id));
		q.where = RETIRE_QUARANTINE;
		q.class = CLASS_PACK_FAILED;
		strlcpy(q.detail, detail, sizeof(q.detail));
		if (durable_retire(&sc, ep, &q, err, sizeof(err)) == -1)
			log_warnx("%s: cannot quarantine: %s", ep->id, err);
		else {
			log_warnx("%s: quarantined after %d failed packs: %s",
			    ep->id, ep->pack_attempts, detail);
			queue_remove(&sc, ep);
		}
	} else {
		/* Same doubling as uploads, from the same base. */
		ep->pack_retry_at = time(NULL) + (sc.conf->backoff_base <<
		    (ep->pack_attempts > 10 ? 10 : ep->pack_attempts - 1));
		log_warnx("%s: pack attempt %d of %d failed: %s", ep->id,
		    ep->pack_attempts, sc.conf->pack_retries, detail);
	}
	if (send_parent(IMSG_PACK_FAILED, -1, &r, sizeof(r)) == -1)
		fatal("pack failed");
}

static void
want_pack(void)
{
	struct pack_begin	 begin;
	struct episode		*ep;
	char			 err[DETAIL_MAX];
	int			 fd, r;

	if (walk_id() != NULL)
		fatalx("parent asked for a pack while one is running");
	while ((ep = queue_next(&sc, EP_READY)) != NULL) {
		ep->tried_pack = 1;
		if ((r = walk_begin(&sc, ep, &fd, &begin, err,
		    sizeof(err))) == 0)
			break;
		walk_end();
		/* Tell the parent, then look for another episode. */
		pack_failed(ep, err, r == -2 ? PACK_ERR_NOSPACE :
		    r == -3 ? PACK_ERR_HOST : PACK_ERR_INPUT);
		return;
	}
	if (ep == NULL) {
		struct nothing_to_pack	 none;

		none.held = queue_held(&sc);
		if (send_parent(IMSG_NOTHING_TO_PACK, -1, &none,
		    sizeof(none)) == -1)
			fatal("nothing to pack");
		return;
	}
	ep->state = EP_PACKING;
	log_info("%s: packing", ep->id);
	if (send_parent(IMSG_PACK_BEGIN, fd, &begin, sizeof(begin)) == -1)
		fatal("pack begin");
	walk_send(&sc, 0, send_parent);
}

static void
pack_result(const struct pack_result *r)
{
	struct episode	*ep;
	char		 err[DETAIL_MAX];
	const char	*id = walk_id();

	if (id == NULL || strcmp(id, r->id) != 0)
		fatalx("pack result for %s, which is not being packed",
		    log_esc(r->id));
	walk_end();
	if ((ep = queue_find(&sc, r->id)) == NULL || ep->state != EP_PACKING)
		fatalx("pack result for unknown episode %s", r->id);
	if (r->status != PACK_OK) {
		pack_failed(ep, r->detail, r->status);
		return;
	}
	if (durable_packed(&sc, ep, r, err, sizeof(err)) == -1) {
		/* A full disk is not the episode's fault either. */
		pack_failed(ep, err, errno == ENOSPC || errno == EDQUOT ?
		    PACK_ERR_NOSPACE : PACK_ERR_OUTPUT);
		return;
	}
	crashpoint("packed");
	ep->state = EP_PACKED;
	ep->pack_attempts = 0;
	log_info("%s: packed, %llu bytes", ep->id,
	    (unsigned long long)r->size);
	{
		struct pack_result	 done = *r;

		done.episode_time = ep->ready_time;
		if (send_parent(IMSG_PACKED, -1, &done, sizeof(done)) == -1)
			fatal("packed");
	}
}

static void
want_upload(void)
{
	struct upload_job	 job;
	struct episode		*ep;
	int			 fd;

	while ((ep = queue_next(&sc, EP_PACKED)) != NULL) {
		if ((fd = durable_open_packed(&sc, ep->id)) != -1)
			break;
		log_warn("%s: spool archive gone, packing again", ep->id);
		durable_unlink_spool(&sc, ep->id);
		ep->state = EP_READY;
	}
	if (ep == NULL) {
		if (send_parent(IMSG_NOTHING_TO_UPLOAD, -1, NULL, 0) == -1)
			fatal("nothing to upload");
		return;
	}
	memset(&job, 0, sizeof(job));
	strlcpy(job.id, ep->id, sizeof(job.id));
	job.size = ep->size;
	memcpy(job.digest, ep->digest, sizeof(job.digest));
	job.episode_time = ep->ready_time;
	job.once = sc.once;
	ep->state = EP_UPLOADING;
	ep->tried_upload = 1;
	if (send_parent(IMSG_UPLOAD_JOB, fd, &job, sizeof(job)) == -1)
		fatal("upload job");
}

static void
retire(const struct retire *r)
{
	struct episode	*ep;
	char		 err[DETAIL_MAX];

	if ((ep = queue_find(&sc, r->id)) == NULL ||
	    ep->state != EP_UPLOADING)
		fatalx("retire of %s, which is not being uploaded", r->id);
	if (r->where == RETIRE_BACK) {
		ep->state = EP_PACKED;
	} else if (durable_retire(&sc, ep, r, err, sizeof(err)) == -1) {
		/* Stays packed; the next upload's answer retires it. */
		log_warnx("%s: %s; will try again", ep->id, err);
		ep->state = EP_PACKED;
	} else {
		if (r->where == RETIRE_SHIPPED)
			log_info("%s: shipped", ep->id);
		else
			log_warnx("%s: quarantined: %s", ep->id,
			    log_esc(r->detail));
		queue_remove(&sc, ep);
	}
	if (send_parent(IMSG_RETIRED, -1, r, sizeof(*r)) == -1)
		fatal("retired");
}

static void
scanner_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct pack_credit	 credit;
	struct pack_result	 result;
	struct retire		 r;
	size_t			 len = imsg->hdr.len - IMSG_HEADER_SIZE;

	if (child_hello(iev, imsg, PROC_SCANNER))
		return;
	switch (imsg->hdr.type) {
	case IMSG_WANT_PACK:
		if (len != 0)
			fatalx("want pack: bad size");
		want_pack();
		break;
	case IMSG_PACK_CREDIT:
		if (len != sizeof(credit))
			fatalx("pack credit: bad size");
		memcpy(&credit, imsg->data, sizeof(credit));
		if (credit.n > PACK_WINDOW)
			fatalx("pack credit: %u is over the window", credit.n);
		walk_send(&sc, credit.n, send_parent);
		break;
	case IMSG_PACK_RESULT:
		if (len != sizeof(result))
			fatalx("pack result: bad size");
		memcpy(&result, imsg->data, sizeof(result));
		check_id(result.id, sizeof(result.id), "pack result");
		result.detail[sizeof(result.detail) - 1] = '\0';
		pack_result(&result);
		break;
	case IMSG_WANT_UPLOAD:
		if (len != 0)
			fatalx("want upload: bad size");
		want_upload();
		break;
	case IMSG_RETIRE:
		if (len != sizeof(r))
			fatalx("retire: bad size");
		memcpy(&r, imsg->data, sizeof(r));
		check_id(r.id, sizeof(r.id), "retire");
		r.detail[sizeof(r.detail) - 1] = '\0';
		if (r.where != RETIRE_SHIPPED && r.where != RETIRE_QUARANTINE &&
		    r.where != RETIRE_BACK)
			fatalx("retire: bad destination %d", r.where);
		retire(&r);
		break;
	default:
		fatalx("unexpected imsg type %u from parent", imsg->hdr.type);
	}
}
