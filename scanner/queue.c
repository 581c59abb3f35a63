/*
 * The episode table and the scan pass: which episodes exist, which are
 * ready (ready marker, or settled), and which to pack or upload next
 * (oldest ready first, DESIGN §3).
 */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "scanner.h"
#include "util.h"

/* Settle-time walks stop this deep; deeper trees are not ready. */
#define SETTLE_MAX_DEPTH	64

/* Names in episodes/ that are not episodes: reported once each. */
struct odd_name {
	RB_ENTRY(odd_name)	 entry;
	uint64_t		 seen_pass;
	char			 name[];
};
RB_HEAD(odd_tree, odd_name);

int		 odd_cmp(struct odd_name *, struct odd_name *);
RB_PROTOTYPE(odd_tree, odd_name, entry, odd_cmp)
RB_GENERATE(odd_tree, odd_name, entry, odd_cmp)
RB_GENERATE(episode_tree, episode, entry, episode_cmp)

static struct odd_tree	 odd_names = RB_INITIALIZER(&odd_names);

static int	 episode_ready(struct scanner *, struct episode *, time_t *);
static int	 newest_change(int, int, time_t *);
static void	 report_odd(struct scanner *, const char *, const char *);
static void	 watch_episode(struct scanner *, struct episode *);
static void	 unwatch_episode(struct scanner *, struct episode *);

int
episode_cmp(struct episode *a, struct episode *b)
{
	return (strcmp(a->id, b->id));
}

int
odd_cmp(struct odd_name *a, struct odd_name *b)
{
	return (strcmp(a->name, b->name));
}

void
queue_init(struct scanner *s)
{
	RB_INIT(&s->episodes);
	s->quarantine_cleaned = s->shipped_cleaned = -1;
}

/*
 * Below min-free (space or inodes) on the data root packing pauses: a
 * full disk must not take a half-written archive with it.  Said once
 * when it starts and once when it ends.
 */
static int
space_low(struct scanner *s)
{
	struct statvfs	 sv;
	uint64_t	 space, inodes;
	int		 low;

	if (fstatvfs(s->root_fd, &sv) == -1) {
		log_warn("statvfs %s", s->conf->data_root);
		return (0);
	}
	space = (uint64_t)sv.f_bavail * sv.f_frsize;
	inodes = sv.f_favail;
	/* A file system without inode counts (f_files 0) has no limit. */
	low = space < s->conf->min_free_space ||
	    (sv.f_files != 0 && inodes < s->conf->min_free_inodes);
	/* For `status` and `doctor`; UINT64_MAX: no inode limit. */
	s->report.free_bytes = space;
	s->report.free_inodes = sv.f_files != 0 ? inodes : UINT64_MAX;
	s->report.low_space = low;
	if (low && !s->low_space)
		log_warnx("packing paused: %llu MiB and %llu inodes free on "
		    "%s, below min-free (space %llu MiB, inodes %llu); free "
		    "space there to resume", (unsigned long long)(space >> 20),
		    (unsigned long long)inodes, s->conf->data_root,
		    (unsigned long long)(s->conf->min_free_space >> 20),
		    (unsigned long long)s->conf->min_free_inodes);
	else if (!low && s->low_space)
		log_info("packing resumed: %llu MiB free on %s",
		    (unsigned long long)(space >> 20), s->conf->data_root);
	s->low_space = low;
	return (low);
}

struct episode *
queue_find(struct scanner *s, const char *id)
{
	struct episode	 key;

	if (strlcpy(key.id, id, sizeof(key.id)) >= sizeof(key.id))
		return (NULL);
	return (RB_FIND(episode_tree, &s->episodes, &key));
}

void
queue_remove(struct scanner *s, struct episode *ep)
{
	unwatch_episode(s, ep);
	RB_REMOVE(episode_tree, &s->episodes, ep);
	free(ep);
}

/*
 * The next episode in STATE to work on: the oldest ready one, skipping
 * those in pack backoff and, in `once` mode, those already tried.
 */
