/*
 * replay FILE...
 *
 * The plain driver: runs each file through the harness it is linked
 * with (LLVMFuzzerTestOneInput), as libFuzzer would, but built with the
 * normal compiler, so the committed corpus runs in the std and the
 * ASan+UBSan builds of make check.  One process takes many files, in
 * order, which also catches state a harness or the code under test
 * wrongly keeps from one input to the next.  After each file it prints
 * "ok FILE" (flushed), so when an input crashes the process, run.sh
 * knows which one did and goes on with the next.
 *
 * Each input is read into a buffer of exactly its size, so ASan sees a
 * read past its end, as under libFuzzer; in the ASan build, a leak
 * check after each input blames the input that leaked, as libFuzzer
 * does, instead of one report at exit.
 */
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"

/* Harnesses that need no set-up do not define it. */
int	 LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));
/* LeakSanitizer's, present only in the ASan build. */
int	 __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static uint8_t	*slurp(const char *, size_t *);

static uint8_t *
slurp(const char *path, size_t *lenp)
{
	struct stat	 st;
	uint8_t		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1)
		err(2, "%s", path);
	if (!S_ISREG(st.st_mode))
		errx(2, "%s: not a regular file", path);
	/* Exactly the file's size; malloc(0) may return NULL. */
	if ((buf = malloc(st.st_size == 0 ? 1 : (size_t)st.st_size)) == NULL)
		err(2, NULL);
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1)
			err(2, "%s", path);
		if (n == 0)
			errx(2, "%s: shrank while being read", path);
		len += (size_t)n;
	}
	close(fd);
	*lenp = len;
	return (buf);
}

int
main(int argc, char *argv[])
{
	uint8_t	*buf;
	size_t	 len;
	int	 i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE...\n", argv[0]);
		return (2);
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		buf = slurp(argv[i], &len);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		if (__lsan_do_recoverable_leak_check != NULL &&
		    __lsan_do_recoverable_leak_check() != 0) {
			fprintf(stderr, "replay: %s leaked memory\n", argv[i]);
			return (1);
		}
		printf("ok %s\n", argv[i]);
		fflush(stdout);
	}
	return (0);
}
