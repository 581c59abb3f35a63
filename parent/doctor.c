/*
 * `cis490-shipper doctor [-j]` (DESIGN §8): one row per check, green,
 * yellow or red, each red or yellow one with the one command that fixes
 * it.  Exit 0 when all are green, 1 with any yellow, 2 with any red.
 *
 * What needs the daemon comes from its control socket.  When that is
 * down or not ours to use, doctor still says what it can: the
 * configuration, the certificate and the disk it checks itself, and the
 * shipping errors of the last minutes come from the unit's journal.
 *
 * The rows, their thresholds and their fixes are documented in
 * cis490-shipper(8); keep the two in step.
 */
#include <sys/statvfs.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ctl.h"
#include "journal.h"
#include "log.h"
#include "shipper.h"
#include "util.h"
#include "uploader/classify.h"

#define DOCTOR_TIMEOUT_MS	5000
/* A ping waits for libcurl's own timeouts, behind nothing else. */
#define DOCTOR_PING_TIMEOUT_MS	30000

/* Thresholds (documented in cis490-shipper(8), DOCTOR). */
#define CERT_RED_DAYS		7
#define CERT_YELLOW_DAYS	30
#define SKEW_YELLOW_SEC		60
#define SKEW_RED_SEC		300
#define BACKLOG_YELLOW_SEC	3600
#define BACKLOG_RED_SEC		86400
#define QUARANTINE_RED_DAYS	7	/* before keep-days removes it */

enum level { GREEN, YELLOW, RED };

static const char *const level_names[] = { "green", "yellow", "red" };
static const char *const level_colours[] = {
	"\033[32m", "\033[33m", "\033[31m"
};

#define MAX_ROWS	32

struct row {
	const char	*check;
	enum level	 level;
	char		 finding[512];
	char		 fix[256];
};

static struct {
	struct row	 rows[MAX_ROWS];
	int		 nrows;
	const char	*conffile;
	const char	*ctlpath;
	struct shipper_conf conf;
	int		 conf_ok;
	char		 group[64];	/* "user"'s group, for fixes */

	int		 daemon_up;
	struct ctl_status st;
	struct ctl_ping	 ping;
	int		 have_ping;
} dr;