struct episode *
queue_next(struct scanner *s, enum ep_state state)
{
	struct episode	*ep, *best = NULL;
	time_t		 now = time(NULL);

	if (state == EP_READY && space_low(s))
		return (NULL);
	RB_FOREACH(ep, episode_tree, &s->episodes) {
		if (ep->state != state)
			continue;
		if (state == EP_READY && ep->pack_retry_at > now)
			continue;
		if (s->once && (state == EP_READY ? ep->tried_pack :
		    ep->tried_upload))
			continue;
		if (best == NULL || ep->ready_time < best->ready_time)
			best = ep;
	}
	return (best);
}

/*
 * Ready episodes that queue_next() holds back for the disk (min-free),
 * not counting those `once` has tried already: still pending.
 */
uint32_t
queue_held(struct scanner *s)
{
	struct episode	*ep;
	uint32_t	 n = 0;

	if (!s->low_space)
		return (0);
	RB_FOREACH(ep, episode_tree, &s->episodes)
		if (ep->state == EP_READY && !(s->once && ep->tried_pack))
			n++;
	return (n);
}

/*
 * The newest mtime or ctime of anything in the tree at FD (which it
 * closes): a deleted file shows in its directory's times.
 */
static int
newest_change(int fd, int depth, time_t *newest)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	int		 sub, rv = 0;

	if (fstat(fd, &st) == -1) {
		close(fd);
		return (-1);
	}
	if (st.st_mtime > *newest)
		*newest = st.st_mtime;
	if (st.st_ctime > *newest)
		*newest = st.st_ctime;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return (-1);
	}
	while (rv == 0 && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			rv = -1;
			break;
		}
		if (st.st_mtime > *newest)
			*newest = st.st_mtime;
		if (st.st_ctime > *newest)
			*newest = st.st_ctime;
		if (!S_ISDIR(st.st_mode))
			continue;
		if (depth >= SETTLE_MAX_DEPTH) {
			rv = -1;
			break;
		}
		sub = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (sub == -1 || newest_change(sub, depth + 1, newest) == -1)
			rv = -1;
	}
	closedir(dir);
	return (rv);
}

/* 1: ready since *when; 0: not yet; -1: cannot tell (logged). */
static int
episode_ready(struct scanner *s, struct episode *ep, time_t *when)
{
	struct stat	 st;
	time_t		 newest = 0;
	int		 fd;

	fd = openat(s->episodes_fd, ep->id, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT)
			log_warn("episodes/%s", ep->id);
		return (-1);
	}
	if (s->conf->settle_time == 0) {
		if (fstatat(fd, s->conf->ready_marker, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			close(fd);
			return (0);
		}
		close(fd);
		*when = st.st_mtime;
		return (1);
	}
	if (newest_change(fd, 0, &newest) == -1) {
		log_warn("episodes/%s: cannot tell whether it has settled",
		    ep->id);
		return (-1);
	}
	if (time(NULL) - newest < s->conf->settle_time)
		return (0);
	*when = newest;
	return (1);
}

/*
 * Wake the scanner when a marker appears in a waiting episode.  The
 * path is relative: the scanner is chrooted, and its working directory
 * is the data root (sandbox.c), as inotify has no descriptor form.
 */
