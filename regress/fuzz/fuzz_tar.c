/*
 * Fuzz harness for the archive writer (packer/tar.c, packer/archive.c):
 * a round trip through real files.
 *
 * The input is decoded into a small tree description: an episode id,
 * then entries, each a directory, a regular file or a symlink, with its
 * parent directory, name (any bytes but NUL and "/", up to 255, so long
 * and non-UTF-8 names and deep paths come up), mode (all of 07777), mtime
 * (whole, sub-second, negative or past ustar's 11 octal digits) and
 * contents (bytes from the input, optionally followed by a hole of
 * zeros) or link target (up to 1000 bytes, any but NUL).  The tree is
 * written to a scratch directory, walked and packed exactly as arc-pack
 * (regress/tools/arc_pack.c) does, which is how the scanner and packer
 * do it: lstat-like fstatat, members sorted bytewise, one descriptor
 * per regular file.  Then libarchive reads the archive back and every
 * entry must match what the walk saw: name, type, mode, size, mtime to
 * the nanosecond, owner 0, link target and every byte of contents.
 * Packing the same tree twice must give the same bytes, the reported
 * size and SHA-256 must be those of the output, and the sum of
 * tar_member_size() must be what was pledged (archive_finish checks).
 *
 * The input language (mkseeds.c writes it; missing bytes read as 0):
 *	level byte (zstd level 1..3 or -5), id length byte (< 0x80: 1..12,
 *	else 1..128), id characters (indexes into [A-Za-z0-9._-]), the
 *	top directory's mode (2 bytes, little-endian) and mtime (4 bytes
 *	seconds, 4 bytes nanoseconds); then entries, each:
 *	flags	& 3: 1 file, 2 symlink, else directory; 0x80 long name;
 *		0x40 long contents or target; 0x20 file: a hole follows
 *	parent	index among the directories so far (0: the top)
 *	name	length byte, then the bytes (NUL and "/" become "_")
 *	mode	2 bytes
 *	mtime	selector byte & 3: 0 seconds (4 bytes); 1 seconds and
 *		nanoseconds (4 + 4); 2 before 1970 (4, and 4 more with
 *		selector & 4); 3 around 077777777777 (2 bytes)
 *	file	length byte (times 7 with 0x40) and that many bytes, then
 *		with 0x20 the hole's size (2 bytes)
 *	symlink	length byte and the target (NUL becomes "/")
 * An entry whose name is taken in its directory is skipped.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "packer/archive.h"
#include "log.h"
#include "fuzz.h"
#include "fuzz_tar.h"

#define MAX_ENTRIES	48
#define MAX_PATH	3000		/* below the scanner's PACK_PATH_MAX */
#define MAX_HOLE	(64 * 1024)	/* zeros after a file's bytes */

struct input {
	const uint8_t	*p;
	size_t		 left;
};

/* One entry of the description, as created. */
struct node {
	int		 type;
	int		 parent;	/* index of a TAR_DIR node; -1: top */
	char		 name[256];
	char		*path;		/* relative to the top */
	mode_t		 mode;
	struct timespec	 mtime;
	const uint8_t	*data;
	size_t		 datalen;
	size_t		 hole;
	char		 link[1001];
	int		 dfd;		/* TAR_DIR: open while building */
};

static char		 scratch[PATH_MAX];
static char		 top[PATH_MAX];
static struct node	 nodes[MAX_ENTRIES + 1];
static int		 nnodes;
static struct fz_member	*members;
static size_t		 nmembers, maxmembers;
static int		 is_root;

static int	 byte(struct input *, int *);
static uint64_t	 bytes(struct input *, int);
static void	 decode_id(struct input *, char *);
static int	 decode(struct input *);
static void	 build(void);
static void	 finish_node(struct node *);
static void	 unbuild(void);
static struct fz_member *add(const char *, const struct stat *);
static void	 walk(int, const char *);
static int	 cmp(const void *, const void *);
static int	 open_beneath(int, const char *);
static void	 attach_data(void);
static uint8_t	*pack(const char *, int, size_t *);
static void	 free_members(void);
static void	 cleanup(void);

