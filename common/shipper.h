/*
 * cis490-shipper: paths, account names, the configuration, the imsg types
 * and the structs that cross process boundaries, and prototypes grouped by
 * file.  One header for the whole shipper, as ntpd.h is for ntpd.
 */
#ifndef SHIPPER_H
#define SHIPPER_H

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <systemd/sd-event.h>

#define SHIPPER_NAME		"cis490-shipper"
#define SHIPPER_CONF		"/etc/cis490-shipper/shipper.conf"
#define SHIPPER_DATA_ROOT	"/var/lib/cis490-shipper"
#define SHIPPER_USER		"cis490"
#define SHIPPER_SANDBOX_USER	"_cis490"
/* The parent's control socket, for `status` and `doctor` (DESIGN §8). */
#define SHIPPER_CONTROL_SOCKET	"/run/cis490-shipper/control.sock"
#define SHIPPER_UNIT		"cis490-shipper.service"

/* Episode and host ids: [A-Za-z0-9][A-Za-z0-9._-]{0,127} (DESIGN §3). */
#define ID_MAXLEN		128

/* Version of the parent <-> child protocol; children check it on hello. */
#define SHIPPER_PROTO_VERSION	3

struct shipper_conf {
	char		*host;		/* our identity at the receiver */
	char		*data_root;
	char		*user;		/* owner of the data tree: scanner */
	char		*sandbox_user;	/* packer and uploader */

	char		*receiver_url;	/* https://name[:port] */
	char		*ca_file;
	char		*cert_file;
	char		*key_file;
	char		*token_file;

	char		*ready_marker;	/* NULL when settle_time is used */
	time_t		 settle_time;	/* seconds; 0: use ready_marker */
	time_t		 scan_interval;
	time_t		 stall_timeout;

	int		 compression_level;
	int		 compression_threads;	/* 0: no zstd workers */

	uint64_t	 upload_max_rate;	/* bytes/s; 0: unlimited */
	time_t		 backoff_base;
	time_t		 backoff_cap;
	int		 pack_retries;

	int		 quarantine_keep_days;	/* 0: keep forever */
	time_t		 quarantine_cleanup_interval;
	int		 shipped_keep_days;	/* 0: keep forever */
	time_t		 shipped_cleanup_interval;

	uint64_t	 min_free_space;	/* bytes */
	uint64_t	 min_free_inodes;
};

/* Defaults (DESIGN §3, §4, §6, §7, §9). */
#define DEFAULT_READY_MARKER		"DONE"
#define DEFAULT_SCAN_INTERVAL		5
#define DEFAULT_STALL_TIMEOUT		120
#define DEFAULT_COMPRESSION_LEVEL	3
#define DEFAULT_COMPRESSION_THREADS	2
#define DEFAULT_BACKOFF_BASE		5
#define DEFAULT_BACKOFF_CAP		600
#define DEFAULT_PACK_RETRIES		5
#define DEFAULT_QUARANTINE_KEEP_DAYS	30
#define DEFAULT_CLEANUP_INTERVAL	3600
#define DEFAULT_SHIPPED_KEEP_DAYS	7
#define DEFAULT_MIN_FREE_SPACE		(256ULL * 1024 * 1024)
#define DEFAULT_MIN_FREE_INODES		1024

