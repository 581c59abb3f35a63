/*
 * arc-pack [-l level] [-t threads] ID DIR OUT
 *
 * Test tool: packs DIR as episode ID into OUT with the packer's archive
 * writer and prints "SIZE SHA256HEX".  It walks DIR as the scanner does
 * (fstatat with AT_SYMLINK_NOFOLLOW relative to directory fds, members
 * sorted bytewise by path, regular files, directories and symlinks
 * only) and hands the writer one open descriptor per regular file, so
 * the integration tests exercise the same code path as the daemon.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "packer/archive.h"
#include "log.h"
#include "packer/tar.h"

struct member {
	struct tar_entry	 e;
	char			*path;
	char			*link;
};

static struct member	*members;
static size_t		 nmembers, maxmembers;
static const char	*root;

static void		 usage(void) __attribute__((noreturn));
static struct member	*add(const char *, const struct stat *);
static void		 walk(int, const char *);
static int		 cmp(const void *, const void *);
static int		 open_beneath(int, const char *);

static void
usage(void)
{
	fprintf(stderr, "usage: arc-pack [-l level] [-t threads] ID DIR OUT\n");
	exit(2);
}

static struct member *
add(const char *path, const struct stat *st)
{
	struct member	*m;

	if (nmembers == maxmembers) {
		maxmembers = maxmembers == 0 ? 64 : maxmembers * 2;
		members = reallocarray(members, maxmembers, sizeof(*members));
		if (members == NULL)
			err(1, NULL);
	}
	m = &members[nmembers++];
	memset(m, 0, sizeof(*m));
	if ((m->path = strdup(path)) == NULL)
		err(1, NULL);
	m->e.path = m->path;
	m->e.mode = st->st_mode & 07777;
	m->e.mtime = st->st_mtim;
	return (m);
}

/* dfd is the directory rel ("" for DIR itself), already added. */
static void
walk(int dfd, const char *rel)
{
	struct member	*m;
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		*path;
	ssize_t		 n;
	int		 fd;

	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL)
		err(1, "%s/%s", root, log_esc(rel));
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&path, "%s%s%s", rel, *rel != '\0' ? "/" : "",
		    de->d_name) == -1)
			err(1, NULL);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			err(1, "%s/%s", root, log_esc(path));
		if (S_ISDIR(st.st_mode)) {
			m = add(path, &st);
			m->e.type = TAR_DIR;
			fd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (fd == -1)
				err(1, "%s/%s", root, log_esc(path));
			walk(fd, path);
			close(fd);
		} else if (S_ISREG(st.st_mode)) {
			m = add(path, &st);
			m->e.type = TAR_FILE;
			m->e.size = st.st_size;
		} else if (S_ISLNK(st.st_mode)) {
			m = add(path, &st);
			m->e.type = TAR_SYMLINK;
			if ((m->link = malloc(st.st_size + 1)) == NULL)
				err(1, NULL);
			n = readlinkat(dfd, de->d_name, m->link,
			    st.st_size + 1);
			if (n == -1)
				err(1, "%s/%s", root, log_esc(path));
			if (n != st.st_size)
				errx(1, "%s/%s: symlink changed", root,
				    log_esc(path));
			m->link[n] = '\0';
			m->e.link = m->link;
		} else
			errx(1, "%s/%s: not a regular file, directory or "
			    "symlink", root, log_esc(path));
		free(path);
	}
	if (errno != 0)
		err(1, "%s/%s", root, log_esc(rel));
	closedir(d);
}

static int
cmp(const void *a, const void *b)
{
	const struct member	*ma = a, *mb = b;

	return (strcmp(ma->path, mb->path));
}

/*
 * Open a regular file below dfd without following any symlink on the
 * way, as the scanner must; O_NONBLOCK keeps a FIFO swapped in from
 * blocking the open (the writer's fstat then rejects it).
 */
static int
open_beneath(int dfd, const char *path)
{
	char	*copy, *s, *c;
	int	 fd, nfd;

	if ((copy = strdup(path)) == NULL)
		err(1, NULL);
	s = copy;
	fd = dfd;
	while ((c = strchr(s, '/')) != NULL) {
		*c = '\0';
		nfd = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd != dfd)
			close(fd);
		if (nfd == -1)
			err(1, "%s/%s", root, log_esc(path));
		fd = nfd;
		s = c + 1;
	}
	nfd = openat(fd, s, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (nfd == -1)
		err(1, "%s/%s", root, log_esc(path));
	if (fd != dfd)
		close(fd);
	free(copy);
	return (nfd);
}

int
main(int argc, char *argv[])
{
	struct archive	*a;
	struct member	*m;
	struct stat	 st;
	const char	*id, *errstr;
	unsigned char	 digest[ARCHIVE_DIGEST_LEN];
	char		 errbuf[4096];
	uint64_t	 total, size, outsize;
	size_t		 i;
	int		 ch, level = 3, threads = 0, rootfd, outfd, fd;

	while ((ch = getopt(argc, argv, "l:t:")) != -1) {
		switch (ch) {
		case 'l':
			level = strtonum(optarg, -131072, 22, &errstr);
			if (errstr != NULL)
				errx(2, "level %s: %s", optarg, errstr);
			break;
		case 't':
			threads = strtonum(optarg, 0, 200, &errstr);
			if (errstr != NULL)
				errx(2, "threads %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3)
		usage();
	id = argv[0];
	root = argv[1];

	if (archive_init() == -1)
		errx(1, "libcrypto: SHA-256 unavailable");
	if ((rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstat(rootfd, &st) == -1)
		err(1, "%s", root);
	m = add("", &st);
	m->e.type = TAR_DIR;
	walk(rootfd, "");
	qsort(members, nmembers, sizeof(*members), cmp);

	total = TAR_TRAILER_SIZE;
	for (i = 0; i < nmembers; i++) {
		if ((size = tar_member_size(id, &members[i].e)) == 0)
			errx(1, "%s/%s: cannot be archived as %s", root,
			    log_esc(members[i].path), id);
		total += size;
	}

	if ((outfd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		err(1, "%s", argv[2]);
	a = archive_open(outfd, id, total, level, threads, NULL, NULL, errbuf,
	    sizeof(errbuf));
	if (a == NULL)
		errx(1, "%s", errbuf);
	for (i = 0; i < nmembers; i++) {
		m = &members[i];
		fd = m->e.type == TAR_FILE ? open_beneath(rootfd, m->path) : -1;
		if (archive_add(a, &m->e, fd, errbuf, sizeof(errbuf)) == -1)
			errx(1, "%s (class %d)", errbuf, archive_error(a));
		if (fd != -1)
			close(fd);
	}
	if (archive_finish(a, &outsize, digest, errbuf, sizeof(errbuf)) == -1)
		errx(1, "%s (class %d)", errbuf, archive_error(a));
	archive_free(a);
	if (close(outfd) == -1)
		err(1, "%s", argv[2]);
	close(rootfd);
	for (i = 0; i < nmembers; i++) {
		free(members[i].path);
		free(members[i].link);
	}
	free(members);

	printf("%llu ", (unsigned long long)outsize);
	for (i = 0; i < sizeof(digest); i++)
		printf("%02x", digest[i]);
	printf("\n");
	return (0);
}