static int
byte(struct input *in, int *b)
{
	if (in->left == 0)
		return (0);
	*b = *in->p++;
	in->left--;
	return (1);
}

/* n bytes, little-endian; missing bytes are 0. */
static uint64_t
bytes(struct input *in, int n)
{
	uint64_t	 v = 0;
	int		 i, b;

	for (i = 0; i < n && byte(in, &b); i++)
		v |= (uint64_t)b << (8 * i);
	return (v);
}

/* A valid id of 1 to 128 characters: [A-Za-z0-9][A-Za-z0-9._-]*. */
static void
decode_id(struct input *in, char *id)
{
	static const char	 set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789._-";
	int			 len = 0, b, i;

	if (byte(in, &b))
		len = b < 0x80 ? b % 12 + 1 : b % 128 + 1;
	else
		len = 4;
	for (i = 0; i < len; i++) {
		b = 0;
		byte(in, &b);
		/* The first must be a letter or digit. */
		id[i] = set[b % (i == 0 ? 62 : sizeof(set) - 1)];
	}
	id[len] = '\0';
}

static int
decode(struct input *in)
{
	struct node	*n, *par;
	size_t		 len, plen, i;
	int		 b, flags, ndirs, k, j;
	int		 dirs[MAX_ENTRIES + 1];

	/* Node 0 is the episode's top directory. */
	memset(&nodes[0], 0, sizeof(nodes[0]));
	nodes[0].type = TAR_DIR;
	nodes[0].parent = -1;
	if ((nodes[0].path = strdup("")) == NULL)
		fuzz_fail("out of memory");
	nodes[0].dfd = -1;
	nodes[0].mode = (bytes(in, 2) & 07777) | (is_root ? 0 : 0700);
	nodes[0].mtime.tv_sec = (time_t)bytes(in, 4);
	nodes[0].mtime.tv_nsec = (long)(bytes(in, 4) % 1000000000);
	nnodes = 1;
	dirs[0] = 0;
	ndirs = 1;

	while (nnodes <= MAX_ENTRIES && byte(in, &flags)) {
		n = &nodes[nnodes];
		memset(n, 0, sizeof(*n));
		n->dfd = -1;
		n->type = (flags & 3) == 1 ? TAR_FILE :
		    (flags & 3) == 2 ? TAR_SYMLINK : TAR_DIR;
		b = 0;
		byte(in, &b);
		n->parent = dirs[b % ndirs];
		par = &nodes[n->parent];

		/* Name: short usually, up to NAME_MAX when the flag says. */
		b = 0;
		byte(in, &b);
		len = (flags & 0x80) != 0 ? (size_t)b % 255 + 1 :
		    (size_t)b % 16 + 1;
		for (i = 0; i < len; i++) {
			b = 'a';
			byte(in, &b);
			n->name[i] = b == '\0' || b == '/' ? '_' : (char)b;
		}
		n->name[len] = '\0';
		if (strcmp(n->name, ".") == 0 || strcmp(n->name, "..") == 0)
			n->name[0] = '_';
		/* A name taken in the same directory: skip the entry. */
		for (k = 1; k < nnodes; k++)
			if (nodes[k].parent == n->parent &&
			    strcmp(nodes[k].name, n->name) == 0)
				break;
		plen = strlen(par->path);
		if (k < nnodes || plen + 1 + len > MAX_PATH)
			continue;
		if ((n->path = malloc(plen + len + 2)) == NULL)
			fuzz_fail("out of memory");
		snprintf(n->path, plen + len + 2, "%s%s%s", par->path,
		    plen > 0 ? "/" : "", n->name);

		n->mode = bytes(in, 2) & 07777;
		/* Keep the tree walkable for a tester who is not root. */
		if (!is_root)
			n->mode |= n->type == TAR_DIR ? 0700 : 0600;

		b = 0;
		byte(in, &b);
		switch (b & 3) {
		case 0:		/* whole seconds, ustar holds them */
			n->mtime.tv_sec = (time_t)bytes(in, 4);
			break;
		case 1:		/* sub-second */
			n->mtime.tv_sec = (time_t)bytes(in, 4);
			n->mtime.tv_nsec = (long)(bytes(in, 4) % 1000000000);
			break;
		case 2:		/* before 1970 */
			n->mtime.tv_sec = -(time_t)bytes(in, 4) - 1;
			if ((b & 4) != 0)
				n->mtime.tv_nsec = (long)(bytes(in, 4) %
				    1000000000);
			break;
		case 3:		/* past 11 octal digits (year 2242) */
			n->mtime.tv_sec = (time_t)(077777777777LL +
			    (int64_t)bytes(in, 2) - 0x100);
			break;
		}

		switch (n->type) {
		case TAR_DIR:
			dirs[ndirs++] = nnodes;
			break;
		case TAR_FILE:
			b = 0;
			byte(in, &b);
			len = (size_t)b;
			if ((flags & 0x40) != 0)
				len *= 7;
			if (len > in->left)
				len = in->left;
			n->data = in->p;
			n->datalen = len;
			in->p += len;
			in->left -= len;
			if ((flags & 0x20) != 0)
				n->hole = (size_t)bytes(in, 2) % MAX_HOLE;
			break;
		case TAR_SYMLINK:
			b = 0;
			byte(in, &b);
			/* Past 100 bytes the target needs a pax record. */
			len = (flags & 0x40) != 0 ? (size_t)b * 4 % 1000 + 1 :
			    (size_t)b % 32 + 1;
			for (i = 0; i < len; i++) {
				j = 'x';
				byte(in, &j);
				n->link[i] = j == '\0' ? '/' : (char)j;
			}
			n->link[len] = '\0';
			break;
		}
		nnodes++;
	}
	return (0);
}

