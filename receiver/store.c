/*
 * Durable, idempotent storage under the storage root:
 *
 *	.tmp/up-*			uploads in progress (removed at start)
 *	HOST/ID.tar.zst			archives, never replaced
 *	HOST/ID.tar.zst.sha256		their digests ("sha-256=:B64:")
 *
 * Everything is reached through directory descriptors opened before the
 * server confines itself, so the same code runs chrooted or not.  An
 * archive appears only through link(2) of a complete, verified, fsync'd
 * temp file, which fails rather than replacing what is there: of two
 * uploads of one id exactly one stores, and a crash at any point leaves
 * either nothing or the whole archive.
 *
 * All of this runs in the server's one event loop, so nothing at the
 * commit may take time in proportion to the archive: the digest and the
 * zstd structure are checked as the body streams in, and the written
 * pages are pushed to the disk every SYNC_CHUNK bytes, so the final
 * fsync has little left to wait for.
 */
#include <sys/stat.h>
#include <sys/statfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "log.h"
#include "receiver.h"

#define DIGEST_LEN	32
#define DIGEST_SUFFIX	".sha256"
#define ARCHIVE_SUFFIX	".tar.zst"
/* Start writeback of what was written every this many bytes. */
#define SYNC_CHUNK	(4 * 1024 * 1024)

/* Frame and block headers (RFC 8878 3.1). */
#define ZST_MAGIC		0xFD2FB528U
#define ZST_SKIP_MAGIC		0x184D2A50U	/* low 4 bits are free */
#define ZST_BLOCK_MAX		(128 * 1024)
#define ZST_WINDOWLOG_MAX	31

enum zst_state {
	ZST_MAGIC_NUM,		/* 4 bytes: a frame's magic number */
	ZST_SKIP_SIZE,		/* 4 bytes: a skippable frame's size */
	ZST_FHD,		/* 1 byte: frame header descriptor */
	ZST_FHEAD,		/* rest of the frame header */
	ZST_BLOCK,		/* 3 bytes: block header */
	ZST_CHECKSUM,		/* 4 bytes: content checksum */
	ZST_SKIP,		/* skip: block content, skippable frame */
	ZST_BAD
};

/*
 * A walk over frame and block headers, fed the body as it arrives: it
 * needs no decompression and no second pass over the file.
 */
struct zst_walk {
	enum zst_state	 state;
	unsigned char	 hdr[14];
	size_t		 have;		/* bytes of hdr collected */
	size_t		 need;		/* bytes of hdr wanted */
	uint64_t	 skip;		/* bytes left to skip */
	int		 window;	/* the frame has a window descriptor */
	int		 checksum;	/* the frame ends in a checksum */
	int		 frames;	/* real frames seen */
	enum zst_state	 after_skip;
};

struct store_upload {
	char		 host[ID_MAXLEN + 1];
	char		 id[ID_MAXLEN + 1];
	char		 tmpname[64];
	int		 fd;
	uint64_t	 size;
	uint64_t	 synced;	/* writeback started up to here */
	EVP_MD_CTX	*md;
	struct zst_walk	 zst;
};

static int		 rootfd = -1;
static int		 tmpfd = -1;
static unsigned int	 seq;
/* Hosts whose directory entry in the root is known to be on disk. */
static char		**synced_hosts;
static size_t		 nsynced_hosts;

static int	 hash_fd(int, unsigned char *);
static int	 read_digest(int, const char *, unsigned char *);
static int	 write_digest(int, const char *, const unsigned char *);
static void	 zst_want(struct zst_walk *, enum zst_state, size_t);
static void	 zst_feed(struct zst_walk *, const unsigned char *, size_t);
static int	 zst_complete(const struct zst_walk *);
static int	 root_sync_host(const char *, int);

