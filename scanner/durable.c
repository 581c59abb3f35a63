/*
 * The durable state changes of DESIGN §3.  An episode is always in
 * exactly one of episodes/, shipped/ or quarantine/; every change is
 * write tmp -> fsync -> rename -> fsync dir, so a crash at any point
 * leaves either the old state or the new one, and durable_recover()
 * finishes or undoes what a crash interrupted.
 *
 * spool/<id>.tar.zst.tmp	being packed; removed at start
 * spool/<id>.sha256		digest of the packed archive, in
 *				sha256sum(1) format, written first
 * spool/<id>.tar.zst		packed and fsync'd
 * quarantine/<id>.reason.json	why <id> was quarantined, written first
 * shipped/<id>.shipped		when <id> was shipped, written after
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scanner.h"
#include "util.h"

#define SUFFIX_TMP	".tar.zst.tmp"
#define SUFFIX_ARCHIVE	".tar.zst"
#define SUFFIX_DIGEST	".sha256"
#define SUFFIX_REASON	".reason.json"
#define SUFFIX_SHIPPED	".shipped"

static int	 open_subdir(int, const char *);
static int	 write_atomic(int, const char *, const char *, size_t, int);
static void	 unlink_spool_files(struct scanner *, const char *);
static int	 read_digest(struct scanner *, const char *, uint8_t *);
static int	 has_suffix(const char *, const char *, char *, size_t);
static void	 json_escape(const char *, char *, size_t);

int
fsync_dir(int fd)
{
	/* EINVAL: the file system cannot sync directories; nothing to do. */
	if (fsync(fd) == -1 && errno != EINVAL)
		return (-1);
	return (0);
}

