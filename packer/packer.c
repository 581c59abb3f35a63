/*
 * The packer: turns the members the scanner hands over, one descriptor
 * at a time, into one tar+zstd archive written to the spool descriptor
 * it is given, and reports its size and SHA-256.  It opens no path: all
 * it touches arrives as a descriptor (DESIGN §2).  A pack blocks this
 * process's loop, so progress goes to the parent from the archive's
 * progress callback, at least once a second while bytes move.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "packer/archive.h"
#include "packer/tar.h"
#include "proc.h"
#include "sandbox.h"
#include "shipper.h"
#include "util.h"

/* Progress reports: often enough for the watchdog, not per write. */
#define PROGRESS_INTERVAL_NSEC	(250 * 1000000LL)

static void	 packer_dispatch(struct imsgev *, struct imsg *);
static void	 pack_begin(struct imsg *);
static void	 pack_entry(struct imsg *);
static void	 pack_finish(void);
static void	 pack_fail(int, const char *);
static void	 pack_progress(void *, uint64_t, uint64_t);

static struct imsgev	 iev_parent;
static struct shipper_conf *conf;

static struct {
	int			 active;
	int			 failed;
	struct pack_begin	 begin;
	struct archive		*arc;
	int			 outfd;
	uint32_t		 received;
	uint32_t		 owed;		/* consumed, not yet credited */
	struct timespec		 last_progress;
	struct pack_result	 result;
} job = { .outfd = -1 };

void
packer_main(struct shipper_conf *c)
{
	struct sandbox_opts	 so;
	sd_event		*ev;

	conf = c;
	ev = child_start(PROC_PACKER, conf->sandbox_user, &iev_parent,
	    packer_dispatch);
	if (archive_init() == -1)
		fatalx("cannot initialise SHA-256");
	/* Everything arrives as a descriptor from here on. */
	memset(&so, 0, sizeof(so));
	so.chroot = SANDBOX_EMPTY_DIR;
	so.data_fd = -1;
	so.threads = conf->compression_threads > 0;
	so.debug = log_getverbose() >= 2;
	sandbox_enter(SANDBOX_PACKER, &so);
	child_run(ev);
}

static void
send_parent(uint32_t type, const void *data, size_t len)
{
	if (imsgev_compose(&iev_parent, type, 0, -1, data, len) == -1)
		fatal("imsg to parent");
}

static void
pack_progress(void *arg, uint64_t in, uint64_t out)
{
	struct progress	 p;
	struct timespec	 now;
	long long	 elapsed;

	(void)arg;
	(void)out;
	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed = (now.tv_sec - job.last_progress.tv_sec) * 1000000000LL +
	    (now.tv_nsec - job.last_progress.tv_nsec);
	if (elapsed < PROGRESS_INTERVAL_NSEC)
		return;
	job.last_progress = now;
	memset(&p, 0, sizeof(p));
	strlcpy(p.id, job.begin.id, sizeof(p.id));
	p.done = in;
	p.total = job.begin.tar_total;
	send_parent(IMSG_PACK_PROGRESS, &p, sizeof(p));
	/* The loop is busy packing: write now, without waiting. */
	if (imsg_flush(&iev_parent.ibuf) == -1 && errno == EPIPE)
		fatalx("parent went away");
}

/* Remember the first failure; the rest of the entries are drained. */
static void
pack_fail(int status, const char *detail)
{
	if (job.failed)
		return;
	job.failed = 1;
	job.result.status = status;
	strlcpy(job.result.detail, detail, sizeof(job.result.detail));
}

static void
pack_done(void)
{
	send_parent(IMSG_PACK_RESULT, &job.result, sizeof(job.result));
	if (job.result.status == PACK_OK)
		log_debug("%s: packed, %llu bytes", job.begin.id,
		    (unsigned long long)job.result.size);
	else
		log_debug("%s: not packed: %s", job.begin.id,
		    job.result.detail);
	archive_free(job.arc);
	if (job.outfd != -1)
		close(job.outfd);
	memset(&job, 0, sizeof(job));
	job.outfd = -1;
}

static int
archive_status(void)
{
	switch (archive_error(job.arc)) {
	case ARCHIVE_EINPUT:
	case ARCHIVE_EINVAL:
		return (PACK_ERR_INPUT);
	case ARCHIVE_ENOSPC:
		return (PACK_ERR_NOSPACE);
	default:
		return (PACK_ERR_OUTPUT);
	}
}