static void	 row(const char *, enum level, const char *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

static void
row(const char *check, enum level level, const char *fix, const char *fmt,
    ...)
{
	struct row	*r;
	va_list		 ap;

	if (dr.nrows == MAX_ROWS)
		fatalx("doctor: too many rows");
	r = &dr.rows[dr.nrows++];
	r->check = check;
	r->level = level;
	va_start(ap, fmt);
	vsnprintf(r->finding, sizeof(r->finding), fmt, ap);
	va_end(ap);
	strlcpy(r->fix, level == GREEN || fix == NULL ? "" : fix,
	    sizeof(r->fix));
}

static void
check_config(void)
{
	char	 msg[512], fix[300];
	int	 root = geteuid() == 0;

	/*
	 * The key and token are root's: only root can check them as the
	 * daemon does (`-n`).  Others get the grammar and the values.
	 */
	log_capture(msg, sizeof(msg));
	dr.conf_ok = parse_config(dr.conffile, &dr.conf,
	    root ? CONF_CHECK_FILES : 0) == 0;
	log_capture(NULL, 0);
	snprintf(fix, sizeof(fix), "%s -n -f %s", SHIPPER_NAME, dr.conffile);
	if (dr.conf_ok)
		row("config", GREEN, NULL, "%s is valid%s", dr.conffile,
		    root ? "" : " (key, token and CA files not checked: not "
		    "root)");
	else
		row("config", RED, fix, "%s", msg[0] != '\0' ? msg :
		    "the configuration is not valid");
}

static void
got_ping(struct imsg *imsg, void *arg)
{
	if (imsg->hdr.len != IMSG_HEADER_SIZE + sizeof(struct ctl_ping))
		fatalx("doctor: ping answer of bad size %u", imsg->hdr.len);
	memcpy(arg, imsg->data, sizeof(struct ctl_ping));
	dr.have_ping = 1;
}

/* The daemon row, and what the other rows need from the daemon. */
static void
ask_daemon(void)
{
	struct ctl_client	 c;
	enum ctl_failure	 why;
	char			 err[512], fix[256], age[32];

	if (ctl_open(&c, dr.ctlpath, DOCTOR_TIMEOUT_MS, &why, err,
	    sizeof(err)) == -1) {
		switch (why) {
		case CTL_DOWN:
			row("daemon", RED, "systemctl start " SHIPPER_UNIT,
			    "not running: %s", err);
			break;
		case CTL_DENIED:
			snprintf(fix, sizeof(fix), "usermod -a -G %s %s",
			    dr.group[0] != '\0' ? dr.group : "GROUP",
			    getpwuid(getuid()) != NULL ?
			    getpwuid(getuid())->pw_name : "USER");
			row("daemon", YELLOW, fix, "cannot ask the daemon: %s "
			    "(the control socket is for root and the group "
			    "of %s)", err, dr.conf_ok ? dr.conf.user : "user");
			break;
		default:
			row("daemon", RED, "systemctl restart " SHIPPER_UNIT,
			    "does not answer: %s", err);
			break;
		}
		return;
	}
	if (ctl_request(&c, IMSG_CTL_STATUS, DOCTOR_TIMEOUT_MS, ctl_got_status,
	    &dr.st, err, sizeof(err)) == -1) {
		row("daemon", RED, "systemctl restart " SHIPPER_UNIT,
		    "does not answer: %s", err);
		ctl_close(&c);
		return;
	}
	dr.daemon_up = 1;
	dr.st.wedged_why[sizeof(dr.st.wedged_why) - 1] = '\0';
	dr.st.upload_id[sizeof(dr.st.upload_id) - 1] = '\0';
	row("daemon", GREEN, NULL, "running, pid %d, up %s", dr.st.pid,
	    fmt_age(dr.st.now - dr.st.started, age, sizeof(age)));
	if (ctl_request(&c, IMSG_CTL_PING, DOCTOR_PING_TIMEOUT_MS, got_ping,
	    &dr.ping, err, sizeof(err)) == -1) {
		dr.have_ping = 0;
		log_debug("ping: %s", err);
	}
	dr.ping.result.detail[sizeof(dr.ping.result.detail) - 1] = '\0';
	ctl_close(&c);
}

/* Days to expiry, and whether the key belongs to the certificate. */
static void
check_certificate(void)
{
	FILE		*f;
	X509		*x = NULL;
	EVP_PKEY	*k = NULL;
	int		 days, secs, keyerr = 0;
	const char	*fix = "systemctl restart " SHIPPER_UNIT;
	char		 path[300];

	if (!dr.conf_ok)
		return;
	snprintf(path, sizeof(path), "%s", dr.conf.cert_file);
	if ((f = fopen(path, "r")) == NULL) {
		row("certificate", RED, NULL, "%s: %s", path, strerror(errno));
		return;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		row("certificate", RED, fix, "%s: not a PEM certificate; "
		    "install the host's certificate there, then restart",
		    path);
		return;
	}
	if ((f = fopen(dr.conf.key_file, "r")) == NULL)
		keyerr = errno;
	else {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x))) {
		row("certificate", RED, fix, "%s: unreadable expiry date",
		    path);
	} else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		row("certificate", RED, fix, "%s is not valid yet; check the "
		    "clock (timedatectl)", path);
	} else if (days < 0 || secs < 0) {
		row("certificate", RED, fix, "%s expired %d day(s) ago; "
		    "install a renewed certificate there, then restart", path,
		    -days);
	} else if (k == NULL && keyerr == 0) {
		row("certificate", RED, fix, "%s: not a PEM private key; "
		    "install the host's key there, then restart",
		    dr.conf.key_file);
	} else if (k != NULL && X509_check_private_key(x, k) != 1) {
		row("certificate", RED, fix, "the key %s does not belong to "
		    "the certificate %s; install the matching pair, then "
		    "restart", dr.conf.key_file, path);
	} else if (days < CERT_RED_DAYS) {
		row("certificate", RED, fix, "%s expires in %d day(s); "
		    "install a renewed certificate there, then restart", path,
		    days);
	} else if (days < CERT_YELLOW_DAYS) {
		row("certificate", YELLOW, fix, "%s expires in %d days; "
		    "install a renewed certificate there, then restart", path,
		    days);
	} else if (k == NULL) {
		row("certificate", YELLOW, "sudo " SHIPPER_NAME " doctor",
		    "%s valid for %d more days; the key %s is not readable by "
		    "this user (%s), so the pair was not checked", path, days,
		    dr.conf.key_file, strerror(keyerr));
	} else
		row("certificate", GREEN, NULL, "%s valid for %d more days, "
		    "matches its key", path, days);
	EVP_PKEY_free(k);
	X509_free(x);
}