static int
open_subdir(int root, const char *name)
{
	int	 fd;

	fd = openat(root, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		fatal("data root: %s/ (the parent creates it at start; check "
		    "that the data root is owned by the data user)", name);
	return (fd);
}

int
durable_open_tree(struct scanner *s)
{
	s->root_fd = open(s->conf->data_root, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (s->root_fd == -1)
		fatal("data root %s", s->conf->data_root);
	s->episodes_fd = open_subdir(s->root_fd, DIR_EPISODES);
	s->spool_fd = open_subdir(s->root_fd, DIR_SPOOL);
	s->shipped_fd = open_subdir(s->root_fd, DIR_SHIPPED);
	s->quarantine_fd = open_subdir(s->root_fd, DIR_QUARANTINE);
	return (0);
}

/* NAME ends in SUFFIX and the rest is an id: copy the id out. */
static int
has_suffix(const char *name, const char *suffix, char *id, size_t idlen)
{
	size_t	 n = strlen(name), m = strlen(suffix);

	if (n <= m || strcmp(name + n - m, suffix) != 0 || n - m >= idlen)
		return (0);
	memcpy(id, name, n - m);
	id[n - m] = '\0';
	return (valid_id(id));
}

static int
exists_in(int dirfd, const char *name)
{
	struct stat	 st;

	return (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0);
}

static int
read_digest(struct scanner *s, const char *id, uint8_t *digest)
{
	char	 name[ID_MAXLEN + 16], buf[160];
	ssize_t	 n;
	int	 fd, i;
	unsigned int b;

	snprintf(name, sizeof(name), "%s%s", id, SUFFIX_DIGEST);
	if ((fd = openat(s->spool_fd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 64)
		return (-1);
	buf[n] = '\0';
	for (i = 0; i < 32; i++) {
		if (sscanf(buf + 2 * i, "%2x", &b) != 1)
			return (-1);
		digest[i] = b;
	}
	return (0);
}

/*
 * Finish or undo what a crash interrupted.  Runs once, before the first
 * pass, and after queue_pass() has found the episodes.
 */
void
durable_recover(struct scanner *s)
{
	DIR		*dir;
	struct dirent	*de;
	struct episode	*ep;
	struct stat	 st;
	char		 id[ID_MAXLEN + 1], name[ID_MAXLEN + 32];
	int		 fd, changed = 0;

	if ((fd = dup(s->spool_fd)) == -1 || (dir = fdopendir(fd)) == NULL)
		fatal("spool/");
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (has_suffix(de->d_name, SUFFIX_TMP, id, sizeof(id)) ||
		    has_suffix(de->d_name, SUFFIX_DIGEST ".tmp", id,
		    sizeof(id))) {
			/* Packing was interrupted: it starts over. */
			if (unlinkat(s->spool_fd, de->d_name, 0) == 0) {
				log_info("removed stale temp file spool/%s",
				    log_esc(de->d_name));
				changed = 1;
			}
		} else if (has_suffix(de->d_name, SUFFIX_ARCHIVE, id,
		    sizeof(id))) {
			ep = queue_find(s, id);
			if (ep == NULL) {
				/* Retired before the crash; spool is litter. */
				durable_unlink_spool(s, id);
				changed = 1;
				continue;
			}
			if (read_digest(s, id, ep->digest) == -1 ||
			    fstatat(s->spool_fd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1) {
				log_warnx("spool/%s has no digest; packing %s "
				    "again", log_esc(de->d_name), id);
				durable_unlink_spool(s, id);
				changed = 1;
				continue;
			}
			ep->size = st.st_size;
			ep->state = EP_PACKED;
			log_info("%s: packed before restart, %llu bytes", id,
			    (unsigned long long)ep->size);
		} else if (has_suffix(de->d_name, SUFFIX_DIGEST, id,
		    sizeof(id))) {
			snprintf(name, sizeof(name), "%s%s", id,
			    SUFFIX_ARCHIVE);
			if (!exists_in(s->spool_fd, name)) {
				unlinkat(s->spool_fd, de->d_name, 0);
				changed = 1;
			}
		}
	}
	closedir(dir);
	if (changed && fsync_dir(s->spool_fd) == -1)
		log_warn("fsync spool/");

	/* A shipping time whose episode retention removed: finish it. */
	if ((fd = dup(s->shipped_fd)) == -1 ||
	    (dir = fdopendir(fd)) == NULL)
		fatal("shipped/");
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		if ((has_suffix(de->d_name, SUFFIX_SHIPPED, name,
		    sizeof(name)) && !exists_in(s->shipped_fd, name)) ||
		    has_suffix(de->d_name, SUFFIX_SHIPPED ".tmp", name,
		    sizeof(name)))
			unlinkat(s->shipped_fd, de->d_name, 0);
	}
	closedir(dir);

	/* A reason written, but the episode not moved: it stays queued. */
	if ((fd = dup(s->quarantine_fd)) == -1 ||
	    (dir = fdopendir(fd)) == NULL)
		fatal("quarantine/");
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		if (has_suffix(de->d_name, SUFFIX_REASON ".tmp", id,
		    sizeof(id)) ||
		    (has_suffix(de->d_name, SUFFIX_REASON, id, sizeof(id)) &&
		    !exists_in(s->quarantine_fd, id)))
			unlinkat(s->quarantine_fd, de->d_name, 0);
	}
	closedir(dir);
}

/* A fresh temp file for the packer to write; an old one is replaced. */
int
durable_spool_tmp(struct scanner *s, const char *id)
{
	char	 name[ID_MAXLEN + 16];
	int	 fd;

	snprintf(name, sizeof(name), "%s%s", id, SUFFIX_TMP);
	fd = openat(s->spool_fd, name, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd == -1)
		log_warn("%s: cannot create spool/%s", id, name);
	return (fd);
}

/*
 * Write a small file under DIRFD as NAME: tmp, fsync (when SYNC),
 * rename.  The caller fsyncs the directory once its other changes are
 * made.  Without SYNC a crash may leave NAME empty: only for files
 * whose readers take an empty one for a missing one.
 */
static int
write_atomic(int dirfd, const char *name, const char *data, size_t len,
    int sync)
{
	char	 tmp[ID_MAXLEN + 40];
	ssize_t	 n;
	int	 fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0640);
	if (fd == -1)
		return (-1);
	while (len > 0) {
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		data += n;
		len -= n;
	}
	if (sync && fsync(fd) == -1)
		goto fail;
	close(fd);
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		unlinkat(dirfd, tmp, 0);
		return (-1);
	}
	return (0);
 fail:
	n = errno;
	close(fd);
	unlinkat(dirfd, tmp, 0);
	errno = n;
	return (-1);
}

