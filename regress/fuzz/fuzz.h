/*
 * The libFuzzer entry points every harness in regress/fuzz/ defines.
 * The same harness links either with libFuzzer (make fuzz, clang) or
 * with replay.c, a plain main() that runs the committed corpus through
 * it in the normal and the sanitizer builds (make check-fuzz-replay).
 *
 * A harness reports a broken property with fuzz_fail(), which aborts:
 * libFuzzer saves the input, the replay driver counts the file failed.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	 LLVMFuzzerInitialize(int *, char ***);

void	 fuzz_fail(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* The input as a file the parsers can open: a memfd, reused. */
const char	*fuzz_file(const void *, size_t);

/* What print(fp, arg) writes, as a string to free(). */
char	*fuzz_print(void (*)(FILE *, const void *), const void *);

#endif /* FUZZ_H */
