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
 */
#include <sys/mman.h>
#include <sys/stat.h>

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

struct store_upload {
	char		 host[ID_MAXLEN + 1];
	char		 id[ID_MAXLEN + 1];
	char		 tmpname[64];
	int		 fd;
	uint64_t	 size;
	EVP_MD_CTX	*md;
};

static int		 rootfd = -1;
static int		 tmpfd = -1;
static unsigned int	 seq;

static int	 hash_fd(int, unsigned char *);
static int	 read_digest(int, const char *, unsigned char *);
static int	 write_digest(int, const char *, const unsigned char *);
static int	 is_zstd(int, uint64_t);

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

/* tmp → fsync → rename: a digest file is whole or absent. */
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
	if (write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf) ||
	    fsync(fd) == -1) {
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

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return (NULL);
	strlcpy(up->host, host, sizeof(up->host));
	strlcpy(up->id, id, sizeof(up->id));
	arc4random_buf(&rnd, sizeof(rnd));
	snprintf(up->tmpname, sizeof(up->tmpname), "up-%ld-%u-%08x",
	    (long)getpid(), ++seq, rnd);
	if ((up->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(up->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(up->md);
		free(up);
		return (NULL);
	}
	if ((up->fd = openat(tmpfd, up->tmpname, O_WRONLY | O_CREAT |
	    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640)) == -1) {
		log_warn("%s/%s", STORE_TMPDIR, up->tmpname);
		EVP_MD_CTX_free(up->md);
		free(up);
		return (NULL);
	}
	return (up);
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

	EVP_DigestUpdate(up->md, buf, len);
	while (left > 0) {
		if ((n = write(up->fd, p, left)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s/%s (upload of %s/%s)", STORE_TMPDIR,
			    up->tmpname, up->host, up->id);
			return (-1);
		}
		p += n;
		left -= (size_t)n;
	}
	up->size += len;
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

/*
 * One or more complete zstd frames and nothing else.  Walking the frame
 * and block headers is cheap and needs no decompression; the content
 * itself is covered by the SHA-256 the client sent.
 */
static int
is_zstd(int fd, uint64_t size)
{
	unsigned char	*p;
	size_t		 off = 0, r;
	int		 ok = 1;

	if (size < 4 || size > SIZE_MAX)
		return (0);
	if ((p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd,
	    0)) == MAP_FAILED)
		return (-1);
	/* The first frame is a real one, not a skippable frame. */
	if (((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24) != ZSTD_MAGICNUMBER)
		ok = 0;
	while (ok && off < (size_t)size) {
		r = ZSTD_findFrameCompressedSize(p + off, (size_t)size - off);
		if (ZSTD_isError(r) || r == 0)
			ok = 0;
		else
			off += r;
	}
	munmap(p, (size_t)size);
	return (ok);
}

enum store_result
store_commit(struct store_upload *up, const unsigned char *want)
{
	unsigned char		 got[DIGEST_LEN], have[DIGEST_LEN];
	char			 name[ID_MAXLEN + 32];
	unsigned int		 len = DIGEST_LEN;
	uint64_t		 size;
	enum store_result	 res = STORE_ERROR;
	int			 dfd = -1, created = 0, rfd, z;

	EVP_DigestFinal_ex(up->md, got, &len);
	if (CRYPTO_memcmp(got, want, DIGEST_LEN) != 0) {
		res = STORE_DIGEST_MISMATCH;
		goto out;
	}
	/* Reopened read-only: mmap wants a readable descriptor. */
	if ((rfd = openat(tmpfd, up->tmpname, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("%s/%s", STORE_TMPDIR, up->tmpname);
		goto out;
	}
	z = is_zstd(rfd, up->size);
	close(rfd);
	if (z == -1) {
		log_warn("mmap %s/%s", STORE_TMPDIR, up->tmpname);
		goto out;
	}
	if (z == 0) {
		res = STORE_NOT_ZSTD;
		goto out;
	}
	if (fsync(up->fd) == -1) {
		log_warn("fsync %s/%s (upload of %s/%s)", STORE_TMPDIR,
		    up->tmpname, up->host, up->id);
		goto out;
	}

	if (mkdirat(rootfd, up->host, 0750) == 0)
		created = 1;
	else if (errno != EEXIST) {
		log_warn("storage root: cannot create %s", up->host);
		goto out;
	}
	if ((dfd = openat(rootfd, up->host, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_warn("storage root: %s", up->host);
		goto out;
	}
	if (created && fsync(rootfd) == -1) {
		log_warn("fsync storage root");
		goto out;
	}
	snprintf(name, sizeof(name), "%s%s", up->id, ARCHIVE_SUFFIX);
	if (linkat(tmpfd, up->tmpname, dfd, name, 0) == -1) {
		if (errno != EEXIST) {
			log_warn("link %s/%s to %s/%s", STORE_TMPDIR,
			    up->tmpname, up->host, name);
			goto out;
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
		log_warn("fsync %s", up->host);
		goto out;
	}
	res = STORE_CREATED;
 out:
	if (dfd != -1)
		close(dfd);
	store_abort(up);
	return (res);
}