static void
watch_episode(struct scanner *s, struct episode *ep)
{
	char	 path[PATH_MAX];

	if (ep->watch != -1 || s->inotify_fd == -1 ||
	    s->conf->settle_time != 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", DIR_EPISODES, ep->id);
	ep->watch = inotify_add_watch(s->inotify_fd, path, IN_CREATE |
	    IN_MOVED_TO | IN_ATTRIB | IN_CLOSE_WRITE | IN_ONLYDIR |
	    IN_DONT_FOLLOW);
	/* Out of watches is no failure: the scan tick still finds it. */
	if (ep->watch == -1 && errno != ENOSPC)
		log_warn("inotify episodes/%s", ep->id);
}

static void
unwatch_episode(struct scanner *s, struct episode *ep)
{
	if (ep->watch == -1)
		return;
	inotify_rm_watch(s->inotify_fd, ep->watch);
	ep->watch = -1;
}

static void
report_odd(struct scanner *s, const char *name, const char *why)
{
	struct odd_name	*o, *found;
	size_t		 len = strlen(name) + 1;

	if ((o = malloc(sizeof(*o) + len)) == NULL)
		fatal(NULL);
	memcpy(o->name, name, len);
	if ((found = RB_INSERT(odd_tree, &odd_names, o)) != NULL) {
		free(o);
		found->seen_pass = s->pass;
		return;
	}
	o->seen_pass = s->pass;
	log_warnx("episodes/%s: %s; left alone (episode ids are letters, "
	    "digits, '.', '_' and '-', starting with a letter or digit)",
	    log_esc(name), why);
}

void
queue_pass(struct scanner *s)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	struct episode	*ep, *next;
	struct odd_name	*o, *onext;
	struct scan_report *r = &s->report;
	time_t		 when;
	int		 fd;

	s->pass++;
	memset(r, 0, sizeof(*r));
	r->pass = s->pass;
	retention_run(s);
	retention_quarantine_stats(s, &r->quarantined, &r->oldest_quarantined);
	(void)space_low(s);

	if ((fd = dup(s->episodes_fd)) == -1 ||
	    (dir = fdopendir(fd)) == NULL)
		fatal("episodes/");
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (!valid_id(de->d_name)) {
			report_odd(s, de->d_name, "not an episode id");
			r->ignored++;
			continue;
		}
		if (fstatat(s->episodes_fd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			r->errors++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			report_odd(s, de->d_name, "not a directory");
			r->ignored++;
			continue;
		}
		if ((ep = queue_find(s, de->d_name)) == NULL) {
			if ((ep = calloc(1, sizeof(*ep))) == NULL)
				fatal(NULL);
			strlcpy(ep->id, de->d_name, sizeof(ep->id));
			ep->state = EP_WAITING;
			ep->watch = -1;
			RB_INSERT(episode_tree, &s->episodes, ep);
		}
		ep->seen_pass = s->pass;
		if (ep->state != EP_WAITING)
			continue;
		switch (episode_ready(s, ep, &when)) {
		case 1:
			ep->state = EP_READY;
			ep->ready_time = when;
			unwatch_episode(s, ep);
			log_info("%s: ready", ep->id);
			break;
		case 0:
			watch_episode(s, ep);
			break;
		default:
			r->errors++;
			break;
		}
	}
	closedir(dir);
	crashpoint("scan");

	/* Gone from episodes/ behind our back, and not ours to finish. */
	RB_FOREACH_SAFE(ep, episode_tree, &s->episodes, next) {
		if (ep->seen_pass == s->pass)
			continue;
		if (ep->state == EP_WAITING || ep->state == EP_READY ||
		    ep->state == EP_PACKED) {
			if (ep->state != EP_WAITING)
				log_warnx("%s: removed from episodes/ before "
				    "it was shipped", ep->id);
			if (ep->state == EP_PACKED)
				durable_unlink_spool(s, ep->id);
			queue_remove(s, ep);
		}
	}
	RB_FOREACH_SAFE(o, odd_tree, &odd_names, onext) {
		if (o->seen_pass != s->pass) {
			RB_REMOVE(odd_tree, &odd_names, o);
			free(o);
		}
	}

	RB_FOREACH(ep, episode_tree, &s->episodes) {
		switch (ep->state) {
		case EP_WAITING:
			r->waiting++;
			break;
		case EP_READY:
		case EP_PACKING:
			r->ready++;
			break;
		default:
			r->packed++;
			r->bytes_pending += ep->size;
			break;
		}
		if (ep->state != EP_WAITING && (r->oldest_ready == 0 ||
		    ep->ready_time < r->oldest_ready))
			r->oldest_ready = ep->ready_time;
	}
	r->held = queue_held(s);
	log_debug("pass %llu: %u waiting, %u ready, %u packed, %u ignored",
	    (unsigned long long)s->pass, r->waiting, r->ready, r->packed,
	    r->ignored);
}
