/*
 * The archive writer: tar bytes are staged in one zstd input buffer,
 * file data is read straight into it, and every compressed chunk is
 * written and hashed as it leaves the compressor.  See archive.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "archive.h"
#include "log.h"
#include "tar.h"
#include "util.h"

/*
 * zstd's own job size at level 3 is several MiB per worker, with more
 * than one buffer each: with 2 workers the packer went over its 64 MiB
 * budget.  2 MiB jobs keep it near 32 MiB at the same speed and ratio
 * (bench/RESULTS.md).
 */
#define ARCHIVE_JOB_SIZE	(2 << 20)
/*
 * Start writeback of the spool file every WRITEBACK_CHUNK bytes, so
 * the fsync at the end of a pack waits for the tail only.
 */
#define WRITEBACK_CHUNK		(8 << 20)

struct archive {
	int		 fd;
	char		*id;
	uint64_t	 total;		/* pledged tar bytes */
	uint64_t	 in;		/* tar bytes staged so far */
	uint64_t	 out;		/* compressed bytes written */
	uint64_t	 synced;	/* ... of which writeback was started */
	ZSTD_CCtx	*cctx;
	EVP_MD_CTX	*md;
	unsigned char	*ibuf;		/* tar bytes to compress */
	size_t		 isize;
	size_t		 ilen;
	unsigned char	*obuf;
	size_t		 osize;
	unsigned char	*hbuf;		/* one member's header(s) */
	size_t		 hsize;
	void		(*progress)(void *, uint64_t, uint64_t);
	void		*arg;
	enum archive_error error;
	int		 done;
};

static const unsigned char	 zeros[TAR_TRAILER_SIZE];

static int	 fail(struct archive *, enum archive_error, char *, size_t,
		    const char *, ...)
		    __attribute__((format(printf, 5, 6)));
static int	 usable(struct archive *, char *, size_t);
static int	 emit(struct archive *, size_t, char *, size_t);
static int	 compress(struct archive *, ZSTD_EndDirective, char *,
		    size_t);
static int	 feed(struct archive *, const unsigned char *, size_t, char *,
		    size_t);
static int	 same_file(const struct tar_entry *, const struct stat *);
static int	 check_file(struct archive *, const struct tar_entry *, int,
		    const char *, char *, size_t);
static int	 copy_file(struct archive *, const struct tar_entry *, int,
		    char *, size_t);

static int
fail(struct archive *a, enum archive_error e, char *err, size_t errlen,
    const char *fmt, ...)
{
	va_list	 ap;

	if (a != NULL)
		a->error = e;
	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

/*
 * A failed call may have left part of a member in the frame, so nothing
 * after it could give a valid archive.
 */
static int
usable(struct archive *a, char *err, size_t errlen)
{
	if (a == NULL)
		return (fail(NULL, ARCHIVE_EINTERNAL, err, errlen,
		    "no archive"));
	if (a->error != ARCHIVE_OK) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: archive unusable after an "
			    "earlier error", a->id);
		return (-1);
	}
	if (a->done)
		return (fail(a, ARCHIVE_EINTERNAL, err, errlen,
		    "%s: archive already finished", a->id));
	return (0);
}