void
store_init(int fd)
{
	rootfd = fd;
	if (mkdirat(rootfd, STORE_TMPDIR, 0700) == -1 && errno != EEXIST)
		fatal("storage root: cannot create %s", STORE_TMPDIR);
	if ((tmpfd = openat(rootfd, STORE_TMPDIR,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		fatal("storage root: %s", STORE_TMPDIR);
}

/* What a crash or kill left in .tmp is never part of an archive. */
int
store_cleanup_tmp(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, n = 0;

	if ((fd = dup(tmpfd)) == -1)
		fatal("dup");
	if ((d = fdopendir(fd)) == NULL)
		fatal("storage root: %s", STORE_TMPDIR);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(tmpfd, de->d_name, 0) == -1)
			log_warn("cannot remove leftover %s/%s", STORE_TMPDIR,
			    log_esc(de->d_name));
		else
			n++;
	}
	closedir(d);
	if (n > 0) {
		log_info("removed %d leftover temp file%s from %s", n,
		    n == 1 ? "" : "s", STORE_TMPDIR);
		if (fsync(tmpfd) == -1)
			log_warn("fsync %s", STORE_TMPDIR);
	}
	return (n);
}

static int
hash_fd(int fd, unsigned char *out)
{
	EVP_MD_CTX	*md;
	unsigned char	 buf[65536];
	unsigned int	 len = DIGEST_LEN;
	ssize_t		 n;
	off_t		 off = 0;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		fatalx("SHA-256 init");
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		off += n;
	}
	EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
	return (n == -1 ? -1 : 0);
}

static int
read_digest(int dirfd, const char *name, unsigned char *out)
{
	char		 buf[128];
	unsigned char	 raw[64];
	ssize_t		 n;
	int		 fd, len;

	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* "sha-256=:" 44 base64 characters ":" */
	if (strlen(buf) != 9 + 44 + 1 || strncmp(buf, "sha-256=:", 9) != 0 ||
	    buf[9 + 44] != ':')
		return (-1);
	len = EVP_DecodeBlock(raw, (unsigned char *)buf + 9, 44);
	if (len != 33)
		return (-1);
	memcpy(out, raw, DIGEST_LEN);
	return (0);
}

/*
 * tmp → rename: a digest file is whole or absent.  It is a cache of
 * the archive's hash, so it has no fsync of its own (one journal
 * commit less per upload): the directory fsync that follows a commit
 * makes its entry durable, and one a crash left empty fails
 * read_digest(), so store_lookup() hashes the archive again.
 */
static int
write_digest(int dirfd, const char *name, const unsigned char *digest)
{
	char	 tmp[64], buf[80];
	int	 fd, len;

	snprintf(tmp, sizeof(tmp), "dg-%ld-%u", (long)getpid(), ++seq);
	memcpy(buf, "sha-256=:", 9);
	len = EVP_EncodeBlock((unsigned char *)buf + 9, digest, DIGEST_LEN);
	snprintf(buf + 9 + len, sizeof(buf) - 9 - len, ":\n");
	if ((fd = openat(tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0640)) == -1)
		return (-1);
	if (write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		close(fd);
		unlinkat(tmpfd, tmp, 0);
		return (-1);
	}
	close(fd);
	if (renameat(tmpfd, tmp, dirfd, name) == -1) {
		unlinkat(tmpfd, tmp, 0);
		return (-1);
	}
	return (0);
}

/*
 * Make HOST's entry in the storage root durable before the first archive
 * under it is answered for: when this process created HOST/, and also
 * the first time it stores under a HOST/ that was there already, since
 * a process that died between its mkdirat and its fsync left an entry
 * that may still be only in memory.  Later commits of this process find
 * the entry on disk.
 */
static int
root_sync_host(const char *host, int created)
{
	size_t	 i;
	char	*s;

	for (i = 0; i < nsynced_hosts; i++)
		if (strcmp(synced_hosts[i], host) == 0)
			break;
	if (i < nsynced_hosts && !created)
		return (0);
	if (fsync(rootfd) == -1)
		return (-1);
	if (i < nsynced_hosts)
		return (0);
	/* Hosts are those of the tokens file: a short list. */
	if ((s = strdup(host)) == NULL || (synced_hosts = reallocarray(
	    synced_hosts, nsynced_hosts + 1, sizeof(char *))) == NULL)
		fatal("%s", __func__);
	synced_hosts[nsynced_hosts++] = s;
	return (0);
}