static void
pack_begin(struct imsg *imsg)
{
	char	 err[DETAIL_MAX];

	if (job.active)
		fatalx("pack begin while packing %s", job.begin.id);
	if (imsg->hdr.len != IMSG_HEADER_SIZE + sizeof(job.begin) ||
	    imsg->fd == -1)
		fatalx("pack begin: bad size or no descriptor");
	memset(&job, 0, sizeof(job));
	memcpy(&job.begin, imsg->data, sizeof(job.begin));
	if (memchr(job.begin.id, '\0', sizeof(job.begin.id)) == NULL ||
	    !valid_id(job.begin.id))
		fatalx("pack begin: bad episode id");
	job.active = 1;
	job.outfd = imsg->fd;
	strlcpy(job.result.id, job.begin.id, sizeof(job.result.id));
	clock_gettime(CLOCK_MONOTONIC, &job.last_progress);
	job.arc = archive_open(job.outfd, job.begin.id, job.begin.tar_total,
	    conf->compression_level, conf->compression_threads, pack_progress,
	    NULL, err, sizeof(err));
	if (job.arc == NULL)
		pack_fail(PACK_ERR_OUTPUT, err);
	if (job.begin.nentries == 0)
		pack_finish();
}

static void
pack_entry(struct imsg *imsg)
{
	struct pack_entry	 pe;
	struct tar_entry	 te;
	struct pack_credit	 credit;
	char			 path[PACK_PATH_MAX + 1], link[PACK_PATH_MAX + 1];
	char			 err[DETAIL_MAX];
	size_t			 len = imsg->hdr.len - IMSG_HEADER_SIZE;
	const unsigned char	*p = imsg->data;

	if (!job.active)
		fatalx("pack entry without a job");
	if (len < sizeof(pe))
		fatalx("pack entry: too short");
	memcpy(&pe, p, sizeof(pe));
	if (pe.pathlen > PACK_PATH_MAX || pe.linklen > PACK_PATH_MAX ||
	    len != sizeof(pe) + pe.pathlen + pe.linklen)
		fatalx("pack entry: bad lengths");
	if ((pe.type == PACK_FILE) != (imsg->fd != -1))
		fatalx("pack entry: descriptor does not match the type");
	memcpy(path, p + sizeof(pe), pe.pathlen);
	path[pe.pathlen] = '\0';
	memcpy(link, p + sizeof(pe) + pe.pathlen, pe.linklen);
	link[pe.linklen] = '\0';

	if (pe.type == PACK_ABORT || pe.type == PACK_ABORT_HOST) {
		/* The scanner stopped sending; "path" is its reason. */
		pack_fail(pe.type == PACK_ABORT_HOST ? PACK_ERR_HOST :
		    PACK_ERR_INPUT, path);
		pack_done();
		return;
	}
	if (pe.type != PACK_DIR && pe.type != PACK_FILE &&
	    pe.type != PACK_SYMLINK)
		fatalx("pack entry: bad type %u", pe.type);
	job.received++;
	if (!job.failed) {
		memset(&te, 0, sizeof(te));
		te.path = path;
		te.type = pe.type == PACK_DIR ? TAR_DIR : pe.type == PACK_FILE ?
		    TAR_FILE : TAR_SYMLINK;
		te.mode = pe.mode;
		te.size = pe.size;
		te.mtime.tv_sec = pe.mtime_sec;
		te.mtime.tv_nsec = pe.mtime_nsec;
		te.link = pe.type == PACK_SYMLINK ? link : NULL;
		if (archive_add(job.arc, &te, imsg->fd, err,
		    sizeof(err)) == -1)
			pack_fail(archive_status(), err);
		else if (te.type == TAR_FILE)
			crashpoint("pack");
	}
	if (imsg->fd != -1)
		close(imsg->fd);
	imsg->fd = -1;
	/*
	 * Credit in batches of half the window: each message crosses the
	 * parent twice, and one per file was a tenth of the CPU time on a
	 * backlog of many-file episodes.  The scanner keeps at least half
	 * the window in flight, so the packer never waits for entries.
	 */
	if (job.received == job.begin.nentries)
		pack_finish();
	else if (++job.owed >= PACK_CREDIT_BATCH) {
		credit.n = job.owed;
		job.owed = 0;
		send_parent(IMSG_PACK_CREDIT, &credit, sizeof(credit));
	}
}

static void
pack_finish(void)
{
	char	 err[DETAIL_MAX];

	if (!job.failed) {
		if (archive_finish(job.arc, &job.result.size,
		    job.result.digest, err, sizeof(err)) == -1)
			pack_fail(archive_status(), err);
		else if (fsync(job.outfd) == -1) {
			snprintf(err, sizeof(err), "%s: fsync of the spool "
			    "file: %s", job.begin.id, strerror(errno));
			pack_fail(errno == ENOSPC || errno == EDQUOT ?
			    PACK_ERR_NOSPACE : PACK_ERR_OUTPUT, err);
		}
	}
	if (!job.failed)
		job.result.status = PACK_OK;
	pack_done();
}

static void
packer_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	if (child_hello(iev, imsg, PROC_PACKER))
		return;
	switch (imsg->hdr.type) {
	case IMSG_PACK_BEGIN:
		pack_begin(imsg);
		break;
	case IMSG_PACK_ENTRY:
		pack_entry(imsg);
		break;
	default:
		fatalx("unexpected imsg type %u from parent", imsg->hdr.type);
	}
}
