/*
 * `cis490-shipper status`: what the running daemon is doing, from its
 * control socket.  Plain lines for a terminal or a script; doctor says
 * what is wrong, status only what is.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "log.h"
#include "shipper.h"
#include "util.h"
#include "uploader/classify.h"

#define STATUS_TIMEOUT_MS	5000

struct answers {
	struct ctl_answer	 a[16];
	size_t			 n;
};

static void
got_answer(struct imsg *imsg, void *arg)
{
	struct answers	*as = arg;

	if (imsg->hdr.len != IMSG_HEADER_SIZE + sizeof(struct ctl_answer))
		fatalx("status: answer of bad size %u", imsg->hdr.len);
	if (as->n < sizeof(as->a) / sizeof(*as->a)) {
		memcpy(&as->a[as->n], imsg->data, sizeof(struct ctl_answer));
		as->a[as->n].id[sizeof(as->a[as->n].id) - 1] = '\0';
		as->a[as->n].detail[sizeof(as->a[as->n].detail) - 1] = '\0';
		as->n++;
	}
}

static const char *
rfc3339(int64_t t, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "never");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return (buf);
}

static void
job_line(const char *what, const char *id, uint64_t done, uint64_t total)
{
	char	 b1[32], b2[32];

	if (id[0] == '\0') {
		printf("%-10s none\n", what);
		return;
	}
	if (total > 0)
		printf("%-10s %s %llu%% (%s of %s)\n", what, id,
		    (unsigned long long)(done * 100 / total),
		    fmt_bytes(done, b1, sizeof(b1)),
		    fmt_bytes(total, b2, sizeof(b2)));
	else
		printf("%-10s %s (starting)\n", what, id);
}

static void
status_print(const struct ctl_status *st, const struct answers *as)
{
	const struct scan_report *r = &st->report;
	char		 a1[32], a2[32], b1[32], t1[32];
	size_t		 i;
	int		 c;

	printf("daemon     pid %d, up %s, ", st->pid,
	    fmt_age(st->now - st->started, a1, sizeof(a1)));
	if (st->heartbeat_age_ms < 0)
		printf("first scan pass not done yet\n");
	else
		printf("last scan pass %s ago (every %llds)\n",
		    fmt_age(st->heartbeat_age_ms / 1000, a2, sizeof(a2)),
		    (long long)st->scan_interval);
	printf("episodes   %u waiting, %u ready, %u packed, %u quarantined\n",
	    r->waiting, r->ready, r->packed, r->quarantined);
	printf("pending    %s in packed archives",
	    fmt_bytes(r->bytes_pending, b1, sizeof(b1)));
	if (r->oldest_ready != 0)
		printf(", oldest ready %s ago",
		    fmt_age(st->now - r->oldest_ready, a1, sizeof(a1)));
	printf("\n");
	if (r->quarantined > 0)
		printf("quarantine oldest %s ago (removed after %d days; 0: "
		    "never)\n", fmt_age(st->now - r->oldest_quarantined, a1,
		    sizeof(a1)), st->quarantine_keep_days);
	job_line("packing", st->pack_id, st->pack_done, st->pack_total);
	job_line("uploading", st->upload_id, st->upload_done,
	    st->upload_total);
	if (st->wedged)
		printf("stalled    %s\n", st->wedged_why);
	if (st->last_success != 0)
		printf("last ship  %s at %s (%s ago), %u since start\n",
		    st->last_success_id, rfc3339(st->last_success, t1,
		    sizeof(t1)), fmt_age(st->now - st->last_success, a1,
		    sizeof(a1)), st->shipped);
	else
		printf("last ship  none since start\n");
	if (st->paused)
		printf("backoff    uploads paused for %s more: the receiver "
		    "refused our credentials\n", fmt_age(st->wait_ms / 1000,
		    a1, sizeof(a1)));
	else if (st->wait_ms > 0)
		printf("backoff    next try in %s, after %u failure(s) in a "
		    "row\n", fmt_age((st->wait_ms + 999) / 1000, a1,
		    sizeof(a1)), st->backoff_failures);
	else
		printf("backoff    none\n");
	printf("disk       %s", fmt_bytes(r->free_bytes, b1, sizeof(b1)));
	if (r->free_inodes != UINT64_MAX)
		printf(" and %llu inodes", (unsigned long long)r->free_inodes);
	printf(" free (min-free %s, %llu inodes)%s\n",
	    fmt_bytes(st->min_free_space, a1, sizeof(a1)),
	    (unsigned long long)st->min_free_inodes,
	    r->low_space ? ": packing paused" : "");
	if (r->held > 0)
		printf("held       %u ready episode(s) wait for free space\n",
		    r->held);
	printf("answers    %-14s %6s %6s\n", "class", "10 min", "24 h");
	for (c = 0; c < CLASS_MAX; c++)
		printf("           %-14s %6u %6u\n", answer_class_name(c),
		    st->counts_short[c], st->counts_long[c]);
	for (i = 0; i < as->n; i++) {
		if (i == 0)
			printf("recent answers, newest first:\n");
		printf("  %s %s %s HTTP %d: %s\n", rfc3339(as->a[i].time, t1,
		    sizeof(t1)), answer_class_name(as->a[i].class),
		    log_esc(as->a[i].id), as->a[i].http_status,
		    log_esc(as->a[i].detail));
	}
}

int
status_main(const char *conffile, const char *ctlpath)
{
	struct ctl_client	 c;
	struct ctl_status	 st;
	struct answers		 as;
	enum ctl_failure	 why;
	char			 err[512];

	(void)conffile;
	if (ctl_open(&c, ctlpath, STATUS_TIMEOUT_MS, &why, err,
	    sizeof(err)) == -1) {
		if (why == CTL_DOWN)
			log_warnx("%s: the daemon is not running (start it: "
			    "systemctl start %s)", err, SHIPPER_UNIT);
		else if (why == CTL_DENIED)
			log_warnx("%s: run as root or as a member of the data "
			    "owner's group", err);
		else
			log_warnx("%s", err);
		return (1);
	}
	memset(&st, 0, sizeof(st));
	memset(&as, 0, sizeof(as));
	if (ctl_request(&c, IMSG_CTL_STATUS, STATUS_TIMEOUT_MS, ctl_got_status,
	    &st, err, sizeof(err)) == -1 ||
	    ctl_request(&c, IMSG_CTL_ANSWERS, STATUS_TIMEOUT_MS, got_answer,
	    &as, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", ctlpath, err);
		ctl_close(&c);
		return (1);
	}
	ctl_close(&c);
	st.wedged_why[sizeof(st.wedged_why) - 1] = '\0';
	st.pack_id[sizeof(st.pack_id) - 1] = '\0';
	st.upload_id[sizeof(st.upload_id) - 1] = '\0';
	st.last_success_id[sizeof(st.last_success_id) - 1] = '\0';
	status_print(&st, &as);
	if (fflush(stdout) == EOF || ferror(stdout))
		fatal("stdout");
	return (0);
}
