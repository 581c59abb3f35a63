/*
 * The parent's conversation with systemd (DESIGN §7).  READY=1 once the
 * children are up and the first scan pass has built the queue.
 * WATCHDOG=1 on each scanner heartbeat, but only while no pack or
 * upload is wedged: one that has moved no bytes for stall-timeout stops
 * the pings, so systemd kills and restarts the daemon.  A slow transfer
 * that moves keeps them going; a stuck scanner sends no heartbeat.
 * Only the parent has NOTIFY_SOCKET: the children never get it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "shipper.h"

static struct {
	int		 ready;
	uint64_t	 watchdog_usec;	/* 0: no watchdog */
	char		 status[256];
} nt;

static time_t
monotonic(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec);
}

void
notify_init(const struct shipper_conf *conf)
{
	uint64_t	 usec;

	/* Honours WATCHDOG_USEC, and WATCHDOG_PID when it names us. */
	if (sd_watchdog_enabled(0, &usec) <= 0)
		return;
	nt.watchdog_usec = usec;
	if (usec < 2ULL * conf->scan_interval * 1000000ULL)
		log_warnx("WatchdogSec=%llus is shorter than twice scan-interval "
		    "(%llds): one slow pass gets the daemon killed; raise "
		    "WatchdogSec or lower scan-interval",
		    (unsigned long long)(usec / 1000000),
		    (long long)conf->scan_interval);
}

void
notify_ready(void)
{
	if (nt.ready)
		return;
	nt.ready = 1;
	sd_notify(0, "READY=1");
}

void
notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

/*
 * Track a job's progress: a change of bytes done, or a new job, is
 * progress.  Returns nothing; stalled() reads the time.
 */
void
stall_track(struct stall *st, const char *id, uint64_t done)
{
	if (strcmp(st->id, id) != 0 || done != st->done) {
		strlcpy(st->id, id, sizeof(st->id));
		st->done = done;
		st->since = monotonic();
	}
}

int
stall_check(const struct stall *st, int busy, time_t timeout)
{
	return (busy && monotonic() - st->since > timeout);
}

/* One heartbeat from the scanner: ping unless something is wedged. */
void
notify_heartbeat(int wedged, const char *why)
{
	static int	 complained;

	if (nt.watchdog_usec == 0)
		return;
	if (wedged) {
		if (!complained)
			log_warnx("%s: not pinging the watchdog; systemd "
			    "will restart the daemon", why);
		complained = 1;
		return;
	}
	if (complained)
		log_info("progress again: pinging the watchdog");
	complained = 0;
	sd_notify(0, "WATCHDOG=1");
}

void
notify_status(const char *fmt, ...)
{
	char	 line[sizeof(nt.status)], msg[sizeof(nt.status) + 8];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (strcmp(line, nt.status) == 0)
		return;
	strlcpy(nt.status, line, sizeof(nt.status));
	snprintf(msg, sizeof(msg), "STATUS=%s", line);
	sd_notify(0, msg);
}