/* Reachability and clock skew, from a ping through the daemon. */
static void
check_receiver(void)
{
	const struct ping_result *p = &dr.ping.result;
	const char	*ping = SHIPPER_NAME " ping";
	char		 pct[32] = "";
	int64_t		 t, skew;
	enum level	 l;

	if (!dr.daemon_up) {
		row("receiver", YELLOW, ping, "not checked: the daemon "
		    "cannot be asked");
		row("clock", YELLOW, ping, "not measured: the daemon cannot "
		    "be asked");
		return;
	}
	if (!dr.have_ping) {
		row("receiver", YELLOW, ping, "the ping through the daemon "
		    "got no answer in %ds", DOCTOR_PING_TIMEOUT_MS / 1000);
	} else if (p->step == -1 && dr.st.upload_id[0] == '\0') {
		row("receiver", YELLOW, ping, "not pinged: the daemon is "
		    "still starting");
	} else if (p->step == -1) {
		/* An upload runs: it is proof enough, or the stall row's. */
		if (dr.st.upload_total > 0)
			snprintf(pct, sizeof(pct), " %llu%%",
			    (unsigned long long)(dr.st.upload_done * 100 /
			    dr.st.upload_total));
		row("receiver", dr.st.wedged ? YELLOW : GREEN, ping,
		    "uploading %s%s now; not pinged", dr.st.upload_id, pct);
	} else if (p->step == PING_OK) {
		row("receiver", GREEN, NULL, "%s answers%s",
		    dr.conf_ok ? dr.conf.receiver_url : "the receiver",
		    dr.ping.fresh ? "" : " (last ping, before this upload)");
	} else {
		/* Down or busy is for the backoff; refused is for people. */
		l = p->step == PING_TLS || (p->step == PING_HTTP &&
		    (p->http_status == 401 || p->http_status == 403)) ?
		    RED : YELLOW;
		row("receiver", l, ping, "not reachable: %s",
		    log_esc(p->detail));
	}

	t = dr.have_ping && p->step != -1 ? (p->receiver_time != 0 ?
	    p->receiver_time : p->date_header) : 0;
	if (t == 0) {
		row("clock", YELLOW, ping, "not measured: no answer from the "
		    "receiver yet");
		return;
	}
	skew = dr.ping.sent - t;
	l = llabs(skew) >= SKEW_RED_SEC ? RED :
	    llabs(skew) >= SKEW_YELLOW_SEC ? YELLOW : GREEN;
	row("clock", l, "timedatectl set-ntp true", "%+llds against the "
	    "receiver's clock", (long long)skew);
}