/* The packer has written and fsync'd spool/<id>.tar.zst.tmp. */
int
durable_packed(struct scanner *s, struct episode *ep,
    const struct pack_result *r, char *err, size_t errlen)
{
	char		 line[160], name[ID_MAXLEN + 16], tmp[ID_MAXLEN + 16];
	struct stat	 st;
	int		 i, n, e;

	/* On failure errno says why: ENOSPC is the disk, not the episode. */
	snprintf(tmp, sizeof(tmp), "%s%s", ep->id, SUFFIX_TMP);
	if (fstatat(s->spool_fd, tmp, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    (uint64_t)st.st_size != r->size) {
		snprintf(err, errlen, "spool/%s: size does not match what "
		    "the packer wrote", tmp);
		errno = EIO;
		return (-1);
	}
	for (i = 0, n = 0; i < 32; i++)
		n += snprintf(line + n, sizeof(line) - n, "%02x",
		    r->digest[i]);
	snprintf(line + n, sizeof(line) - n, "  %s%s\n", ep->id,
	    SUFFIX_ARCHIVE);
	snprintf(name, sizeof(name), "%s%s", ep->id, SUFFIX_DIGEST);
	/*
	 * Not fsync'd on its own: the spool/ fsync below commits it with
	 * the archive's rename, and if a crash leaves it empty,
	 * durable_recover() packs the episode again (same tree, same
	 * bytes).  One journal commit per pack instead of two.
	 */
	if (write_atomic(s->spool_fd, name, line, strlen(line), 0) == -1) {
		e = errno;
		snprintf(err, errlen, "spool/%s: %s", name, strerror(e));
		errno = e;
		return (-1);
	}
	snprintf(name, sizeof(name), "%s%s", ep->id, SUFFIX_ARCHIVE);
	if (renameat(s->spool_fd, tmp, s->spool_fd, name) == -1 ||
	    fsync_dir(s->spool_fd) == -1) {
		e = errno;
		snprintf(err, errlen, "spool/%s: %s", name, strerror(e));
		errno = e;
		return (-1);
	}
	ep->size = r->size;
	memcpy(ep->digest, r->digest, sizeof(ep->digest));
	return (0);
}

static void
unlink_spool_files(struct scanner *s, const char *id)
{
	static const char *const suffixes[] = {
		SUFFIX_ARCHIVE, SUFFIX_DIGEST, SUFFIX_TMP
	};
	char	 name[ID_MAXLEN + 16];
	size_t	 i;

	for (i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
		snprintf(name, sizeof(name), "%s%s", id, suffixes[i]);
		if (unlinkat(s->spool_fd, name, 0) == -1 && errno != ENOENT)
			log_warn("%s: cannot remove spool/%s", id, name);
	}
}

void
durable_unlink_spool(struct scanner *s, const char *id)
{
	unlink_spool_files(s, id);
	if (fsync_dir(s->spool_fd) == -1)
		log_warn("fsync spool/");
}

int
durable_open_packed(struct scanner *s, const char *id)
{
	char	 name[ID_MAXLEN + 16];

	snprintf(name, sizeof(name), "%s%s", id, SUFFIX_ARCHIVE);
	return (openat(s->spool_fd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC));
}

static void
json_escape(const char *in, char *out, size_t len)
{
	size_t	 n = 0;

	for (; *in != '\0' && n + 7 < len; in++) {
		unsigned char c = *in;

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = c;
		} else if (c < 0x20 || c >= 0x7f)
			n += snprintf(out + n, len - n, "\\u%04x", c);
		else
			out[n++] = c;
	}
	out[n] = '\0';
}

