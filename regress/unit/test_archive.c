/*
 * archive.c: the zstd frame (one frame, checksum flag, content size),
 * the SHA-256 of the bytes written, determinism, and the errors: files
 * that change before or while they are packed, a pledged size that
 * does not add up, output that cannot be written.  Inputs are memfds,
 * and the progress callback is the hook that changes a file while the
 * writer is in the middle of it.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/evp.h>
/* For ZSTD_getFrameHeader(), exported by the shared library too. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "packer/archive.h"
#include "packer/tar.h"
#include "unit.h"

#define ID	"ep-1"

struct expect {
	unsigned char	*buf;
	size_t		 len;
};

struct member {
	struct tar_entry	 e;
	int			 fd;
	const unsigned char	*data;
};

struct prog {
	uint64_t	 in;
	uint64_t	 out;
	int		 calls;
	int		 fd;		/* changed on the first call */
	int		 what;
};

enum { NOTHING, APPEND, TRUNCATE, TOUCH };

static unsigned char	*random_data(size_t);
static int		 mkfile(const unsigned char *, size_t, time_t, long);
static void		 entry_of(struct member *, const char *, int);
static void		 expect_add(struct expect *, const struct member *);
static unsigned char	*slurp(int, size_t *);
static void		 progress(void *, uint64_t, uint64_t);
static uint64_t		 total_of(const struct member *, size_t);
static unsigned char	*decompress(const unsigned char *, size_t,
			    uint64_t);

static unsigned char *
random_data(size_t n)
{
	unsigned char	*p;
	uint32_t	 x = 2463534242U;
	size_t		 i;

	ck_assert_ptr_nonnull(p = malloc(n));
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		/* Half-compressible, so frames are neither tiny nor raw. */
		p[i] = (i / 64) % 2 == 0 ? (unsigned char)x : 'a';
	}
	return (p);
}

static int
mkfile(const unsigned char *data, size_t len, time_t sec, long nsec)
{
	struct timespec	 ts[2];
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	ck_assert_int_ne(fd = memfd_create("member", MFD_CLOEXEC), -1);
	while (off < len) {
		ck_assert_int_gt(n = write(fd, data + off, len - off), 0);
		off += n;
	}
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ts[0].tv_sec = ts[1].tv_sec = sec;
	ts[0].tv_nsec = ts[1].tv_nsec = nsec;
	ck_assert_int_eq(futimens(fd, ts), 0);
	return (fd);
}

/* What the scanner would hand over for fd, as a TAR_FILE. */
static void
entry_of(struct member *m, const char *path, int fd)
{
	struct stat	 st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	m->e.path = path;
	m->e.type = TAR_FILE;
	m->e.mode = st.st_mode & 07777;
	m->e.size = st.st_size;
	m->e.mtime = st.st_mtim;
	m->fd = fd;
}

/* The uncompressed stream, built independently of the writer. */
static void
expect_add(struct expect *x, const struct member *m)
{
	size_t	 h = tar_header_size(ID, &m->e);
	size_t	 d = m->e.type == TAR_FILE ? m->e.size : 0;
	size_t	 pad = (512 - d % 512) % 512;

	ck_assert_uint_gt(h, 0);
	x->buf = realloc(x->buf, x->len + h + d + pad);
	ck_assert_ptr_nonnull(x->buf);
	ck_assert_uint_eq(tar_header(ID, &m->e, x->buf + x->len, h), h);
	x->len += h;
	if (d > 0)
		memcpy(x->buf + x->len, m->data, d);
	memset(x->buf + x->len + d, 0, pad);
	x->len += d + pad;
}

static unsigned char *
slurp(int fd, size_t *len)
{
	struct stat	 st;
	unsigned char	*p;

	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_ptr_nonnull(p = malloc(st.st_size + 1));
	ck_assert_int_eq(pread(fd, p, st.st_size, 0), st.st_size);
	*len = st.st_size;
	return (p);
}