/* Shipping errors of the last 10 minutes, 412 before 400 (DESIGN §8). */
static void
check_errors(void)
{
	static const struct {
		enum answer_class	 class;
		enum level		 level;
		const char		*what;
		const char		*why;
		const char		*fix;
	} classes[] = {
		{ CLASS_OUT_OF_WINDOW, RED, "rejected as out-of-window",
		    "the episode time is outside the receiver's accept "
		    "window; fix the clock or the window, then requeue",
		    SHIPPER_NAME " requeue --reason out-of-window" },
		{ CLASS_BAD_REQUEST, RED, "rejected as bad-request",
		    "the receiver refused the archive or its headers; "
		    "requeue once the cause is fixed",
		    SHIPPER_NAME " requeue --reason bad-request" },
		{ CLASS_TOO_LARGE, RED, "rejected as too-large",
		    "requeue once the receiver's size limit is raised",
		    SHIPPER_NAME " requeue --reason too-large" },
		{ CLASS_CONFLICT, RED, "rejected as conflict",
		    "the receiver holds other bytes under the same id",
		    "journalctl -u " SHIPPER_UNIT " -g 'answer conflict'" },
		{ CLASS_AUTH, RED, "refused our credentials",
		    "HTTP 401 or 403: the token or the certificate",
		    SHIPPER_NAME " ping" },
		{ CLASS_PACK_FAILED, RED, "not packed",
		    "an episode could not be read or packed",
		    "journalctl -u " SHIPPER_UNIT " -g 'pack attempt'" },
		{ CLASS_TRANSIENT, YELLOW, "failed for now",
		    "connection, timeout, 5xx or 429; retried with backoff",
		    SHIPPER_NAME " ping" },
	};
	struct journal_scan	 js;
	const uint32_t		*counts;
	const char		*from = "";
	char			 fix[128];
	size_t			 i;
	int			 any = 0;

	if (dr.daemon_up)
		counts = dr.st.counts_short;
	else {
		if (journal_recent(CTL_WINDOW_SHORT, &js) == -1) {
			row("errors", YELLOW, "journalctl -u " SHIPPER_UNIT,
			    "not known: the daemon cannot be asked and %s",
			    js.error);
			return;
		}
		if (js.unreadable > 0) {
			snprintf(fix, sizeof(fix), "usermod -a -G "
			    "systemd-journal %s", getpwuid(getuid()) != NULL ?
			    getpwuid(getuid())->pw_name : "USER");
			row("journal", YELLOW, fix, "%d of %d journal file(s) "
			    "not readable by this user: shipping errors may "
			    "be missing", js.unreadable, js.files);
		} else if (js.files == 0)
			row("journal", YELLOW, "journalctl -u " SHIPPER_UNIT,
			    "no journal files found: shipping errors not "
			    "known");
		/* Nothing read: say nothing rather than "no errors". */
		if (js.files == 0 || js.unreadable == js.files)
			return;
		counts = js.counts;
		from = " (from the journal)";
	}
	for (i = 0; i < sizeof(classes) / sizeof(*classes); i++) {
		if (counts[classes[i].class] == 0)
			continue;
		any = 1;
		row(answer_class_name(classes[i].class), classes[i].level,
		    classes[i].fix, "%u ship(s) %s in the last 10 minutes%s: "
		    "%s", counts[classes[i].class], classes[i].what, from,
		    classes[i].why);
	}
	if (!any)
		row("errors", GREEN, NULL, "no shipping errors in the last 10 "
		    "minutes%s, %u stored", from, counts[CLASS_STORED]);
}

static void
check_queue(void)
{
	const struct scan_report *r = &dr.st.report;
	char		 age[32], fix[128];
	int64_t		 oldest;
	enum level	 l;
	int		 keep;

	if (!dr.daemon_up)
		return;
	oldest = r->oldest_ready != 0 ? dr.st.now - r->oldest_ready : 0;
	l = oldest >= BACKLOG_RED_SEC ? RED : oldest >= BACKLOG_YELLOW_SEC ?
	    YELLOW : GREEN;
	if (r->ready + r->packed == 0)
		row("backlog", GREEN, NULL, "nothing waiting to ship (%u "
		    "episode(s) not ready yet)", r->waiting);
	else
		row("backlog", l, SHIPPER_NAME " status", "%u episode(s) to "
		    "ship, the oldest ready for %s", r->ready + r->packed,
		    fmt_age(oldest, age, sizeof(age)));

	if (r->quarantined == 0) {
		row("quarantine", GREEN, NULL, "empty");
		return;
	}
	oldest = dr.st.now - r->oldest_quarantined;
	keep = dr.st.quarantine_keep_days;
	l = keep > 0 && oldest >= (int64_t)(keep - QUARANTINE_RED_DAYS) *
	    86400 ? RED : YELLOW;
	snprintf(fix, sizeof(fix), SHIPPER_NAME " requeue --reason REASON");
	row("quarantine", l, fix, "%u episode(s), the oldest for %s%s; "
	    "their reasons are in %s/quarantine/*.reason.json",
	    r->quarantined, fmt_age(oldest, age, sizeof(age)),
	    keep > 0 ? " (removed after quarantine keep-days)" : "",
	    dr.conf_ok ? dr.conf.data_root : "the data root");
}