/* Write and hash n bytes of obuf; short writes and EINTR are retried. */
static int
emit(struct archive *a, size_t n, char *err, size_t errlen)
{
	const unsigned char	*p = a->obuf;
	ssize_t			 w;

	while (n > 0) {
		w = write(a->fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return (fail(a, errno == ENOSPC || errno == EDQUOT ?
			    ARCHIVE_ENOSPC : ARCHIVE_EOUTPUT, err, errlen,
			    "%s: writing the archive: %s", a->id,
			    strerror(errno)));
		if (w == 0)
			return (fail(a, ARCHIVE_EOUTPUT, err, errlen,
			    "%s: writing the archive: wrote nothing", a->id));
		if (EVP_DigestUpdate(a->md, p, w) != 1)
			return (fail(a, ARCHIVE_EINTERNAL, err, errlen,
			    "%s: SHA-256 update failed", a->id));
		p += w;
		n -= w;
		a->out += w;
	}
	/* Advisory: a failure here only leaves the work to the fsync. */
	if (a->out - a->synced >= WRITEBACK_CHUNK) {
		(void)sync_file_range(a->fd, (off_t)a->synced,
		    (off_t)(a->out - a->synced), SYNC_FILE_RANGE_WRITE);
		a->synced = a->out;
	}
	if (a->progress != NULL)
		a->progress(a->arg, a->in, a->out);
	return (0);
}

/* Hand the staged bytes to zstd; ZSTD_e_end also ends the frame. */
static int
compress(struct archive *a, ZSTD_EndDirective mode, char *err,
    size_t errlen)
{
	ZSTD_inBuffer	 in = { a->ibuf, a->ilen, 0 };
	ZSTD_outBuffer	 out;
	size_t		 r;

	for (;;) {
		out.dst = a->obuf;
		out.size = a->osize;
		out.pos = 0;
		r = ZSTD_compressStream2(a->cctx, &out, &in, mode);
		if (ZSTD_isError(r))
			return (fail(a, ARCHIVE_EINTERNAL, err, errlen,
			    "%s: zstd: %s", a->id, ZSTD_getErrorName(r)));
		if (out.pos > 0 && emit(a, out.pos, err, errlen) == -1)
			return (-1);
		/* zstd guarantees progress on every call, so this ends. */
		if (mode == ZSTD_e_end ? r == 0 : in.pos == in.size)
			break;
	}
	a->ilen = 0;
	return (0);
}

static int
feed(struct archive *a, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	size_t	 k;

	while (n > 0) {
		if (a->ilen == a->isize &&
		    compress(a, ZSTD_e_continue, err, errlen) == -1)
			return (-1);
		k = a->isize - a->ilen;
		if (k > n)
			k = n;
		memcpy(a->ibuf + a->ilen, p, k);
		a->ilen += k;
		a->in += k;
		p += k;
		n -= k;
	}
	return (0);
}

static int
same_file(const struct tar_entry *e, const struct stat *st)
{
	return (S_ISREG(st->st_mode) && st->st_size >= 0 &&
	    (uint64_t)st->st_size == e->size &&
	    st->st_mtim.tv_sec == e->mtime.tv_sec &&
	    st->st_mtim.tv_nsec == e->mtime.tv_nsec);
}

/* The file must still be what the scanner saw; when says when. */
static int
check_file(struct archive *a, const struct tar_entry *e, int fd,
    const char *when, char *err, size_t errlen)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1)
		return (fail(a, ARCHIVE_EINPUT, err, errlen, "%s/%s: fstat: %s",
		    a->id, log_esc(e->path), strerror(errno)));
	if (!S_ISREG(st.st_mode))
		return (fail(a, ARCHIVE_EINPUT, err, errlen,
		    "%s/%s: changed %s (no longer a regular file)",
		    a->id, log_esc(e->path), when));
	if (same_file(e, &st) == 0)
		return (fail(a, ARCHIVE_EINPUT, err, errlen,
		    "%s/%s: changed %s (size %lld, mtime %lld.%09ld; "
		    "expected %llu, %lld.%09ld)", a->id, log_esc(e->path),
		    when, (long long)st.st_size,
		    (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
		    (unsigned long long)e->size, (long long)e->mtime.tv_sec,
		    (long)e->mtime.tv_nsec));
	return (0);
}

/*
 * Exactly e->size bytes, then EOF: a file that is appended to while it
 * is read has its extra bytes noticed even if its mtime has not moved
 * yet (coarse timestamps).
 */