/*
 * Parent <-> child messages.  The parent is the hub: children talk only
 * to it, and it checks every message's size against its type before it
 * acts on it or relays it.  Ids inside messages are NUL-terminated and
 * checked with valid_id() by whoever uses them.
 *
 * One episode's way through the pipeline (DESIGN §3):
 *   parent -> scanner	WANT_PACK			packer is idle
 *   scanner -> parent	PACK_BEGIN + spool tmp fd	(or NOTHING_TO_PACK)
 *   parent -> packer	PACK_BEGIN + fd			relayed
 *   scanner -> parent -> packer  PACK_ENTRY (+ file fd), at most
 *			PACK_WINDOW outstanding; packer -> parent ->
 *			scanner PACK_CREDIT for every PACK_CREDIT_BATCH
 *			it consumes
 *   packer -> parent	PACK_PROGRESS (>= 1/s), then PACK_RESULT
 *   parent -> scanner	PACK_RESULT			relayed
 *   scanner -> parent	PACKED (renamed into spool/), or PACK_FAILED
 *   parent -> scanner	WANT_UPLOAD			uploader is idle
 *   scanner -> parent	UPLOAD_JOB + spool fd		(or NOTHING_TO_UPLOAD)
 *   parent -> uploader	UPLOAD_JOB + fd			relayed
 *   uploader -> parent	UPLOAD_PROGRESS (>= 1/s), then UPLOAD_RESULT
 *   parent -> scanner	RETIRE (shipped/ or quarantine/ + reason)
 *   scanner -> parent	RETIRED
 */
enum imsg_type {
	IMSG_NONE,
	IMSG_HELLO,		/* struct imsg_hello, both ways */

	/* parent -> uploader: key material as memfds, then CRED_DONE */
	IMSG_CRED_CA,
	IMSG_CRED_CERT,
	IMSG_CRED_KEY,
	IMSG_CRED_TOKEN,
	IMSG_CRED_DONE,		/* struct cred_done */

	/* scanner -> parent: one per completed pass (the heartbeat) */
	IMSG_SCAN_DONE,		/* struct scan_report */

	IMSG_WANT_PACK,		/* no payload */
	IMSG_NOTHING_TO_PACK,	/* struct nothing_to_pack */
	IMSG_PACK_BEGIN,	/* struct pack_begin + fd */
	IMSG_PACK_ENTRY,	/* struct pack_entry + path + link, fd */
	IMSG_PACK_CREDIT,	/* struct pack_credit */
	IMSG_PACK_PROGRESS,	/* struct progress */
	IMSG_PACK_RESULT,	/* struct pack_result */
	IMSG_PACKED,		/* struct pack_result, after the rename */
	IMSG_PACK_FAILED,	/* struct pack_result */

	IMSG_WANT_UPLOAD,	/* no payload */
	IMSG_NOTHING_TO_UPLOAD,	/* no payload */
	IMSG_UPLOAD_JOB,	/* struct upload_job + fd */
	IMSG_UPLOAD_PROGRESS,	/* struct progress */
	IMSG_UPLOAD_RESULT,	/* struct upload_result */

	IMSG_RETIRE,		/* struct retire */
	IMSG_RETIRED,		/* struct retire */

	IMSG_PING,		/* parent -> uploader, no payload */
	IMSG_PING_RESULT,	/* struct ping_result */

	/* parent -> uploader, after CRED_DONE and after transport errors */
	IMSG_RESOLVED,		/* struct resolved */

	/*
	 * Control socket (`status`, `doctor`), client <-> parent.  The
	 * client opens with CTL_HELLO; every request gets its answers and
	 * then CTL_END, or one CTL_ERROR.
	 */
	IMSG_CTL_HELLO,		/* struct ctl_hello, both ways */
	IMSG_CTL_STATUS,	/* request: no payload; answer: ctl_status */
	IMSG_CTL_ANSWERS,	/* request: no payload; answers: ctl_answer */
	IMSG_CTL_PING,		/* request: no payload; answer: ctl_ping */
	IMSG_CTL_END,		/* no payload */
	IMSG_CTL_ERROR,		/* a NUL-terminated message */

	IMSG_MAX_TYPE
};

struct imsg_hello {
	uint32_t	 version;	/* SHIPPER_PROTO_VERSION */
	uint32_t	 proc;		/* enum shipper_proc */
	uint32_t	 flags;		/* parent -> child: HELLO_* */
};

#define HELLO_ONCE	0x01	/* `once` mode: one try per episode */

/* Key material larger than this is refused (a CA bundle fits). */
#define CRED_MAX_SIZE		(1024 * 1024)

struct cred_done {
	char		 host[ID_MAXLEN + 1];
};