static void
progress(void *arg, uint64_t in, uint64_t out)
{
	struct prog	*p = arg;
	struct timespec	 ts[2] = { { 1, 0 }, { 1, 0 } };

	ck_assert_uint_ge(in, p->in);
	ck_assert_uint_gt(out, p->out);
	p->in = in;
	p->out = out;
	if (p->calls++ > 0)
		return;
	switch (p->what) {
	case APPEND:
		ck_assert_int_eq(pwrite(p->fd, "x", 1, 4 << 20), 1);
		break;
	case TRUNCATE:
		ck_assert_int_eq(ftruncate(p->fd, 1000), 0);
		break;
	case TOUCH:
		ck_assert_int_eq(futimens(p->fd, ts), 0);
		break;
	}
}

static uint64_t
total_of(const struct member *m, size_t n)
{
	uint64_t	 t = TAR_TRAILER_SIZE;
	size_t		 i;

	for (i = 0; i < n; i++)
		t += tar_member_size(ID, &m[i].e);
	return (t);
}

/* Check the frame header, then decompress the one frame it holds. */
static unsigned char *
decompress(const unsigned char *z, size_t zlen, uint64_t total)
{
	ZSTD_frameHeader	 fh;
	unsigned char		*p;

	ck_assert_uint_eq(ZSTD_getFrameHeader(&fh, z, zlen), 0);
	ck_assert_int_eq(fh.frameType, ZSTD_frame);
	ck_assert_uint_eq(fh.checksumFlag, 1);
	ck_assert_uint_eq(fh.frameContentSize, total);
	ck_assert_uint_eq(ZSTD_findFrameCompressedSize(z, zlen), zlen);
	ck_assert_ptr_nonnull(p = malloc(total));
	ck_assert_uint_eq(ZSTD_decompress(p, total, z, zlen), total);
	return (p);
}

/*
 * A small tree packed, then read back: the frame, the digest, the
 * progress reports and the tar stream byte for byte.  Returns the
 * compressed bytes for the determinism tests.
 */
