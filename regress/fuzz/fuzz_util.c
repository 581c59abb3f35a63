/*
 * What every harness links, whichever engine drives it.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

/*
 * abort() rather than exit(): libFuzzer treats both as a crash, but
 * only a signal gives the sanitizers' stack trace of where it was.
 */
void
fuzz_fail(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "fuzz: property broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

/*
 * The parsers read a path, as the daemons do with -f: the input goes
 * into a memfd (one, reused), named by its /proc/self/fd path.
 */
const char *
fuzz_file(const void *data, size_t size)
{
	static char	 path[64];
	static int	 fd = -1;
	const char	*p = data;
	ssize_t		 n;

	if (fd == -1) {
		if ((fd = memfd_create("fuzz-input", MFD_CLOEXEC)) == -1)
			fuzz_fail("memfd_create: %s", strerror(errno));
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 || lseek(fd, 0, SEEK_SET) == -1)
		fuzz_fail("%s: %s", path, strerror(errno));
	while (size > 0) {
		if ((n = write(fd, p, size)) == -1)
			fuzz_fail("%s: %s", path, strerror(errno));
		p += n;
		size -= (size_t)n;
	}
	return (path);
}

/* What a FILE writes, as one malloc'd string; for printed configs. */
char *
fuzz_print(void (*print)(FILE *, const void *), const void *arg)
{
	FILE	*fp;
	char	*buf = NULL;
	size_t	 len = 0;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		fuzz_fail("open_memstream: %s", strerror(errno));
	print(fp, arg);
	if (fclose(fp) != 0)
		fuzz_fail("open_memstream: %s", strerror(errno));
	return (buf);
}
