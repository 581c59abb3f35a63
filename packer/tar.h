/*
 * POSIX pax tar headers (DESIGN §4), pure encoding: no I/O, no memory
 * allocation.  The archive writer (archive.h) streams members built
 * from these headers; tests and the packer use the size functions to
 * compute the pledged uncompressed size before packing starts.
 *
 * A member is named "<id>/<path>", directories with a trailing "/"; the
 * episode's top directory is the entry with path "".  Every header is a
 * ustar header ("ustar\0" "00") with uid/gid 0, empty uname/gname, mode
 * & 07777, devmajor/devminor 0.  A pax 'x' header named
 * "<id>/PaxHeaders/<basename, at most 100 bytes>" precedes it only when
 * ustar cannot hold the member exactly:
 *
 *	path=		the name fits neither ustar's 100-byte name field
 *			nor, split at a "/", prefix (155) and name (100)
 *	linkpath=	a symlink target longer than 100 bytes
 *	size=		a size of 8 GiB or more (past 11 octal digits)
 *	mtime=		sub-second, negative or past-11-digit mtimes, as
 *			"SECONDS[.FRACTION]", trailing zeros trimmed
 *	hdrcharset=BINARY  a path or linkpath record whose value is not
 *			valid UTF-8, so readers take the bytes as they are
 *
 * Records appear in that order (hdrcharset first).  A name that fits
 * ustar goes there as raw bytes even when it is not ASCII, as GNU tar
 * does.  Where pax carries a value, the ustar field holds a harmless
 * stand-in: the first 100 bytes of the name or target, size 0, the
 * mtime's whole seconds (0 when negative, clamped when too large).  The
 * same entry always gives the same bytes.
 */
#ifndef TAR_H
#define TAR_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TAR_BLOCK		512
/* Two zero blocks end the archive. */
#define TAR_TRAILER_SIZE	1024

enum tar_type {
	TAR_DIR = 1,
	TAR_FILE,
	TAR_SYMLINK
};

struct tar_entry {
	/*
	 * Relative to the episode: components separated by single "/",
	 * none empty, "." or "..", no leading or trailing "/".  "" is
	 * the episode's top directory and only valid for TAR_DIR.
	 */
	const char	*path;
	int		 type;		/* enum tar_type */
	mode_t		 mode;		/* only & 07777 is kept */
	/* TAR_FILE only, at most INT64_MAX; ignored for the others. */
	uint64_t	 size;
	struct timespec	 mtime;		/* tv_nsec in [0, 1e9) */
	/* TAR_SYMLINK: the non-empty target, verbatim; else ignored. */
	const char	*link;
};

/*
 * Write the header(s) of the member for entry e of episode id (a valid
 * id, see valid_id()) into buf: the pax header and its records when
 * needed, then the ustar header.  Returns the bytes written, a multiple
 * of TAR_BLOCK, or 0 when the entry or id is invalid or len is too
 * small (then buf is untouched).
 */
size_t		 tar_header(const char *, const struct tar_entry *,
		    unsigned char *, size_t);

/* What tar_header() would write, or 0 for an invalid entry or id. */
size_t		 tar_header_size(const char *, const struct tar_entry *);

/*
 * The member's whole size in the tar stream: header(s) plus data padded
 * to TAR_BLOCK.  0 for an invalid entry.  The archive's uncompressed
 * size is the sum over all members plus TAR_TRAILER_SIZE.
 */
uint64_t	 tar_member_size(const char *, const struct tar_entry *);

#endif /* TAR_H */