struct scan_report {
	uint64_t	 pass;
	uint32_t	 ready;		/* ready, not yet packed */
	uint32_t	 packed;	/* in spool/, waiting for upload */
	uint32_t	 waiting;	/* in episodes/, not ready yet */
	uint32_t	 ignored;	/* names in episodes/ that are no id */
	uint32_t	 quarantined;
	uint32_t	 errors;	/* problems met during the pass */
	uint64_t	 bytes_pending;	/* packed archives waiting */
	int64_t	 	 oldest_ready;	/* ready time, 0: none */
	int64_t		 oldest_quarantined;	/* reason file mtime, 0: none */
	uint64_t	 free_bytes;	/* data root, for unprivileged users */
	uint64_t	 free_inodes;
	uint32_t	 low_space;	/* below min-free: packing paused */
	uint32_t	 held;		/* ready, held back by low_space */
};

struct nothing_to_pack {
	uint32_t	 held;		/* ready, but held back (min-free) */
};

/* Entries the scanner may send ahead of the packer's credits. */
#define PACK_WINDOW		32
#define PACK_CREDIT_BATCH	(PACK_WINDOW / 2)
/* Longest relative path and link target inside an episode. */
#define PACK_PATH_MAX		4096

struct pack_begin {
	char		 id[ID_MAXLEN + 1];
	uint64_t	 tar_total;	/* pledged uncompressed size */
	uint32_t	 nentries;
};

enum pack_entry_type {
	PACK_DIR = 1,
	PACK_FILE,
	PACK_SYMLINK,
	PACK_ABORT,		/* the scanner gives up; "path" says why */
	PACK_ABORT_HOST		/* the same, out of descriptors or memory */
};

/* Followed by pathlen bytes of path and linklen bytes of link target. */
struct pack_entry {
	uint32_t	 type;		/* enum pack_entry_type */
	uint32_t	 mode;
	uint64_t	 size;
	int64_t		 mtime_sec;
	int64_t		 mtime_nsec;
	uint16_t	 pathlen;
	uint16_t	 linklen;
};

struct pack_credit {
	uint32_t	 n;
};

struct progress {
	char		 id[ID_MAXLEN + 1];
	uint64_t	 done;		/* bytes read (pack) or sent (upload) */
	uint64_t	 total;
};

enum pack_status {
	PACK_OK,
	PACK_ERR_INPUT,		/* the episode: changed, unreadable, odd type */
	PACK_ERR_OUTPUT,	/* the spool: write error */
	PACK_ERR_NOSPACE,	/* the spool: file system full */
	PACK_ERR_HOST		/* the scanner: out of descriptors or memory */
};

#define DETAIL_MAX		512

struct pack_result {
	char		 id[ID_MAXLEN + 1];
	int32_t		 status;	/* enum pack_status */
	uint64_t	 size;		/* compressed */
	uint8_t		 digest[32];	/* SHA-256 of the compressed bytes */
	int64_t		 episode_time;	/* ready marker's mtime */
	char		 detail[DETAIL_MAX];
};

struct upload_job {
	char		 id[ID_MAXLEN + 1];
	uint64_t	 size;
	uint8_t		 digest[32];
	int64_t		 episode_time;
	uint32_t	 once;		/* no retries: `once` mode */
};

/* What the shipper does with an answer (DESIGN §6). */
enum answer_action {
	ACTION_RETIRE,		/* 200, 201: stored */
	ACTION_QUARANTINE,	/* 409, 412, 400, 411, 413 */
	ACTION_PAUSE,		/* 401, 403: our credentials */
	ACTION_RETRY		/* 408, 429, 5xx, connect, TLS, timeout */
};

enum answer_class {
	CLASS_STORED,
	CLASS_CONFLICT,		/* 409 */
	CLASS_OUT_OF_WINDOW,	/* 412 */
	CLASS_BAD_REQUEST,	/* 400, 411 */
	CLASS_TOO_LARGE,	/* 413 */
	CLASS_AUTH,		/* 401, 403 */
	CLASS_TRANSIENT,	/* the rest */
	CLASS_PACK_FAILED,	/* not an answer: packing failed for good */
	CLASS_MAX
};

