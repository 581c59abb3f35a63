/*
 * One pack job from the scanner's side: walk the episode's tree, sort
 * the members bytewise (DESIGN §4), reckon the pledged tar size, and
 * hand the packer one entry at a time, each regular file as a descriptor
 * opened beneath the episode without following any symlink.  At most
 * PACK_WINDOW entries (and so descriptors) are in flight.
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "scanner.h"
#include "packer/tar.h"

struct walk_entry {
	char		*path;		/* relative to the episode, "" for it */
	char		*key;		/* path, "/" appended for a directory */
	char		*link;
	size_t		 pathlen;
	struct stat	 st;
};

static struct {
	int			 active;
	char			 id[ID_MAXLEN + 1];
	int			 epfd;
	struct walk_entry	*v;
	size_t			 n, cap, next;
	uint32_t		 credits;
	int			 host_trouble;	/* a failure was the host's */
	char			 abort_msg[DETAIL_MAX];
} job = { .epfd = -1 };

static int	 collect(int, const char *, int, char *, size_t);
static int	 add_entry(const char *, const struct stat *, const char *,
		    char *, size_t);
static int	 key_cmp(const void *, const void *);
static void	 to_tar(const struct walk_entry *, struct tar_entry *);
static int	 open_beneath(int, const char *);
static int	 host_errno(int);

/*
 * Out of descriptors or memory: the host's trouble, not the episode's.
 * Such a failure is retried and not counted against pack-retries, as a
 * full disk is; counting it would quarantine good episodes.
 */
static int
host_errno(int e)
{
	if (e == EMFILE || e == ENFILE || e == ENOMEM) {
		job.host_trouble = 1;
		return (1);
	}
	return (0);
}

static int
add_entry(const char *path, const struct stat *st, const char *link,
    char *err, size_t errlen)
{
	struct walk_entry	*e;
	size_t			 len = strlen(path);

	if (len > PACK_PATH_MAX - 1) {
		snprintf(err, errlen, "episodes/%s/%s: path longer than %d "
		    "bytes", job.id, log_esc(path), PACK_PATH_MAX - 1);
		return (-1);
	}
	if (job.n == job.cap) {
		job.cap = job.cap == 0 ? 64 : job.cap * 2;
		if ((e = reallocarray(job.v, job.cap, sizeof(*e))) == NULL)
			fatal(NULL);
		job.v = e;
	}
	e = &job.v[job.n];
	memset(e, 0, sizeof(*e));
	e->st = *st;
	e->pathlen = len;
	if (asprintf(&e->key, "%s%s", path, S_ISDIR(st->st_mode) && len > 0 ?
	    "/" : "") == -1 || (e->path = strdup(path)) == NULL)
		fatal(NULL);
	if (link != NULL && (e->link = strdup(link)) == NULL)
		fatal(NULL);
	job.n++;
	return (0);
}

/* Walk the directory at FD (closed here), its path being PREFIX. */
static int
collect(int fd, const char *prefix, int depth, char *err, size_t errlen)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	char		 path[PACK_PATH_MAX + NAME_MAX + 2];
	char		 link[PACK_PATH_MAX + 1];
	ssize_t		 n;
	int		 sub, rv = 0;

	if ((dir = fdopendir(fd)) == NULL) {
		host_errno(errno);
		close(fd);
		snprintf(err, errlen, "episodes/%s/%s: %s", job.id,
		    log_esc(prefix), strerror(errno));
		return (-1);
	}
	while (rv == 0 && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix,
		    prefix[0] != '\0' ? "/" : "", de->d_name);
		if (fstatat(dirfd(dir), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			host_errno(errno);
			snprintf(err, errlen, "episodes/%s/%s: %s", job.id,
			    log_esc(path), strerror(errno));
			rv = -1;
		} else if (S_ISREG(st.st_mode)) {
			rv = add_entry(path, &st, NULL, err, errlen);
		} else if (S_ISLNK(st.st_mode)) {
			n = readlinkat(dirfd(dir), de->d_name, link,
			    sizeof(link));
			if (n == -1 || (size_t)n >= sizeof(link)) {
				snprintf(err, errlen, "episodes/%s/%s: cannot "
				    "read the symlink (or its target is over "
				    "%d bytes)", job.id, log_esc(path),
				    PACK_PATH_MAX);
				rv = -1;
			} else {
				link[n] = '\0';
				rv = add_entry(path, &st, link, err, errlen);
			}
		} else if (S_ISDIR(st.st_mode)) {
			if ((rv = add_entry(path, &st, NULL, err, errlen)) != 0)
				break;
			sub = openat(dirfd(dir), de->d_name, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub == -1 || depth > PACK_PATH_MAX / 2) {
				if (sub == -1)
					host_errno(errno);
				snprintf(err, errlen, "episodes/%s/%s: %s",
				    job.id, log_esc(path), sub == -1 ?
				    strerror(errno) : "nested too deep");
				if (sub != -1)
					close(sub);
				rv = -1;
			} else
				rv = collect(sub, path, depth + 1, err,
				    errlen);
		} else {
			snprintf(err, errlen, "episodes/%s/%s: is a %s; only "
			    "regular files, directories and symlinks are "
			    "archived: remove it or move it out of the "
			    "episode", job.id, log_esc(path),
			    S_ISFIFO(st.st_mode) ? "FIFO" :
			    S_ISSOCK(st.st_mode) ? "socket" : "device");
			rv = -1;
		}
	}
	closedir(dir);
	return (rv);
}