static int
copy_file(struct archive *a, const struct tar_entry *e, int fd, char *err,
    size_t errlen)
{
	uint64_t	 left = e->size;
	size_t		 want;
	ssize_t		 n;
	char		 c;

	while (left > 0) {
		if (a->ilen == a->isize &&
		    compress(a, ZSTD_e_continue, err, errlen) == -1)
			return (-1);
		want = a->isize - a->ilen;
		if (want > left)
			want = left;
		n = read(fd, a->ibuf + a->ilen, want);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (fail(a, ARCHIVE_EINPUT, err, errlen,
			    "%s/%s: read error: %s", a->id, log_esc(e->path),
			    strerror(errno)));
		if (n == 0)
			return (fail(a, ARCHIVE_EINPUT, err, errlen,
			    "%s/%s: shrank while being packed (expected %llu "
			    "bytes, got %llu)", a->id, log_esc(e->path),
			    (unsigned long long)e->size,
			    (unsigned long long)(e->size - left)));
		a->ilen += n;
		a->in += n;
		left -= n;
	}
	do {
		n = read(fd, &c, 1);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (fail(a, ARCHIVE_EINPUT, err, errlen,
		    "%s/%s: read error: %s", a->id, log_esc(e->path),
		    strerror(errno)));
	if (n > 0)
		return (fail(a, ARCHIVE_EINPUT, err, errlen,
		    "%s/%s: grew while being packed (expected %llu bytes)",
		    a->id, log_esc(e->path), (unsigned long long)e->size));
	if (check_file(a, e, fd, "while being packed", err, errlen) == -1)
		return (-1);
	return (feed(a, zeros, (TAR_BLOCK - e->size % TAR_BLOCK) % TAR_BLOCK,
	    err, errlen));
}

int
archive_init(void)
{
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 n;

	return (EVP_Digest("", 0, d, &n, EVP_sha256(), NULL) == 1 ? 0 : -1);
}

struct archive *
archive_open(int outfd, const char *id, uint64_t tar_total, int level,
    int threads, void (*progress)(void *, uint64_t, uint64_t), void *arg,
    char *err, size_t errlen)
{
	struct archive	*a;
	size_t		 r;

	if (id == NULL || valid_id(id) == 0) {
		fail(NULL, ARCHIVE_EINVAL, err, errlen, "invalid episode id");
		return (NULL);
	}
	if (tar_total < TAR_TRAILER_SIZE || tar_total % TAR_BLOCK != 0) {
		fail(NULL, ARCHIVE_EINVAL, err, errlen, "%s: pledged size %llu "
		    "is not a tar size", id, (unsigned long long)tar_total);
		return (NULL);
	}
	if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel() ||
	    threads < 0) {
		fail(NULL, ARCHIVE_EINVAL, err, errlen, "%s: bad compression "
		    "level %d or threads %d", id, level, threads);
		return (NULL);
	}
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->id = strdup(id)) == NULL)
		goto nomem;
	a->fd = outfd;
	a->total = tar_total;
	a->progress = progress;
	a->arg = arg;
	a->isize = ZSTD_CStreamInSize();
	a->osize = ZSTD_CStreamOutSize();
	if ((a->ibuf = malloc(a->isize)) == NULL ||
	    (a->obuf = malloc(a->osize)) == NULL ||
	    (a->cctx = ZSTD_createCCtx()) == NULL ||
	    (a->md = EVP_MD_CTX_new()) == NULL)
		goto nomem;
	if (EVP_DigestInit_ex(a->md, EVP_sha256(), NULL) != 1) {
		fail(NULL, ARCHIVE_EINTERNAL, err, errlen, "%s: SHA-256 "
		    "unavailable", id);
		goto bad;
	}
	if (ZSTD_isError(r = ZSTD_CCtx_setParameter(a->cctx,
	    ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(r = ZSTD_CCtx_setParameter(a->cctx,
	    ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(r = ZSTD_CCtx_setParameter(a->cctx,
	    ZSTD_c_contentSizeFlag, 1)) ||
	    ZSTD_isError(r = ZSTD_CCtx_setParameter(a->cctx,
	    ZSTD_c_nbWorkers, threads)) ||
	    (threads > 0 && ZSTD_isError(r = ZSTD_CCtx_setParameter(a->cctx,
	    ZSTD_c_jobSize, ARCHIVE_JOB_SIZE))) ||
	    ZSTD_isError(r = ZSTD_CCtx_setPledgedSrcSize(a->cctx,
	    tar_total))) {
		fail(NULL, ARCHIVE_EINTERNAL, err, errlen, "%s: zstd: %s", id,
		    ZSTD_getErrorName(r));
		goto bad;
	}
	return (a);
 nomem:
	fail(NULL, ARCHIVE_EINTERNAL, err, errlen, "%s: out of memory", id);
 bad:
	archive_free(a);
	return (NULL);
}

int
archive_add(struct archive *a, const struct tar_entry *e, int fd, char *err,
    size_t errlen)
{
	unsigned char	*p;
	uint64_t	 msize;
	size_t		 hlen;

	if (usable(a, err, errlen) == -1)
		return (-1);
	if (e == NULL || (msize = tar_member_size(a->id, e)) == 0)
		return (fail(a, ARCHIVE_EINVAL, err, errlen, "%s/%s: invalid "
		    "entry (type, path, mtime or link)", a->id,
		    e == NULL || e->path == NULL ? "(null)" :
		    log_esc(e->path)));
	/* a->in never passes total - TAR_TRAILER_SIZE, see below. */
	if (msize > a->total - TAR_TRAILER_SIZE - a->in)
		return (fail(a, ARCHIVE_EINTERNAL, err, errlen, "%s/%s: "
		    "members exceed the pledged %llu bytes", a->id,
		    log_esc(e->path), (unsigned long long)a->total));
	if (e->type == TAR_FILE && fd < 0)
		return (fail(a, ARCHIVE_EINVAL, err, errlen, "%s/%s: no "
		    "descriptor for a regular file", a->id, log_esc(e->path)));
	/* Check before writing, so a changed file adds nothing. */
	if (e->type == TAR_FILE &&
	    check_file(a, e, fd, "before packing", err, errlen) == -1)
		return (-1);

	hlen = tar_header_size(a->id, e);
	if (hlen > a->hsize) {
		if ((p = realloc(a->hbuf, hlen)) == NULL)
			return (fail(a, ARCHIVE_EINTERNAL, err, errlen,
			    "%s: out of memory", a->id));
		a->hbuf = p;
		a->hsize = hlen;
	}
	if (tar_header(a->id, e, a->hbuf, a->hsize) != hlen)
		return (fail(a, ARCHIVE_EINTERNAL, err, errlen,
		    "%s/%s: tar header failed", a->id, log_esc(e->path)));
	if (feed(a, a->hbuf, hlen, err, errlen) == -1)
		return (-1);
	if (e->type == TAR_FILE)
		return (copy_file(a, e, fd, err, errlen));
	return (0);
}

int
archive_finish(struct archive *a, uint64_t *outsize,
    unsigned char digest[ARCHIVE_DIGEST_LEN], char *err, size_t errlen)
{
	unsigned int	 len;

	if (usable(a, err, errlen) == -1)
		return (-1);
	/* zstd would refuse too, but this says why. */
	if (a->in + TAR_TRAILER_SIZE != a->total)
		return (fail(a, ARCHIVE_EINTERNAL, err, errlen, "%s: members "
		    "add up to %llu bytes, %llu were pledged", a->id,
		    (unsigned long long)(a->in + TAR_TRAILER_SIZE),
		    (unsigned long long)a->total));
	if (feed(a, zeros, TAR_TRAILER_SIZE, err, errlen) == -1 ||
	    compress(a, ZSTD_e_end, err, errlen) == -1)
		return (-1);
	if (EVP_DigestFinal_ex(a->md, digest, &len) != 1 ||
	    len != ARCHIVE_DIGEST_LEN)
		return (fail(a, ARCHIVE_EINTERNAL, err, errlen,
		    "%s: SHA-256 final failed", a->id));
	*outsize = a->out;
	a->done = 1;
	return (0);
}

enum archive_error
archive_error(const struct archive *a)
{
	return (a == NULL ? ARCHIVE_EINTERNAL : a->error);
}

void
archive_free(struct archive *a)
{
	if (a == NULL)
		return;
	ZSTD_freeCCtx(a->cctx);
	EVP_MD_CTX_free(a->md);
	free(a->ibuf);
	free(a->obuf);
	free(a->hbuf);
	free(a->id);
	free(a);
}