static unsigned char *
pack_tree(int threads, size_t *zlen)
{
	struct member	 m[6];
	struct expect	 x = { NULL, 0 };
	struct prog	 pr;
	struct archive	*a;
	unsigned char	*big, *z, *t, digest[32], want[32];
	unsigned int	 dlen;
	uint64_t	 total, outsize;
	size_t		 i, bigsize = (1 << 20) + 7;
	char		 err[256];
	int		 out;

	memset(m, 0, sizeof(m));
	memset(&pr, 0, sizeof(pr));
	big = random_data(bigsize);
	m[0].e.path = "";
	m[0].e.type = TAR_DIR;
	m[0].e.mode = 0755;
	m[0].e.mtime.tv_sec = 1700000000;
	m[0].e.mtime.tv_nsec = 5;
	m[0].fd = -1;
	m[1].data = big;
	entry_of(&m[1], "big", mkfile(big, bigsize, 1700000001, 999999999));
	m[2].e = m[0].e;
	m[2].e.path = "d";
	m[2].fd = -1;
	m[3].data = (const unsigned char *)"hello\n";
	entry_of(&m[3], "d/a", mkfile(m[3].data, 6, 1700000002, 0));
	entry_of(&m[4], "empty", mkfile(NULL, 0, 1700000003, 0));
	m[5].e.path = "link";
	m[5].e.type = TAR_SYMLINK;
	m[5].e.mode = 0777;
	m[5].e.link = "d/a";
	m[5].fd = -1;
	for (i = 0; i < 6; i++)
		expect_add(&x, &m[i]);
	total = total_of(m, 6);
	ck_assert_uint_eq(x.len + TAR_TRAILER_SIZE, total);

	ck_assert_int_ne(out = memfd_create("out", MFD_CLOEXEC), -1);
	a = archive_open(out, ID, total, 3, threads, progress, &pr, err,
	    sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	for (i = 0; i < 6; i++)
		ck_assert_msg(archive_add(a, &m[i].e, m[i].fd, err,
		    sizeof(err)) == 0, "%s", err);
	ck_assert_msg(archive_finish(a, &outsize, digest, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(archive_error(a), ARCHIVE_OK);
	archive_free(a);

	z = slurp(out, zlen);
	ck_assert_uint_eq(outsize, *zlen);
	ck_assert_int_eq(EVP_Digest(z, *zlen, want, &dlen, EVP_sha256(),
	    NULL), 1);
	ck_assert_mem_eq(digest, want, 32);
	ck_assert_int_gt(pr.calls, 0);
	ck_assert_uint_eq(pr.in, total);
	ck_assert_uint_eq(pr.out, outsize);
	/* Compressible data was compressed. */
	ck_assert_uint_lt(*zlen, total);

	t = decompress(z, *zlen, total);
	ck_assert_mem_eq(t, x.buf, x.len);
	for (i = 0; i < TAR_TRAILER_SIZE; i++)
		ck_assert_int_eq(t[x.len + i], 0);

	free(t);
	free(x.buf);
	free(big);
	for (i = 0; i < 6; i++)
		if (m[i].fd != -1)
			close(m[i].fd);
	close(out);
	return (z);
}

START_TEST(round_trip)
{
	unsigned char	*a, *b;
	size_t		 alen, blen;

	a = pack_tree(0, &alen);
	b = pack_tree(0, &blen);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(a, b, alen);
	free(a);
	free(b);
}
END_TEST

START_TEST(round_trip_threads)
{
	unsigned char	*a, *b;
	size_t		 alen, blen;

	a = pack_tree(2, &alen);
	b = pack_tree(2, &blen);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(a, b, alen);
	free(a);
	free(b);
}
END_TEST

/*
 * One file through a fresh archive; returns archive_add's result with
 * err filled in.  size_delta and mtime_delta make the entry disagree
 * with the file, what changes it during the copy.
 */
static int
pack_one(int fd, int64_t size_delta, long mtime_delta, int what,
    int64_t total_delta, struct archive **ap, char *err, size_t errlen)
{
	struct member	 m;
	struct archive	*a;
	static struct prog pr;
	int		 out, r;

	memset(&m, 0, sizeof(m));
	entry_of(&m, "data.csv", fd);
	m.e.size += size_delta;
	m.e.mtime.tv_nsec += mtime_delta;
	memset(&pr, 0, sizeof(pr));
	pr.fd = fd;
	pr.what = what;
	ck_assert_int_ne(out = memfd_create("out", MFD_CLOEXEC), -1);
	a = archive_open(out, ID, (uint64_t)((int64_t)total_of(&m, 1) +
	    total_delta), 1, 0,
	    progress, &pr, err, errlen);
	ck_assert_ptr_nonnull(a);
	r = archive_add(a, &m.e, fd, err, errlen);
	*ap = a;
	return (r);
}

static void
assert_err(int r, struct archive *a, enum archive_error class,
    const char *err, const char *want)
{
	char	 err2[256];
	uint64_t outsize;
	unsigned char digest[32];

	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(archive_error(a), class);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\" lacks \"%s\"",
	    err, want);
	/* An archive that failed stays failed, with its first class. */
	ck_assert_int_eq(archive_finish(a, &outsize, digest, err2,
	    sizeof(err2)), -1);
	ck_assert_str_eq(err2, ID ": archive unusable after an earlier error");
	ck_assert_int_eq(archive_error(a), class);
	archive_free(a);
}

START_TEST(changed_before)
{
	struct archive	*a;
	char		 err[256];
	int		 fd, p[2], r;

	fd = mkfile((const unsigned char *)"0123456789", 10, 1700000000, 0);
	r = pack_one(fd, 1, 0, NOTHING, 0, &a, err, sizeof(err));
	assert_err(r, a, ARCHIVE_EINPUT, err, "ep-1/data.csv: changed "
	    "before packing (size 10, mtime 1700000000.000000000; expected "
	    "11, 1700000000.000000000)");
	r = pack_one(fd, -1, 0, NOTHING, 0, &a, err, sizeof(err));
	assert_err(r, a, ARCHIVE_EINPUT, err, "changed before packing");
	r = pack_one(fd, 0, 1, NOTHING, 0, &a, err, sizeof(err));
	assert_err(r, a, ARCHIVE_EINPUT, err, "changed before packing");

	/* Replaced by something that is not a regular file. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "0123456789", 10), 10);
	ck_assert_int_eq(dup2(p[0], fd), fd);
	r = pack_one(fd, 0, 0, NOTHING, 0, &a, err, sizeof(err));
	assert_err(r, a, ARCHIVE_EINPUT, err, "ep-1/data.csv: changed before "
	    "packing (no longer a regular file)");
	close(fd);
}
END_TEST

START_TEST(shrank)
{
	unsigned char	*d = random_data(3 << 20);
	struct archive	*a;
	char		 err[256];
	int		 fd, r;

	/* Read from the wrong offset: fewer bytes than fstat says. */
	fd = mkfile(d, 4096, 1700000000, 0);
	ck_assert_int_eq(lseek(fd, 100, SEEK_SET), 100);
	r = pack_one(fd, 0, 0, NOTHING, 0, &a, err, sizeof(err));
	assert_err(r, a, ARCHIVE_EINPUT, err, "ep-1/data.csv: shrank while "
	    "being packed (expected 4096 bytes, got 3996)");
	close(fd);

	/* Truncated in the middle of the copy. */
	fd = mkfile(d, 3 << 20, 1700000000, 0);
	r = pack_one(fd, 0, 0, TRUNCATE, 0, &a, err, sizeof(err));
	assert_err(r, a, ARCHIVE_EINPUT, err, "ep-1/data.csv: shrank while "
	    "being packed (expected 3145728 bytes, got ");
	close(fd);
	free(d);
}
END_TEST

START_TEST(grew)
{
	unsigned char	*d = random_data(4 << 20);
	struct archive	*a;
	char		 err[256];
	int		 fd, r;

	fd = mkfile(d, 4 << 20, 1700000000, 0);
	r = pack_one(fd, 0, 0, APPEND, 0, &a, err, sizeof(err));
	assert_err(r, a, ARCHIVE_EINPUT, err, "ep-1/data.csv: grew while "
	    "being packed (expected 4194304 bytes)");
	close(fd);
	free(d);
}
END_TEST

START_TEST(changed_while)
{
	unsigned char	*d = random_data(3 << 20);
	struct archive	*a;
	char		 err[256];
	int		 fd, r;

	fd = mkfile(d, 3 << 20, 1700000000, 0);
	r = pack_one(fd, 0, 0, TOUCH, 0, &a, err, sizeof(err));
	assert_err(r, a, ARCHIVE_EINPUT, err, "ep-1/data.csv: changed while "
	    "being packed (size 3145728, mtime 1.000000000; expected 3145728, "
	    "1700000000.000000000)");
	close(fd);
	free(d);
}
END_TEST

START_TEST(pledge_mismatch)
{
	struct archive	*a;
	unsigned char	*z, digest[32];
	uint64_t	 outsize;
	size_t		 zlen;
	char		 err[256];
	int		 fd, r;

	/* Pledged too much: finish refuses to end the frame. */
	fd = mkfile((const unsigned char *)"abc", 3, 1700000000, 0);
	r = pack_one(fd, 0, 0, NOTHING, 512, &a, err, sizeof(err));
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(archive_finish(a, &outsize, digest, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(archive_error(a), ARCHIVE_EINTERNAL);
	ck_assert_str_eq(err, "ep-1: members add up to 2048 bytes, 2560 "
	    "were pledged");
	archive_free(a);

	/* Pledged too little: the member is refused before any byte. */
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	r = pack_one(fd, 0, 0, NOTHING, -512, &a, err, sizeof(err));
	assert_err(r, a, ARCHIVE_EINTERNAL, err, "ep-1/data.csv: members "
	    "exceed the pledged 1536 bytes");
	close(fd);

	/* What was written before a mismatch is no valid frame. */
	fd = mkfile((const unsigned char *)"abc", 3, 1700000000, 0);
	{
		struct member	 m;
		int		 out;

		memset(&m, 0, sizeof(m));
		entry_of(&m, "x", fd);
		ck_assert_int_ne(out = memfd_create("o", MFD_CLOEXEC), -1);
		a = archive_open(out, ID, total_of(&m, 1) + 512, 3, 0, NULL,
		    NULL, err, sizeof(err));
		ck_assert_int_eq(archive_add(a, &m.e, fd, err, sizeof(err)),
		    0);
		ck_assert_int_eq(archive_finish(a, &outsize, digest, err,
		    sizeof(err)), -1);
		archive_free(a);
		z = slurp(out, &zlen);
		ck_assert(ZSTD_isError(ZSTD_findFrameCompressedSize(z,
		    zlen)));
		free(z);
		close(out);
	}
	close(fd);
}
END_TEST

static enum archive_error
pack_to(int out, char *err, size_t errlen)
{
	struct member	 m;
	struct archive	*a;
	enum archive_error e;
	unsigned char	 digest[32];
	uint64_t	 outsize;

	memset(&m, 0, sizeof(m));
	m.e.path = "";
	m.e.type = TAR_DIR;
	a = archive_open(out, ID, total_of(&m, 1), 3, 0, NULL, NULL, err,
	    errlen);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(archive_add(a, &m.e, -1, err, errlen), 0);
	ck_assert_int_eq(archive_finish(a, &outsize, digest, err, errlen),
	    -1);
	e = archive_error(a);
	archive_free(a);
	return (e);
}

START_TEST(output_errors)
{
	char	 err[256];
	int	 fd;

	ck_assert_int_ne(fd = open("/dev/full", O_WRONLY | O_CLOEXEC), -1);
	ck_assert_int_eq(pack_to(fd, err, sizeof(err)), ARCHIVE_ENOSPC);
	ck_assert_str_eq(err, "ep-1: writing the archive: No space left on "
	    "device");
	close(fd);
	ck_assert_int_ne(fd = open("/dev/null", O_RDONLY | O_CLOEXEC), -1);
	ck_assert_int_eq(pack_to(fd, err, sizeof(err)), ARCHIVE_EOUTPUT);
	ck_assert_str_eq(err, "ep-1: writing the archive: Bad file "
	    "descriptor");
	close(fd);
}
END_TEST

START_TEST(misuse)
{
	struct tar_entry e;
	struct archive	*a;
	unsigned char	 digest[32];
	uint64_t	 outsize;
	char		 err[256];
	int		 fd;

	ck_assert_ptr_null(archive_open(1, "a/b", 2048, 3, 0, NULL, NULL,
	    err, sizeof(err)));
	ck_assert_str_eq(err, "invalid episode id");
	ck_assert_ptr_null(archive_open(1, ID, 1000, 3, 0, NULL, NULL, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "ep-1: pledged size 1000 is not a tar size");
	ck_assert_ptr_null(archive_open(1, ID, 512, 3, 0, NULL, NULL, err,
	    sizeof(err)));
	ck_assert_ptr_null(archive_open(1, ID, 2048, 3, -1, NULL, NULL, err,
	    sizeof(err)));
	ck_assert_ptr_null(archive_open(1, ID, 2048, 99, 0, NULL, NULL, err,
	    sizeof(err)));
	ck_assert_int_eq(archive_add(NULL, NULL, -1, err, sizeof(err)), -1);
	ck_assert_int_eq(archive_error(NULL), ARCHIVE_EINTERNAL);

	/* An invalid entry. */
	memset(&e, 0, sizeof(e));
	e.path = "../escape";
	e.type = TAR_DIR;
	a = archive_open(-1, ID, 2048, 3, 0, NULL, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	assert_err(archive_add(a, &e, -1, err, sizeof(err)), a,
	    ARCHIVE_EINVAL, err, "ep-1/../escape: invalid entry");
	a = archive_open(-1, ID, 2048, 3, 0, NULL, NULL, err, sizeof(err));
	e.type = 7;
	e.path = "x\ny";
	assert_err(archive_add(a, &e, -1, err, sizeof(err)), a,
	    ARCHIVE_EINVAL, err, "ep-1/x\\ny: invalid entry");
	a = archive_open(-1, ID, 2048, 3, 0, NULL, NULL, err, sizeof(err));
	e.type = TAR_FILE;
	e.path = "f";
	assert_err(archive_add(a, &e, -1, err, sizeof(err)), a,
	    ARCHIVE_EINVAL, err, "ep-1/f: no descriptor for a regular file");

	/* Nothing after finishing. */
	ck_assert_int_ne(archive_init(), -1);
	ck_assert_int_ne(fd = memfd_create("o", MFD_CLOEXEC), -1);
	a = archive_open(fd, ID, 1024, 3, 0, NULL, NULL, err,
	    sizeof(err));
	ck_assert_int_eq(archive_finish(a, &outsize, digest, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(archive_finish(a, &outsize, digest, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "ep-1: archive already finished");
	e.path = "late";
	e.type = TAR_DIR;
	ck_assert_int_eq(archive_add(a, &e, -1, err, sizeof(err)), -1);
	archive_free(a);
	archive_free(NULL);
	close(fd);
}
END_TEST

/*
 * Memory does not grow with file size: 512 MiB of a sparse memfd (holes
 * read as zeros and take no memory) through the writer.
 */
START_TEST(bounded_memory)
{
	struct rusage	 before, after;
	struct member	 m;
	struct archive	*a;
	unsigned char	 digest[32];
	uint64_t	 outsize;
	char		 err[256];
	int		 fd, out;

	ck_assert_int_ne(fd = memfd_create("sparse", MFD_CLOEXEC), -1);
	ck_assert_int_eq(ftruncate(fd, 512 << 20), 0);
	memset(&m, 0, sizeof(m));
	entry_of(&m, "sparse", fd);
	ck_assert_int_ne(out = open("/dev/null", O_WRONLY | O_CLOEXEC), -1);
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &before), 0);
	a = archive_open(out, ID, total_of(&m, 1), 1, 0, NULL, NULL, err,
	    sizeof(err));
	ck_assert_int_eq(archive_add(a, &m.e, fd, err, sizeof(err)), 0);
	ck_assert_int_eq(archive_finish(a, &outsize, digest, err,
	    sizeof(err)), 0);
	archive_free(a);
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &after), 0);
	/* ru_maxrss is in KiB; the writer needs a few MiB at level 1. */
	ck_assert_int_lt(after.ru_maxrss - before.ru_maxrss, 64 * 1024);
	close(fd);
	close(out);
}
END_TEST

Suite *
archive_suite(void)
{
	Suite	*s = suite_create("archive");
	TCase	*tc = tcase_create("archive");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, round_trip_threads);
	tcase_add_test(tc, changed_before);
	tcase_add_test(tc, shrank);
	tcase_add_test(tc, grew);
	tcase_add_test(tc, changed_while);
	tcase_add_test(tc, pledge_mismatch);
	tcase_add_test(tc, output_errors);
	tcase_add_test(tc, misuse);
	tcase_add_test(tc, bounded_memory);
	suite_add_tcase(s, tc);
	return (s);
}