/* Bytewise order of the member names (DESIGN §4). */
static int
key_cmp(const void *a, const void *b)
{
	const struct walk_entry	*x = a, *y = b;

	return (strcmp(x->key, y->key));
}

static void
to_tar(const struct walk_entry *e, struct tar_entry *t)
{
	memset(t, 0, sizeof(*t));
	t->path = e->path;
	t->type = S_ISDIR(e->st.st_mode) ? TAR_DIR : S_ISLNK(e->st.st_mode) ?
	    TAR_SYMLINK : TAR_FILE;
	t->mode = e->st.st_mode & 07777;
	t->size = S_ISREG(e->st.st_mode) ? (uint64_t)e->st.st_size : 0;
	t->mtime = e->st.st_mtim;
	t->link = e->link;
}

void
walk_end(void)
{
	size_t	 i;

	for (i = 0; i < job.n; i++) {
		free(job.v[i].key);
		free(job.v[i].path);
		free(job.v[i].link);
	}
	free(job.v);
	if (job.epfd != -1)
		close(job.epfd);
	memset(&job, 0, sizeof(job));
	job.epfd = -1;
}

const char *
walk_id(void)
{
	return (job.active ? job.id : NULL);
}

/*
 * Prepare the job for EP: the sorted entries, the pledged size and the
 * spool temp file (returned in *spool_fd).  Returns 0, or -1 with err
 * set when the episode cannot be packed as it is, or -2 with err set
 * when the data file system has no room (or no inode) for the spool
 * file: the disk's fault, not the episode's; -3 when the scanner ran
 * out of descriptors or memory (host_errno()).
 */
int
walk_begin(struct scanner *s, struct episode *ep, int *spool_fd,
    struct pack_begin *begin, char *err, size_t errlen)
{
	struct tar_entry	 t;
	struct stat		 st;
	uint64_t		 total = TAR_TRAILER_SIZE, size;
	size_t			 i;
	int			 fd, e;

	walk_end();
	strlcpy(job.id, ep->id, sizeof(job.id));
	job.epfd = openat(s->episodes_fd, ep->id, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (job.epfd == -1 || fstat(job.epfd, &st) == -1) {
		e = errno;
		snprintf(err, errlen, "episodes/%s: %s", ep->id, strerror(e));
		return (host_errno(e) ? -3 : -1);
	}
	if (add_entry("", &st, NULL, err, errlen) == -1)
		return (-1);
	if ((fd = dup(job.epfd)) == -1) {
		e = errno;
		snprintf(err, errlen, "episodes/%s: %s", ep->id, strerror(e));
		return (host_errno(e) ? -3 : -1);
	}
	if (collect(fd, "", 0, err, errlen) == -1)
		return (job.host_trouble ? -3 : -1);
	/*
	 * Not qsort(3): past about 50 entries glibc's asks sysconf() how
	 * much memory the machine has, and the sysinfo(2) behind it is no
	 * call of the scanner's filter, which kills it.  libbsd's
	 * mergesort only allocates.  (Paths are unique: stable or not is
	 * the same order.)
	 */
	if (mergesort(job.v, job.n, sizeof(*job.v), key_cmp) == -1)
		fatal("sorting the entries of episode %s", job.id);
	for (i = 0; i < job.n; i++) {
		to_tar(&job.v[i], &t);
		if ((size = tar_member_size(job.id, &t)) == 0) {
			snprintf(err, errlen, "episodes/%s/%s: cannot be "
			    "archived (name or size out of range)", job.id,
			    log_esc(job.v[i].path));
			return (-1);
		}
		total += size;
	}
	if ((*spool_fd = durable_spool_tmp(s, ep->id)) == -1) {
		e = errno;
		snprintf(err, errlen, "spool/%s.tar.zst.tmp: %s", ep->id,
		    strerror(e));
		return (e == ENOSPC || e == EDQUOT ? -2 : host_errno(e) ? -3 :
		    -1);
	}
	memset(begin, 0, sizeof(*begin));
	strlcpy(begin->id, ep->id, sizeof(begin->id));
	begin->tar_total = total;
	begin->nentries = job.n;
	job.credits = PACK_WINDOW;
	job.active = 1;
	return (0);
}

/*
 * Never leave the episode: no symlink in any component, no "..", no
 * absolute path (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS).
 */
static int
open_beneath(int dirfd, const char *path)
{
	struct open_how	 how;
	const char	*p, *slash;
	char		 name[NAME_MAX + 1];
	int		 fd, next;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;
	if ((fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how))) != -1 ||
	    errno != ENOSYS)
		return (fd);
	/*
	 * No openat2(2) (valgrind has none): one component at a time,
	 * none followed if it is a symlink.  The path is the walk's own,
	 * names read from directories: never absolute, never "." or "..".
	 */
	if (path[0] == '/') {
		errno = EXDEV;
		return (-1);
	}
	if ((fd = dup(dirfd)) == -1)
		return (-1);
	for (p = path; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		if ((size_t)(slash - p) > NAME_MAX || slash == p) {
			close(fd);
			errno = ENOENT;
			return (-1);
		}
		memcpy(name, p, slash - p);
		name[slash - p] = '\0';
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			close(fd);
			errno = EXDEV;
			return (-1);
		}
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(fd);
		if (next == -1)
			return (-1);
		fd = next;
	}
	if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
		close(fd);
		errno = EXDEV;
		return (-1);
	}
	next = openat(fd, p, how.flags);
	close(fd);
	return (next);
}