/* Checked here, not by the daemon: it answers when the daemon is down. */
static void
check_disk(void)
{
	struct statvfs	 sv;
	uint64_t	 space, inodes;
	char		 b1[32], b2[32], fix[300];
	enum level	 l;
	int		 limitless;

	if (!dr.conf_ok)
		return;
	snprintf(fix, sizeof(fix), "du -xsh %s/*", dr.conf.data_root);
	if (statvfs(dr.conf.data_root, &sv) == -1) {
		row("disk", YELLOW, fix, "%s: %s", dr.conf.data_root,
		    strerror(errno));
		return;
	}
	space = (uint64_t)sv.f_bavail * sv.f_frsize;
	inodes = sv.f_favail;
	limitless = sv.f_files == 0;
	if (space < dr.conf.min_free_space ||
	    (!limitless && inodes < dr.conf.min_free_inodes))
		l = RED;
	else if (space / 2 < dr.conf.min_free_space ||
	    (!limitless && inodes / 2 < dr.conf.min_free_inodes))
		l = YELLOW;
	else
		l = GREEN;
	row("disk", l, fix, "%s and %llu inodes free on %s (min-free %s, "
	    "%llu inodes)%s", fmt_bytes(space, b1, sizeof(b1)),
	    (unsigned long long)(limitless ? 0 : inodes), dr.conf.data_root,
	    fmt_bytes(dr.conf.min_free_space, b2, sizeof(b2)),
	    (unsigned long long)dr.conf.min_free_inodes,
	    l == RED ? ": packing paused; free space there" : "");
}

static void
check_heartbeat(void)
{
	int64_t		 age;
	enum level	 l;

	if (!dr.daemon_up)
		return;
	if (dr.st.wedged) {
		row("watchdog", RED, "systemctl restart " SHIPPER_UNIT,
		    "%s: the watchdog is not pinged, systemd restarts the "
		    "daemon", dr.st.wedged_why);
		return;
	}
	if (dr.st.heartbeat_age_ms < 0) {
		row("watchdog", YELLOW, "systemctl status " SHIPPER_UNIT,
		    "no scan pass done yet");
		return;
	}
	age = dr.st.heartbeat_age_ms / 1000;
	l = age > dr.st.stall_timeout ? RED :
	    age > 3 * dr.st.scan_interval + 5 ? YELLOW : GREEN;
	row("watchdog", l, "systemctl restart " SHIPPER_UNIT, "last scan "
	    "pass %llds ago (scan-interval %llds)", (long long)age,
	    (long long)dr.st.scan_interval);
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void
print_json(enum level worst)
{
	int	 i;

	printf("{\"version\":1,\"status\":\"%s\",\"exit\":%d,\"rows\":[",
	    level_names[worst], (int)worst);
	for (i = 0; i < dr.nrows; i++) {
		printf("%s{\"check\":", i > 0 ? "," : "");
		json_str(dr.rows[i].check);
		printf(",\"level\":\"%s\",\"finding\":",
		    level_names[dr.rows[i].level]);
		json_str(dr.rows[i].finding);
		printf(",\"fix\":");
		if (dr.rows[i].fix[0] != '\0')
			json_str(dr.rows[i].fix);
		else
			printf("null");
		putchar('}');
	}
	printf("]}\n");
}

static void
print_rows(void)
{
	const char	*nc = getenv("NO_COLOR");
	int		 colour, i;

	colour = isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0');
	for (i = 0; i < dr.nrows; i++) {
		printf("%s%-6s%s  %-13s %s\n",
		    colour ? level_colours[dr.rows[i].level] : "",
		    level_names[dr.rows[i].level], colour ? "\033[0m" : "",
		    dr.rows[i].check, dr.rows[i].finding);
		if (dr.rows[i].fix[0] != '\0')
			printf("%-6s  %-13s fix: %s\n", "", "",
			    dr.rows[i].fix);
	}
}

int
doctor_main(const char *conffile, const char *ctlpath, int json)
{
	struct passwd	*pw;
	struct group	*gr;
	enum level	 worst = GREEN;
	int		 i;

	memset(&dr, 0, sizeof(dr));
	dr.conffile = conffile;
	dr.ctlpath = ctlpath;
	check_config();
	if (dr.conf_ok && (pw = getpwnam(dr.conf.user)) != NULL &&
	    (gr = getgrgid(pw->pw_gid)) != NULL)
		strlcpy(dr.group, gr->gr_name, sizeof(dr.group));
	ask_daemon();
	check_certificate();
	check_receiver();
	check_errors();
	check_queue();
	check_disk();
	check_heartbeat();

	for (i = 0; i < dr.nrows; i++)
		if (dr.rows[i].level > worst)
			worst = dr.rows[i].level;
	if (json)
		print_json(worst);
	else
		print_rows();
	if (fflush(stdout) == EOF || ferror(stdout))
		fatal("stdout");
	if (dr.conf_ok)
		config_free(&dr.conf);
	return ((int)worst);
}