static void
build(void)
{
	struct node	*n;
	size_t		 left, w;
	ssize_t		 k;
	int		 i, pfd, fd;

	if (mkdir(top, 0700) == -1)
		fuzz_fail("mkdir %s: %s", top, strerror(errno));
	if ((nodes[0].dfd = open(top, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fuzz_fail("%s: %s", top, strerror(errno));
	for (i = 1; i < nnodes; i++) {
		n = &nodes[i];
		pfd = nodes[n->parent].dfd;
		switch (n->type) {
		case TAR_DIR:
			if (mkdirat(pfd, n->name, 0700) == -1 ||
			    (n->dfd = openat(pfd, n->name, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
				fuzz_fail("mkdir %s: %s", log_esc(n->path),
				    strerror(errno));
			break;
		case TAR_FILE:
			if ((fd = openat(pfd, n->name, O_WRONLY | O_CREAT |
			    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
				fuzz_fail("create %s: %s", log_esc(n->path),
				    strerror(errno));
			for (left = n->datalen, w = 0; left > 0; ) {
				if ((k = write(fd, n->data + w, left)) == -1)
					fuzz_fail("write %s: %s",
					    log_esc(n->path), strerror(errno));
				w += (size_t)k;
				left -= (size_t)k;
			}
			if (n->hole > 0 && ftruncate(fd, (off_t)(n->datalen +
			    n->hole)) == -1)
				fuzz_fail("ftruncate %s: %s", log_esc(n->path),
				    strerror(errno));
			close(fd);
			break;
		case TAR_SYMLINK:
			if (symlinkat(n->link, pfd, n->name) == -1)
				fuzz_fail("symlink %s: %s", log_esc(n->path),
				    strerror(errno));
			break;
		}
	}
	/*
	 * Modes and times last, children before their directory: adding
	 * a name to a directory moves its mtime, changing a child's
	 * mode or time does not.
	 */
	for (i = nnodes - 1; i >= 0; i--)
		finish_node(&nodes[i]);
}

static void
finish_node(struct node *n)
{
	struct timespec	 ts[2];
	int		 pfd;

	ts[0] = n->mtime;
	ts[1] = n->mtime;
	if (n->parent == -1) {
		if (fchmod(n->dfd, n->mode) == -1)
			fuzz_fail("chmod %s: %s", top, strerror(errno));
		/* A time the file system cannot hold: the walk says. */
		(void)futimens(n->dfd, ts);
		return;
	}
	pfd = nodes[n->parent].dfd;
	if (n->type != TAR_SYMLINK && fchmodat(pfd, n->name, n->mode, 0) == -1)
		fuzz_fail("chmod %s: %s", log_esc(n->path), strerror(errno));
	(void)utimensat(pfd, n->name, ts, AT_SYMLINK_NOFOLLOW);
}

/* Remove the tree, children before their directory. */
static void
unbuild(void)
{
	struct node	*n;
	int		 i;

	for (i = nnodes - 1; i >= 1; i--) {
		n = &nodes[i];
		if (unlinkat(nodes[n->parent].dfd, n->name,
		    n->type == TAR_DIR ? AT_REMOVEDIR : 0) == -1)
			fuzz_fail("remove %s: %s", log_esc(n->path),
			    strerror(errno));
	}
	for (i = 0; i < nnodes; i++) {
		if (nodes[i].type == TAR_DIR && nodes[i].dfd != -1)
			close(nodes[i].dfd);
		free(nodes[i].path);
		nodes[i].path = NULL;
	}
	if (rmdir(top) == -1)
		fuzz_fail("rmdir %s: %s", top, strerror(errno));
	nnodes = 0;
}

/* The walk and the packing below are arc_pack.c's. */
static struct fz_member *
add(const char *path, const struct stat *st)
{
	struct fz_member	*m;

	if (nmembers == maxmembers) {
		maxmembers = maxmembers == 0 ? 64 : maxmembers * 2;
		members = reallocarray(members, maxmembers, sizeof(*members));
		if (members == NULL)
			fuzz_fail("out of memory");
	}
	m = &members[nmembers++];
	memset(m, 0, sizeof(*m));
	if ((m->path = strdup(path)) == NULL)
		fuzz_fail("out of memory");
	m->mode = st->st_mode & 07777;
	m->mtime = st->st_mtim;
	return (m);
}

static void
walk(int dfd, const char *rel)
{
	struct fz_member	*m;
	struct dirent		*de;
	struct stat		 st;
	DIR			*d;
	char			*path;
	ssize_t			 n;
	int			 fd;

	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL)
		fuzz_fail("%s: %s", log_esc(rel), strerror(errno));
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&path, "%s%s%s", rel, *rel != '\0' ? "/" : "",
		    de->d_name) == -1)
			fuzz_fail("out of memory");
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			fuzz_fail("%s: %s", log_esc(path), strerror(errno));
		if (S_ISDIR(st.st_mode)) {
			m = add(path, &st);
			m->type = TAR_DIR;
			fd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (fd == -1)
				fuzz_fail("%s: %s", log_esc(path),
				    strerror(errno));
			walk(fd, path);
			close(fd);
		} else if (S_ISREG(st.st_mode)) {
			m = add(path, &st);
			m->type = TAR_FILE;
			m->size = (uint64_t)st.st_size;
		} else if (S_ISLNK(st.st_mode)) {
			m = add(path, &st);
			m->type = TAR_SYMLINK;
			if ((m->link = malloc((size_t)st.st_size + 1)) == NULL)
				fuzz_fail("out of memory");
			n = readlinkat(dfd, de->d_name, m->link,
			    (size_t)st.st_size + 1);
			if (n != st.st_size)
				fuzz_fail("%s: readlink", log_esc(path));
			m->link[n] = '\0';
		} else
			fuzz_fail("%s: odd file type", log_esc(path));
		free(path);
	}
	if (errno != 0)
		fuzz_fail("readdir %s: %s", log_esc(rel), strerror(errno));
	closedir(d);
}

static int
cmp(const void *a, const void *b)
{
	const struct fz_member	*ma = a, *mb = b;

	return (strcmp(ma->path, mb->path));
}

static int
open_beneath(int dfd, const char *path)
{
	char	*copy, *s, *c;
	int	 fd, nfd;

	if ((copy = strdup(path)) == NULL)
		fuzz_fail("out of memory");
	s = copy;
	fd = dfd;
	while ((c = strchr(s, '/')) != NULL) {
		*c = '\0';
		nfd = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd != dfd)
			close(fd);
		if (nfd == -1)
			fuzz_fail("%s: %s", log_esc(path), strerror(errno));
		fd = nfd;
		s = c + 1;
	}
	nfd = openat(fd, s, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (nfd == -1)
		fuzz_fail("%s: %s", log_esc(path), strerror(errno));
	if (fd != dfd)
		close(fd);
	free(copy);
	return (nfd);
}

/* What each file must contain: the description's bytes, then zeros. */
static void
attach_data(void)
{
	size_t	 i;
	int	 k;

	for (i = 0; i < nmembers; i++) {
		if (members[i].type != TAR_FILE)
			continue;
		for (k = 1; k < nnodes; k++)
			if (strcmp(nodes[k].path, members[i].path) == 0)
				break;
		if (k == nnodes || nodes[k].type != TAR_FILE)
			fuzz_fail("%s: walked but never made",
			    log_esc(members[i].path));
		if (members[i].size != nodes[k].datalen + nodes[k].hole)
			fuzz_fail("%s: %llu bytes on disk, %zu made",
			    log_esc(members[i].path),
			    (unsigned long long)members[i].size,
			    nodes[k].datalen + nodes[k].hole);
		members[i].data = nodes[k].data;
		members[i].datalen = nodes[k].datalen;
	}
}

/* Pack the walked tree into a malloc'd buffer, as arc-pack does. */
static uint8_t *
pack(const char *id, int level, size_t *lenp)
{
	struct archive		*a;
	struct tar_entry	 e;
	struct stat		 st;
	unsigned char		 digest[ARCHIVE_DIGEST_LEN];
	unsigned char		 check[EVP_MAX_MD_SIZE];
	unsigned int		 dlen;
	char			 errbuf[4096];
	uint64_t		 total, size, outsize;
	uint8_t			*buf;
	size_t			 i, got;
	ssize_t			 n;
	int			 outfd, fd;

	total = TAR_TRAILER_SIZE;
	for (i = 0; i < nmembers; i++) {
		memset(&e, 0, sizeof(e));
		e.path = members[i].path;
		e.type = members[i].type;
		e.mode = members[i].mode;
		e.size = members[i].size;
		e.mtime = members[i].mtime;
		e.link = members[i].link;
		if ((size = tar_member_size(id, &e)) == 0)
			fuzz_fail("%s/%s: tar_member_size refused a walked "
			    "entry", id, log_esc(e.path));
		total += size;
	}
	if ((outfd = memfd_create("fuzz-archive", MFD_CLOEXEC)) == -1)
		fuzz_fail("memfd_create: %s", strerror(errno));
	a = archive_open(outfd, id, total, level, 0, NULL, NULL, errbuf,
	    sizeof(errbuf));
	if (a == NULL)
		fuzz_fail("archive_open: %s", errbuf);
	for (i = 0; i < nmembers; i++) {
		memset(&e, 0, sizeof(e));
		e.path = members[i].path;
		e.type = members[i].type;
		e.mode = members[i].mode;
		e.size = members[i].size;
		e.mtime = members[i].mtime;
		e.link = members[i].link;
		fd = e.type == TAR_FILE ? open_beneath(nodes[0].dfd, e.path) :
		    -1;
		if (archive_add(a, &e, fd, errbuf, sizeof(errbuf)) == -1)
			fuzz_fail("archive_add: %s (class %d)", errbuf,
			    archive_error(a));
		if (fd != -1)
			close(fd);
	}
	if (archive_finish(a, &outsize, digest, errbuf, sizeof(errbuf)) == -1)
		fuzz_fail("archive_finish: %s (class %d)", errbuf,
		    archive_error(a));
	archive_free(a);

	if (fstat(outfd, &st) == -1)
		fuzz_fail("fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size != outsize)
		fuzz_fail("archive_finish says %llu bytes, %lld written",
		    (unsigned long long)outsize, (long long)st.st_size);
	if ((buf = malloc(outsize)) == NULL)
		fuzz_fail("out of memory");
	for (got = 0; got < outsize; got += (size_t)n)
		if ((n = pread(outfd, buf + got, outsize - got,
		    (off_t)got)) <= 0)
			fuzz_fail("pread: %s", strerror(errno));
	close(outfd);
	if (EVP_Digest(buf, outsize, check, &dlen, EVP_sha256(), NULL) != 1 ||
	    dlen != sizeof(digest) || memcmp(check, digest, dlen) != 0)
		fuzz_fail("the digest is not the SHA-256 of the archive");
	*lenp = outsize;
	return (buf);
}

static void
free_members(void)
{
	size_t	 i;

	for (i = 0; i < nmembers; i++) {
		free(members[i].path);
		free(members[i].link);
	}
	nmembers = 0;
}

static void
cleanup(void)
{
	if (scratch[0] != '\0')
		(void)rmdir(scratch);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp;

	(void)argc;
	(void)argv;
	is_root = geteuid() == 0;
	/* Where a missing TMPDIR would put it: memory, if there is some. */
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	if ((size_t)snprintf(scratch, sizeof(scratch) - 8,
	    "%s/cis490-fuzz-tar.XXXXXX", tmp) >= sizeof(scratch) - 8)
		fuzz_fail("TMPDIR %s is too long", tmp);
	if (mkdtemp(scratch) == NULL)
		fuzz_fail("mkdtemp %s: %s", scratch, strerror(errno));
	if ((size_t)snprintf(top, sizeof(top), "%s/top", scratch) >=
	    sizeof(top))
		fuzz_fail("TMPDIR %s is too long", tmp);
	if (archive_init() == -1)
		fuzz_fail("libcrypto: SHA-256 unavailable");
	fz_read_init();
	atexit(cleanup);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input		 in = { data, size };
	struct fz_member	*m;
	struct stat		 st;
	char			 id[129];
	uint8_t			*arc, *arc2;
	size_t			 len, len2;
	int			 level, b = 0;

	if (scratch[0] == '\0')
		LLVMFuzzerInitialize(NULL, NULL);
	byte(&in, &b);
	/* Fast levels: the level is not what is being tested. */
	level = b % 4 == 3 ? -5 : b % 4 + 1;
	decode_id(&in, id);
	decode(&in);
	build();

	if (fstat(nodes[0].dfd, &st) == -1)
		fuzz_fail("%s: %s", top, strerror(errno));
	m = add("", &st);
	m->type = TAR_DIR;
	walk(nodes[0].dfd, "");
	qsort(members, nmembers, sizeof(*members), cmp);
	if (nmembers != (size_t)nnodes)
		fuzz_fail("made %d entries, walked %zu", nnodes, nmembers);
	attach_data();

	arc = pack(id, level, &len);
	fz_read_back(arc, len, id, members, nmembers);
	/* Same tree, same bytes (DESIGN §4). */
	arc2 = pack(id, level, &len2);
	if (len != len2 || memcmp(arc, arc2, len) != 0)
		fuzz_fail("the same tree packed twice differs");
	free(arc);
	free(arc2);

	free_members();
	unbuild();
	return (0);
}