struct upload_result {
	char		 id[ID_MAXLEN + 1];
	int32_t		 http_status;	/* 0: no HTTP answer */
	int32_t		 action;	/* enum answer_action */
	int32_t		 class;		/* enum answer_class */
	int64_t		 retry_after;	/* seconds, 0: none given */
	char		 detail[DETAIL_MAX];
};

enum retire_where {
	RETIRE_SHIPPED,
	RETIRE_QUARANTINE,
	RETIRE_BACK		/* not now: back into the upload queue */
};

struct retire {
	char		 id[ID_MAXLEN + 1];
	int32_t		 where;		/* enum retire_where */
	int32_t		 class;		/* quarantine: enum answer_class */
	int32_t		 http_status;
	char		 detail[DETAIL_MAX];
};

enum ping_step {
	PING_OK,
	PING_RESOLVE,		/* name resolution */
	PING_CONNECT,		/* TCP */
	PING_TLS,		/* handshake, certificate verification */
	PING_HTTP		/* an HTTP status other than 200 */
};

struct ping_result {
	int32_t		 step;		/* enum ping_step */
	int32_t		 http_status;
	int64_t		 receiver_time;	/* from the body, 0: unknown */
	int64_t		 date_header;	/* from Date:, 0: none */
	char		 detail[DETAIL_MAX];
};

/*
 * The receiver's addresses, resolved by the parent: the sandboxed
 * uploader has no /etc/hosts or resolv.conf and starts no resolver
 * thread.  entry is libcurl's CURLOPT_RESOLVE "host:port:addr[,addr]";
 * with error set, it says why the name did not resolve.
 */
#define RESOLVED_MAX		1024

struct resolved {
	int32_t		 error;		/* 0: entry holds the addresses */
	char		 entry[RESOLVED_MAX];
};

/*
 * The control socket's own protocol version: `status` and `doctor` from
 * another build refuse to guess at a layout they do not know.
 */
#define CTL_PROTO_VERSION	1

struct ctl_hello {
	uint32_t	 version;	/* CTL_PROTO_VERSION */
};

/* Answer counts are kept per minute for a day (answers.c). */
#define CTL_WINDOW_SHORT	600		/* seconds: doctor's window */
#define CTL_WINDOW_LONG		86400

struct ctl_status {
	int64_t		 now;		/* the daemon's clock */
	int64_t		 started;	/* wall time the daemon started */
	int32_t		 pid;
	uint32_t	 ready;		/* first scan pass done */
	uint32_t	 started_children;	/* every child said hello */
	int64_t		 heartbeat_age_ms;	/* -1: no pass yet */
	uint32_t	 wedged;	/* a pack or upload stalled */
	char		 wedged_why[ID_MAXLEN + 128];
	struct scan_report report;	/* the last pass */

	char		 pack_id[ID_MAXLEN + 1];	/* "": none */
	uint64_t	 pack_done, pack_total;
	char		 upload_id[ID_MAXLEN + 1];	/* "": none */
	uint64_t	 upload_done, upload_total;

	int64_t		 wait_ms;	/* backoff or pause left, 0: none */
	uint32_t	 paused;	/* credentials refused (401/403) */
	uint32_t	 backoff_failures;	/* in a row */
	int64_t		 last_success;	/* wall time, 0: none yet */
	char		 last_success_id[ID_MAXLEN + 1];
	uint32_t	 shipped;	/* since start */

	uint32_t	 counts_short[CLASS_MAX];	/* CTL_WINDOW_SHORT */
	uint32_t	 counts_long[CLASS_MAX];	/* CTL_WINDOW_LONG */

	/* What doctor compares against. */
	int64_t		 scan_interval;
	int64_t		 stall_timeout;
	uint64_t	 min_free_space;
	uint64_t	 min_free_inodes;
	int32_t		 quarantine_keep_days;
};

