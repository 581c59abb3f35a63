/*
 * Retention (DESIGN §9): shipped and quarantined episodes age out after
 * `shipped keep-days` and `quarantine keep-days` (0 keeps them forever).
 * Cleanup runs at the start of a scan pass, at most once per
 * cleanup-interval, so the scan tick never walks these trees.  Every
 * removal is logged.  Unshipped episodes are never removed.
 *
 * The age of a shipped episode is the mtime of shipped/<id>.shipped,
 * written when it was shipped; that of a quarantined one is the mtime
 * of its reason file, written when it was quarantined.  Without that
 * file, the episode directory's mtime stands in.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scanner.h"
#include "util.h"

#define REASON_SUFFIX	".reason.json"
#define SHIPPED_SUFFIX	".shipped"

static int	 rm_tree(int, const char *, int);

/* Remove NAME under DIRFD and all below it, following no symlink. */
static int
rm_tree(int at, const char *name, int depth)
{
	DIR		*dir;
	struct dirent	*de;
	int		 fd, rv = 0;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return (0);
	if (errno != EISDIR && errno != EPERM)
		return (-1);
	if (depth > PACK_PATH_MAX / 2)
		return (-1);
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (rm_tree(dirfd(dir), de->d_name, depth + 1) == -1)
			rv = -1;
	}
	closedir(dir);
	if (rv == 0 && unlinkat(at, name, AT_REMOVEDIR) == -1)
		rv = -1;
	return (rv);
}

/* Age out what is older than KEEP_DAYS in one of the two directories. */
static void
clean_dir(struct scanner *s, int at, const char *dirname, int keep_days,
    int quarantine)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	char		 side[ID_MAXLEN + 48];
	time_t		 now = time(NULL), limit;
	int		 fd, removed = 0;

	limit = now - (time_t)keep_days * 86400;
	if ((fd = dup(at)) == -1 || (dir = fdopendir(fd)) == NULL) {
		log_warn("retention: %s/", dirname);
		return;
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		/* Episodes only: a shipped id may carry a ".N" suffix. */
		if (de->d_name[0] == '.' || strlen(de->d_name) > ID_MAXLEN ||
		    !valid_id(de->d_name) ||
		    fstatat(at, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISDIR(st.st_mode))
			continue;
		snprintf(side, sizeof(side), "%s%s", de->d_name,
		    quarantine ? REASON_SUFFIX : SHIPPED_SUFFIX);
		/* No such file: the directory's own mtime stands in. */
		if (fstatat(at, side, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
		    fstatat(at, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (st.st_mtime >= limit)
			continue;
		/* The tree first: a crash leaves the reason to finish by. */
		if (rm_tree(at, de->d_name, 0) == -1) {
			log_warn("retention: cannot remove %s/%s", dirname,
			    de->d_name);
			continue;
		}
		unlinkat(at, side, 0);
		log_info("retention: removed %s/%s, %lld days old (%s "
		    "keep-days %d)", dirname, de->d_name,
		    (long long)((now - st.st_mtime) / 86400), dirname,
		    keep_days);
		removed++;
	}
	closedir(dir);
	if (removed > 0 && fsync_dir(at) == -1)
		log_warn("fsync %s/", dirname);
	(void)s;
}

/* At the start of a pass: clean what is due, each at its own interval. */
void
retention_run(struct scanner *s)
{
	struct timespec	 ts;
	time_t		 now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec;
	if (s->conf->quarantine_keep_days > 0 && (s->quarantine_cleaned == -1 ||
	    now - s->quarantine_cleaned >=
	    s->conf->quarantine_cleanup_interval)) {
		s->quarantine_cleaned = now;
		clean_dir(s, s->quarantine_fd, DIR_QUARANTINE,
		    s->conf->quarantine_keep_days, 1);
	}
	if (s->conf->shipped_keep_days > 0 && (s->shipped_cleaned == -1 ||
	    now - s->shipped_cleaned >= s->conf->shipped_cleanup_interval)) {
		s->shipped_cleaned = now;
		clean_dir(s, s->shipped_fd, DIR_SHIPPED,
		    s->conf->shipped_keep_days, 0);
	}
}

/*
 * How many episodes quarantine/ holds and when the oldest came, for
 * `status` and `doctor`.  Counted again only when the directory changed
 * (its mtime moves with every entry added or removed), so an idle scan
 * tick does not read it.
 */
void
retention_quarantine_stats(struct scanner *s, uint32_t *count,
    int64_t *oldest)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st, side;
	char		 name[ID_MAXLEN + 48];
	int		 fd;

	if (fstat(s->quarantine_fd, &st) == -1) {
		log_warn("fstat %s/", DIR_QUARANTINE);
		goto out;
	}
	if (st.st_mtim.tv_sec == s->quarantine_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == s->quarantine_mtime.tv_nsec &&
	    s->quarantine_mtime.tv_sec != 0)
		goto out;
	if ((fd = dup(s->quarantine_fd)) == -1 ||
	    (dir = fdopendir(fd)) == NULL) {
		log_warn("retention: %s/", DIR_QUARANTINE);
		goto out;
	}
	s->quarantine_mtime = st.st_mtim;
	s->quarantine_count = 0;
	s->quarantine_oldest = 0;
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) > ID_MAXLEN ||
		    !valid_id(de->d_name) ||
		    fstatat(s->quarantine_fd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(st.st_mode))
			continue;
		snprintf(name, sizeof(name), "%s%s", de->d_name,
		    REASON_SUFFIX);
		if (fstatat(s->quarantine_fd, name, &side,
		    AT_SYMLINK_NOFOLLOW) == 0)
			st = side;
		s->quarantine_count++;
		if (s->quarantine_oldest == 0 ||
		    st.st_mtime < s->quarantine_oldest)
			s->quarantine_oldest = st.st_mtime;
	}
	closedir(dir);
 out:
	*count = s->quarantine_count;
	*oldest = s->quarantine_oldest;
}