/*
 * Is HOST/ID stored?  Returns 1 with its digest and size, 0 when not,
 * -1 on an error.  The digest file is normally there; after a crash
 * between the link and the digest file the archive is hashed once and
 * the file written.
 */
int
store_lookup(const char *host, const char *id, unsigned char *digest,
    uint64_t *size)
{
	char		 name[ID_MAXLEN + 32];
	struct stat	 st;
	int		 dfd, fd, r = -1;

	if ((dfd = openat(rootfd, host, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return (errno == ENOENT ? 0 : -1);
	snprintf(name, sizeof(name), "%s%s", id, ARCHIVE_SUFFIX);
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		r = errno == ENOENT ? 0 : -1;
		close(dfd);
		return (r);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		goto done;
	*size = (uint64_t)st.st_size;
	snprintf(name, sizeof(name), "%s%s%s", id, ARCHIVE_SUFFIX,
	    DIGEST_SUFFIX);
	if (read_digest(dfd, name, digest) == 0) {
		r = 1;
		goto done;
	}
	log_info("%s/%s: no digest file, hashing the archive", host, id);
	if (hash_fd(fd, digest) == -1) {
		log_warn("%s/%s%s", host, id, ARCHIVE_SUFFIX);
		goto done;
	}
	if (write_digest(dfd, name, digest) == -1)
		log_warn("%s/%s: cannot write its digest file", host, id);
	r = 1;
 done:
	close(fd);
	close(dfd);
	return (r);
}

struct store_upload *
store_begin(const char *host, const char *id)
{
	struct store_upload	*up;
	uint32_t		 rnd;
	int			 e;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return (NULL);
	strlcpy(up->host, host, sizeof(up->host));
	strlcpy(up->id, id, sizeof(up->id));
	arc4random_buf(&rnd, sizeof(rnd));
	snprintf(up->tmpname, sizeof(up->tmpname), "up-%ld-%u-%08x",
	    (long)getpid(), ++seq, rnd);
	zst_want(&up->zst, ZST_MAGIC_NUM, 4);
	if ((up->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(up->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(up->md);
		free(up);
		return (NULL);
	}
	if ((up->fd = openat(tmpfd, up->tmpname, O_WRONLY | O_CREAT |
	    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640)) == -1) {
		e = errno;
		log_warn("%s/%s", STORE_TMPDIR, up->tmpname);
		EVP_MD_CTX_free(up->md);
		free(up);
		errno = e;
		return (NULL);
	}
	return (up);
}

/* The storage is full or over quota: it passes, and is no client's fault. */
int
store_full(int e)
{
	return (e == ENOSPC || e == EDQUOT);
}

/*
 * Is there room for an upload of SIZE bytes (and an inode for it)?
 * Asked before the body is accepted, so that a client that waits for
 * "100 Continue" does not send an archive that cannot be stored.
 * Returns 1 when there is, or when the file system cannot tell.
 */
int
store_room(uint64_t size, uint64_t *avail)
{
	struct statfs	 sf;
	uint64_t	 unit;

	*avail = UINT64_MAX;
	if (fstatfs(tmpfd, &sf) == -1)
		return (1);
	unit = sf.f_frsize > 0 ? (uint64_t)sf.f_frsize : (uint64_t)sf.f_bsize;
	if (unit > 0 && (uint64_t)sf.f_bavail <= UINT64_MAX / unit)
		*avail = (uint64_t)sf.f_bavail * unit;
	if (sf.f_files > 0 && sf.f_ffree == 0)
		return (0);
	return (*avail >= size);
}

const char *
store_tmpname(const struct store_upload *up)
{
	return (up->tmpname);
}

int
store_write(struct store_upload *up, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;
	size_t		 left = len;
	int		 e;

	EVP_DigestUpdate(up->md, buf, len);
	zst_feed(&up->zst, buf, len);
	while (left > 0) {
		if ((n = write(up->fd, p, left)) == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			log_warn("%s/%s (upload of %s/%s)", STORE_TMPDIR,
			    up->tmpname, up->host, up->id);
			errno = e;
			return (-1);
		}
		p += n;
		left -= (size_t)n;
	}
	up->size += len;
	/*
	 * Start writeback now and then without waiting for it, so the
	 * fsync at the commit finds most pages on the disk already and
	 * the dirty pages of a big upload do not pile up.
	 */
	if (up->size - up->synced >= SYNC_CHUNK) {
		if (sync_file_range(up->fd, (off_t)up->synced,
		    (off_t)(up->size - up->synced),
		    SYNC_FILE_RANGE_WRITE) == -1)
			log_warn("sync_file_range %s/%s", STORE_TMPDIR,
			    up->tmpname);
		up->synced = up->size;
	}
	return (0);
}

void
store_abort(struct store_upload *up)
{
	if (up == NULL)
		return;
	if (up->fd != -1) {
		close(up->fd);
		if (unlinkat(tmpfd, up->tmpname, 0) == -1 && errno != ENOENT)
			log_warn("cannot remove %s/%s", STORE_TMPDIR,
			    up->tmpname);
	}
	EVP_MD_CTX_free(up->md);
	free(up);
}

static uint32_t
le32(const unsigned char *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static void
zst_want(struct zst_walk *z, enum zst_state st, size_t need)
{
	z->state = st;
	z->have = 0;
	z->need = need;
}

/* Skip n bytes, then collect the header of state next. */
static void
zst_skip(struct zst_walk *z, uint64_t n, enum zst_state next)
{
	z->after_skip = next;
	z->skip = n;
	if (n > 0)
		zst_want(z, ZST_SKIP, 0);
	else
		zst_want(z, next, next == ZST_BLOCK ? 3 : 4);
}

/* A whole header is in z->hdr: check it and say what comes next. */
static void
zst_header(struct zst_walk *z)
{
	static const size_t	 did_size[4] = { 0, 1, 2, 4 };
	uint32_t		 magic, bh, bsize, type;
	unsigned char		 d;
	size_t			 fcs;
	int			 single;

	switch (z->state) {
	case ZST_MAGIC_NUM:
		magic = le32(z->hdr);
		if (magic == ZST_MAGIC)
			zst_want(z, ZST_FHD, 1);
		else if ((magic & 0xFFFFFFF0U) == ZST_SKIP_MAGIC &&
		    z->frames > 0)
			zst_want(z, ZST_SKIP_SIZE, 4);
		else
			z->state = ZST_BAD;	/* the first is a real one */
		break;
	case ZST_SKIP_SIZE:
		zst_skip(z, le32(z->hdr), ZST_MAGIC_NUM);
		break;
	case ZST_FHD:
		d = z->hdr[0];
		if (d & 0x08) {			/* reserved bit */
			z->state = ZST_BAD;
			break;
		}
		single = (d >> 5) & 1;
		z->checksum = (d >> 2) & 1;
		z->window = !single;
		fcs = (d >> 6) == 0 ? (size_t)single :
		    (size_t)1 << (d >> 6);
		/* Window descriptor, dictionary id, frame content size. */
		zst_want(z, ZST_FHEAD, (size_t)z->window + did_size[d & 3] +
		    fcs);
		if (z->need == 0)
			zst_want(z, ZST_BLOCK, 3);
		break;
	case ZST_FHEAD:
		if (z->window && 10 + (z->hdr[0] >> 3) > ZST_WINDOWLOG_MAX)
			z->state = ZST_BAD;
		else
			zst_want(z, ZST_BLOCK, 3);
		break;
	case ZST_BLOCK:
		bh = (uint32_t)z->hdr[0] | (uint32_t)z->hdr[1] << 8 |
		    (uint32_t)z->hdr[2] << 16;
		bsize = bh >> 3;
		type = (bh >> 1) & 3;
		if (type == 3 || bsize > ZST_BLOCK_MAX) {
			z->state = ZST_BAD;	/* reserved type, too big */
			break;
		}
		if (type == 1)
			bsize = 1;		/* RLE: the byte to repeat */
		if (bh & 1) {
			z->frames++;
			zst_skip(z, bsize, z->checksum ? ZST_CHECKSUM :
			    ZST_MAGIC_NUM);
		} else
			zst_skip(z, bsize, ZST_BLOCK);
		break;
	case ZST_CHECKSUM:
		zst_want(z, ZST_MAGIC_NUM, 4);
		break;
	default:
		z->state = ZST_BAD;
		break;
	}
}

/* Feed the walk the next len bytes of the body. */
static void
zst_feed(struct zst_walk *z, const unsigned char *p, size_t len)
{
	size_t	 n;

	while (len > 0 && z->state != ZST_BAD) {
		if (z->state == ZST_SKIP) {
			n = len < z->skip ? len : (size_t)z->skip;
			p += n;
			len -= n;
			z->skip -= n;
			if (z->skip == 0)
				zst_skip(z, 0, z->after_skip);
			continue;
		}
		n = z->need - z->have;
		if (n > len)
			n = len;
		memcpy(z->hdr + z->have, p, n);
		z->have += n;
		p += n;
		len -= n;
		if (z->have == z->need)
			zst_header(z);
	}
}

/* One or more complete zstd frames and nothing else. */
static int
zst_complete(const struct zst_walk *z)
{
	return (z->state == ZST_MAGIC_NUM && z->have == 0 && z->frames > 0);
}

enum store_result
store_commit(struct store_upload *up, const unsigned char *want)
{
	unsigned char		 got[DIGEST_LEN], have[DIGEST_LEN];
	char			 name[ID_MAXLEN + 32];
	unsigned int		 len = DIGEST_LEN;
	uint64_t		 size;
	enum store_result	 res = STORE_ERROR;
	int			 dfd = -1, created = 0, e = 0;

	EVP_DigestFinal_ex(up->md, got, &len);
	if (CRYPTO_memcmp(got, want, DIGEST_LEN) != 0) {
		res = STORE_DIGEST_MISMATCH;
		goto out;
	}
	if (!zst_complete(&up->zst)) {
		res = STORE_NOT_ZSTD;
		goto out;
	}
	if (fsync(up->fd) == -1) {
		e = errno;
		log_warn("fsync %s/%s (upload of %s/%s)", STORE_TMPDIR,
		    up->tmpname, up->host, up->id);
		goto fail;
	}

	if (mkdirat(rootfd, up->host, 0750) == 0)
		created = 1;
	else if (errno != EEXIST) {
		e = errno;
		log_warn("storage root: cannot create %s", up->host);
		goto fail;
	}
	if ((dfd = openat(rootfd, up->host, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_warn("storage root: %s", up->host);
		goto out;
	}
	if (root_sync_host(up->host, created) == -1) {
		log_warn("fsync storage root");
		goto out;
	}
	snprintf(name, sizeof(name), "%s%s", up->id, ARCHIVE_SUFFIX);
	if (linkat(tmpfd, up->tmpname, dfd, name, 0) == -1) {
		if (errno != EEXIST) {
			e = errno;
			log_warn("link %s/%s to %s/%s", STORE_TMPDIR,
			    up->tmpname, up->host, name);
			goto fail;
		}
		/* Someone stored this id first: same bytes or not? */
		if (store_lookup(up->host, up->id, have, &size) != 1) {
			log_warnx("%s/%s: exists but cannot be read",
			    up->host, name);
			goto out;
		}
		res = CRYPTO_memcmp(have, got, DIGEST_LEN) == 0 ?
		    STORE_DUPLICATE : STORE_CONFLICT;
		goto out;
	}
	snprintf(name, sizeof(name), "%s%s%s", up->id, ARCHIVE_SUFFIX,
	    DIGEST_SUFFIX);
	if (write_digest(dfd, name, got) == -1)
		log_warn("%s/%s: cannot write its digest file (it is "
		    "recomputed when needed)", up->host, up->id);
	if (fsync(dfd) == -1) {
		e = errno;
		log_warn("fsync %s", up->host);
		goto fail;
	}
	res = STORE_CREATED;
	goto out;
 fail:
	/* A full disk passes; the client is told to come back. */
	res = store_full(e) ? STORE_FULL : STORE_ERROR;
 out:
	if (dfd != -1)
		close(dfd);
	store_abort(up);
	return (res);
}