/* One entry of the ring of recent answers, newest first. */
struct ctl_answer {
	int64_t		 time;
	int32_t		 class;		/* enum answer_class */
	int32_t		 http_status;
	char		 id[ID_MAXLEN + 1];
	char		 detail[DETAIL_MAX];
};

struct ctl_ping {
	struct ping_result	 result;
	int64_t			 sent;	/* wall time the ping was made */
	int32_t			 fresh;	/* 0: the last one, uploader busy */
};

enum shipper_proc {
	PROC_PARENT,
	PROC_SCANNER,
	PROC_PACKER,
	PROC_UPLOADER,
	PROC_MAX
};

/* answers.c: the ring of recent answers and counts per class */
void		 answers_add(enum answer_class, int, const char *,
		    const char *);
void		 answers_counts(time_t, uint32_t *);
size_t		 answers_recent(struct ctl_answer *, size_t);

/* control.c: the daemon's side of the control socket */
void		 control_init(const char *, const struct shipper_conf *,
		    sd_event *);
void		 control_cleanup(void);
void		 control_ping_result(const struct ping_result *);

/* status.c, doctor.c: the client side (ctl.h) */
int		 status_main(const char *, const char *);
int		 doctor_main(const char *, const char *, int);

/* parse.y */
#define CONF_CHECK_FILES	0x01	/* stat key, token, CA, certificate */
int		 parse_config(const char *, struct shipper_conf *, int);

/* config.c */
void		 config_init(struct shipper_conf *);
void		 config_free(struct shipper_conf *);
void		 config_print(FILE *, const struct shipper_conf *);

/* shipper.c */
const char	*proc_name(enum shipper_proc);

struct imsgev;
struct imsg;

enum shipper_mode {
	MODE_DAEMON,
	MODE_ONCE,		/* one pass: ship every ready episode, exit */
	MODE_PING		/* POST /v1/ping through the uploader, exit */
};

/* parent.c */
int		 parent_main(const char *, const char *, struct shipper_conf *,
		    int, int, enum shipper_mode);
void		 parent_send(enum shipper_proc, uint32_t, int, const void *,
		    size_t);
void		 parent_exit(int);

/* notify.c */
struct stall {
	char		 id[ID_MAXLEN + 1];
	uint64_t	 done;		/* bytes at the last change */
	time_t		 since;		/* monotonic seconds */
};
void		 notify_init(const struct shipper_conf *);
void		 notify_ready(void);
void		 notify_stopping(void);
void		 notify_heartbeat(int, const char *);
void		 notify_status(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 stall_track(struct stall *, const char *, uint64_t);
int		 stall_check(const struct stall *, int, time_t);

/* requeue.c */
int		 requeue_main(const struct shipper_conf *, const char *, int,
		    char **);

/* datatree.c */
void		 datatree_create(const struct shipper_conf *);

/* pipeline.c */
void		 pipeline_init(struct shipper_conf *, sd_event *,
		    enum shipper_mode);
void		 pipeline_start(void);
int		 pipeline_dispatch(enum shipper_proc, struct imsg *);
void		 pipeline_status(struct ctl_status *);
struct ping_result;
void		 ping_report(const struct shipper_conf *,
		    const struct ping_result *);

/* child.c: what every child does at start and on hello */
sd_event	*child_start(enum shipper_proc, const char *, struct imsgev *,
		    void (*)(struct imsgev *, struct imsg *));
int		 child_hello(struct imsgev *, struct imsg *, enum shipper_proc);
uint32_t	 child_flags(void);
void		 child_run(sd_event *) __attribute__((noreturn));

/* scanner.c, packer.c, uploader.c */
void		 scanner_main(struct shipper_conf *) __attribute__((noreturn));
void		 packer_main(struct shipper_conf *) __attribute__((noreturn));
void		 uploader_main(struct shipper_conf *) __attribute__((noreturn));

#endif /* SHIPPER_H */