static const char *
class_name(int class)
{
	static const char *const names[CLASS_MAX] = {
		[CLASS_STORED] = "stored",
		[CLASS_CONFLICT] = "conflict",
		[CLASS_OUT_OF_WINDOW] = "out-of-window",
		[CLASS_BAD_REQUEST] = "bad-request",
		[CLASS_TOO_LARGE] = "too-large",
		[CLASS_AUTH] = "auth",
		[CLASS_TRANSIENT] = "transient",
		[CLASS_PACK_FAILED] = "pack-failed",
	};

	if (class < 0 || class >= CLASS_MAX)
		return ("unknown");
	return (names[class]);
}

/*
 * Move episodes/<id> to shipped/ or quarantine/ and then drop its spool
 * files.  An id that is already there (an id used twice) gets a suffix:
 * the older copy is never replaced.
 */
int
durable_retire(struct scanner *s, struct episode *ep, const struct retire *r,
    char *err, size_t errlen)
{
	char	 target[ID_MAXLEN + 24], detail[DETAIL_MAX * 6 + 1];
	char	 json[sizeof(detail) + 512], name[ID_MAXLEN + 48], ts[32];
	int	 dirfd, i;
	time_t	 now = time(NULL);

	dirfd = r->where == RETIRE_SHIPPED ? s->shipped_fd : s->quarantine_fd;
	strlcpy(target, ep->id, sizeof(target));
	for (i = 1; exists_in(dirfd, target) && i < 1000; i++)
		snprintf(target, sizeof(target), "%s.%d", ep->id, i);

	if (r->where == RETIRE_QUARANTINE) {
		json_escape(r->detail, detail, sizeof(detail));
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		snprintf(json, sizeof(json), "{\"id\":\"%s\",\"reason\":\"%s\","
		    "\"http_status\":%d,\"detail\":\"%s\",\"time\":\"%s\"}\n",
		    ep->id, class_name(r->class), r->http_status, detail, ts);
		snprintf(name, sizeof(name), "%s%s", target, SUFFIX_REASON);
		if (write_atomic(dirfd, name, json, strlen(json), 1) == -1) {
			snprintf(err, errlen, "quarantine/%s: %s", name,
			    strerror(errno));
			return (-1);
		}
	}
	if (renameat2(s->episodes_fd, ep->id, dirfd, target,
	    RENAME_NOREPLACE) == -1) {
		snprintf(err, errlen, "rename episodes/%s to %s/%s: %s",
		    ep->id, r->where == RETIRE_SHIPPED ? DIR_SHIPPED :
		    DIR_QUARANTINE, target, strerror(errno));
		return (-1);
	}
	/*
	 * Retention ages a shipped episode from this marker's mtime,
	 * leaving the episode's own times as recorded.  Its content is for
	 * people, so it is not fsync'd: the directory's fsync below makes
	 * its entry and mtime durable.  Without it (a crash before that)
	 * the episode ages from its directory's mtime: sooner, never
	 * later.  A marker whose episode is not beside it is removed by
	 * durable_recover().
	 */
	if (r->where == RETIRE_SHIPPED) {
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ\n", gmtime(&now));
		snprintf(name, sizeof(name), "%s%s", target, SUFFIX_SHIPPED);
		if (write_atomic(dirfd, name, ts, strlen(ts), 0) == -1)
			log_warn("%s: cannot record the shipping time in "
			    "shipped/%s", ep->id, name);
	}
	/*
	 * All of it before the first fsync, so one journal commit holds
	 * the rename, the marker and the spool's removal (the fsyncs after
	 * the first find little left to do).  Were the removal durable
	 * and the rename not, the episode would be packed again: the same
	 * bytes, a duplicate to the receiver.
	 */
	unlink_spool_files(s, ep->id);
	/*
	 * The rename is done: failing here would leave a moved episode
	 * "packed".  Should a crash undo what did not reach the disk, the
	 * episode is back in episodes/ and ships again as a duplicate.
	 */
	if (fsync_dir(dirfd) == -1 || fsync_dir(s->episodes_fd) == -1 ||
	    fsync_dir(s->spool_fd) == -1)
		log_warn("%s: fsync after retiring it", ep->id);
	crashpoint("retire");
	return (0);
}
