/*
 * Between the two halves of the tar round-trip harness: fuzz_tar.c
 * builds and packs a tree with the packer's writer, fuzz_tar_read.c
 * reads the archive back with libarchive.  They are two files because
 * libarchive and packer/archive.h both name a "struct archive" and an
 * archive_free(); the packer's copy is compiled with its functions
 * renamed (see suite.mk) so the two never meet.
 */
#ifndef FUZZ_TAR_H
#define FUZZ_TAR_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "packer/tar.h"

/* One member as the archive must hold it: what the walk saw. */
struct fz_member {
	char		*path;		/* relative, "" for the top directory */
	int		 type;		/* enum tar_type */
	mode_t		 mode;		/* & 07777 */
	uint64_t	 size;		/* TAR_FILE */
	struct timespec	 mtime;
	char		*link;		/* TAR_SYMLINK */
	const uint8_t	*data;		/* TAR_FILE: the first datalen bytes */
	size_t		 datalen;	/* the rest, up to size, are zeros */
};

/*
 * Read the zstd-compressed tar in buf with libarchive and compare it,
 * entry by entry and byte by byte, with the n members (in order) of
 * episode id; fuzz_fail() on the first difference.
 */
void	 fz_read_back(const void *, size_t, const char *,
	    const struct fz_member *, size_t);

void	 fz_read_init(void);

#endif /* FUZZ_TAR_H */
