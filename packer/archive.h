/*
 * Streaming archive writer: tar members (tar.h) compressed into one zstd
 * frame and hashed with SHA-256 as the compressed bytes are written
 * (DESIGN §4).  It works only from descriptors it is handed and never
 * opens a path, so it runs in the packer's sandbox.  Memory is fixed
 * (the zstd context, two stream buffers, one header buffer sized by the
 * longest name): it does not grow with file or episode size.
 *
 * System calls used after archive_open(): read, fstat, write (plus what
 * libzstd needs for its worker threads when threads > 0: clone, futex,
 * mmap/munmap, madvise).  Call archive_init() before entering a sandbox,
 * so libcrypto has loaded what it needs for SHA-256.
 *
 * After any error the archive is unusable: every further call fails
 * and the caller removes the partly written output and calls
 * archive_free().  The archive never closes outfd or the members' fds,
 * and archive_finish() does not fsync: both are the caller's.
 */
#ifndef ARCHIVE_H
#define ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "tar.h"

#define ARCHIVE_DIGEST_LEN	32

/* Why the last call failed, so the packer can choose what to do. */
enum archive_error {
	ARCHIVE_OK = 0,
	/*
	 * A member changed, shrank, grew, was replaced or could not be
	 * read: the episode's fault, possibly transient.  Retry with
	 * backoff, quarantine after pack-retries.
	 */
	ARCHIVE_EINPUT,
	/*
	 * An entry the scanner must never produce (bad path, type, mtime,
	 * empty symlink target): retrying gives the same result.
	 */
	ARCHIVE_EINVAL,
	/* The output could not be written (EIO, EBADF, EFBIG...). */
	ARCHIVE_EOUTPUT,
	/*
	 * No space or quota for the output (ENOSPC, EDQUOT): not the
	 * episode's fault; pause packing until space is freed.
	 */
	ARCHIVE_ENOSPC,
	/*
	 * A bug or a resource failure: the members did not add up to the
	 * pledged size, calls after an error or after finishing, a zstd or
	 * libcrypto failure, no memory.
	 */
	ARCHIVE_EINTERNAL
};

struct archive;

/* Loads libcrypto's SHA-256 before a sandbox forbids opening files. */
int		 archive_init(void);

/*
 * Start an archive of episode id written to outfd.  tar_total is the
 * pledged uncompressed size (the sum of tar_member_size() of all
 * entries plus TAR_TRAILER_SIZE); it goes into the zstd frame header,
 * and archive_add()/archive_finish() fail rather than produce a frame
 * that disagrees with it.  level is the zstd level, threads the number
 * of zstd workers (0: compress in the calling thread).  progress, if
 * not NULL, is called after each write with the uncompressed bytes
 * produced and compressed bytes written so far.  Returns NULL with a
 * message in err for bad arguments or lack of memory.
 */
struct archive	*archive_open(int outfd, const char *id,
		    uint64_t tar_total, int level, int threads,
		    void (*progress)(void *, uint64_t, uint64_t), void *arg,
		    char *err, size_t errlen);

/*
 * Append one member.  fd is an open O_RDONLY descriptor of the file for
 * TAR_FILE, positioned at offset 0, and is ignored otherwise (pass -1).
 * The file must still be a regular file of e->size bytes with mtime
 * e->mtime before and after it is read, and hold exactly e->size bytes.
 * Returns 0, or -1 with archive_error() set and a message in err that
 * names the member ("<id>/<path>", escaped for a log line), e.g.
 * "ep-1/data.csv: grew while being packed (expected 4096 bytes)".
 */
int		 archive_add(struct archive *, const struct tar_entry *,
		    int fd, char *err, size_t errlen);

/*
 * Write the tar trailer and end the zstd frame.  On success, *outsize
 * is the number of compressed bytes written and digest their SHA-256.
 * Returns 0, or -1 with archive_error() set and a message in err.
 */
int		 archive_finish(struct archive *, uint64_t *outsize,
		    unsigned char digest[ARCHIVE_DIGEST_LEN], char *err,
		    size_t errlen);

/* The class of the last failure, ARCHIVE_OK if none. */
enum archive_error archive_error(const struct archive *);

void		 archive_free(struct archive *);

#endif /* ARCHIVE_H */