/*
 * Send entries while the packer has credit: CREDITS more than before.
 * SEND(type, fd, data, len) queues one imsg.  Returns 1 once every
 * entry is sent, 0 while some wait for credit.
 */
int
walk_send(struct scanner *s, uint32_t credits,
    int (*send)(uint32_t, int, const void *, size_t))
{
	unsigned char		 buf[sizeof(struct pack_entry) +
				    2 * PACK_PATH_MAX];
	struct pack_entry	 pe;
	struct walk_entry	*e;
	struct stat		 st;
	size_t			 len;
	int			 fd, host;

	(void)s;
	if (!job.active)
		return (1);
	job.credits += credits;
	while (job.credits > 0 && job.next < job.n) {
		e = &job.v[job.next];
		memset(&pe, 0, sizeof(pe));
		pe.type = S_ISDIR(e->st.st_mode) ? PACK_DIR :
		    S_ISLNK(e->st.st_mode) ? PACK_SYMLINK : PACK_FILE;
		pe.mode = e->st.st_mode & 07777;
		pe.size = pe.type == PACK_FILE ? (uint64_t)e->st.st_size : 0;
		pe.mtime_sec = e->st.st_mtim.tv_sec;
		pe.mtime_nsec = e->st.st_mtim.tv_nsec;
		pe.pathlen = e->pathlen;
		pe.linklen = e->link != NULL ? strlen(e->link) : 0;
		fd = -1;
		if (pe.type == PACK_FILE) {
			fd = open_beneath(job.epfd, e->path);
			if (fd == -1 || fstat(fd, &st) == -1 ||
			    !S_ISREG(st.st_mode)) {
				/* errno is open_beneath's when fd is -1. */
				host = fd == -1 && host_errno(errno);

				snprintf(job.abort_msg, sizeof(job.abort_msg),
				    "episodes/%s/%s: cannot open: %s", job.id,
				    log_esc(e->path), fd == -1 ?
				    strerror(errno) : "no longer a file");
				if (fd != -1)
					close(fd);
				memset(&pe, 0, sizeof(pe));
				pe.type = host ? PACK_ABORT_HOST : PACK_ABORT;
				pe.pathlen = strlen(job.abort_msg);
				memcpy(buf, &pe, sizeof(pe));
				memcpy(buf + sizeof(pe), job.abort_msg,
				    pe.pathlen);
				if (send(IMSG_PACK_ENTRY, -1, buf,
				    sizeof(pe) + pe.pathlen) == -1)
					fatal("pack entry");
				job.next = job.n;
				return (1);
			}
		}
		memcpy(buf, &pe, sizeof(pe));
		len = sizeof(pe);
		memcpy(buf + len, e->path, pe.pathlen);
		len += pe.pathlen;
		if (pe.linklen > 0) {
			memcpy(buf + len, e->link, pe.linklen);
			len += pe.linklen;
		}
		if (send(IMSG_PACK_ENTRY, fd, buf, len) == -1)
			fatal("pack entry");
		job.next++;
		job.credits--;
	}
	return (job.next == job.n);
}
