/*
 * The reading half of the tar round trip (see fuzz_tar.c and
 * fuzz_tar.h): libarchive, an independent reader, must see exactly the
 * members that were packed.
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "log.h"
#include "fuzz.h"
#include "fuzz_tar.h"

static void	 check_entry(struct archive *, struct archive_entry *,
		    const char *, const struct fz_member *);
static void	 check_data(struct archive *, const char *,
		    const struct fz_member *);

void
fz_read_init(void)
{
	/*
	 * libarchive converts pax names (UTF-8) to the locale's charset;
	 * in a UTF-8 locale that is the identity, so names compare as
	 * bytes.  Not valid UTF-8 comes with hdrcharset=BINARY, raw.
	 */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		fuzz_fail("no C.UTF-8 locale");
}

static void
check_data(struct archive *a, const char *name, const struct fz_member *m)
{
	static uint8_t	 buf[65536];
	uint64_t	 off = 0;
	la_ssize_t	 n;
	size_t		 i;

	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		for (i = 0; i < (size_t)n; i++, off++) {
			if (off >= m->size)
				fuzz_fail("%s: more than %llu bytes", name,
				    (unsigned long long)m->size);
			if (buf[i] != (off < m->datalen ? m->data[off] : 0))
				fuzz_fail("%s: byte %llu differs", name,
				    (unsigned long long)off);
		}
	}
	if (n < 0)
		fuzz_fail("%s: libarchive: %s", name, archive_error_string(a));
	if (off != m->size)
		fuzz_fail("%s: %llu bytes read back, %llu packed", name,
		    (unsigned long long)off, (unsigned long long)m->size);
}

static void
check_entry(struct archive *a, struct archive_entry *ent, const char *id,
    const struct fz_member *m)
{
	const char	*got, *s;
	char		*want;
	size_t		 wl;
	mode_t		 type;
	time_t		 wsec;
	long		 wnsec;

	if (asprintf(&want, "%s/%s%s", id, m->path, m->type == TAR_DIR &&
	    *m->path != '\0' ? "/" : "") == -1)
		fuzz_fail("out of memory");
	wl = strlen(want);
	if ((got = archive_entry_pathname(ent)) == NULL)
		fuzz_fail("%s: no name read back", log_esc(want));
	/* A directory's trailing "/" is the writer's; readers may drop it. */
	if (strcmp(got, want) != 0 && !(m->type == TAR_DIR &&
	    strlen(got) + 1 == wl && strncmp(got, want, wl - 1) == 0))
		fuzz_fail("name %s read back as %s", log_esc(want),
		    log_esc(got));

	type = archive_entry_filetype(ent);
	if ((m->type == TAR_DIR && type != AE_IFDIR) ||
	    (m->type == TAR_FILE && type != AE_IFREG) ||
	    (m->type == TAR_SYMLINK && type != AE_IFLNK))
		fuzz_fail("%s: type %d read back as %#o", log_esc(want),
		    m->type, (unsigned)type);
	if ((archive_entry_perm(ent) & 07777) != m->mode)
		fuzz_fail("%s: mode %04o read back as %04o", log_esc(want),
		    (unsigned)m->mode, (unsigned)archive_entry_perm(ent));
	if (archive_entry_uid(ent) != 0 || archive_entry_gid(ent) != 0)
		fuzz_fail("%s: owner not 0", log_esc(want));
	if (((s = archive_entry_uname(ent)) != NULL && *s != '\0') ||
	    ((s = archive_entry_gname(ent)) != NULL && *s != '\0'))
		fuzz_fail("%s: user or group name not empty", log_esc(want));
	/*
	 * pax writes {-2 s, 0.5 s} as "mtime=-1.5", as POSIX and GNU tar
	 * do; libarchive up to 3.7 reads that as -1 s + 0.5 s
	 * (pax_time() applies the sign to the seconds only).  Expect its
	 * reading, so the comparison stays exact everywhere else.
	 */
	wsec = m->mtime.tv_sec;
	wnsec = m->mtime.tv_nsec;
	if (wsec < 0 && wnsec != 0) {
		wsec += 1;
		wnsec = 1000000000L - wnsec;
	}
	if (!archive_entry_mtime_is_set(ent) ||
	    archive_entry_mtime(ent) != wsec ||
	    archive_entry_mtime_nsec(ent) != wnsec)
		fuzz_fail("%s: mtime %lld.%09ld read back as %lld.%09ld",
		    log_esc(want), (long long)m->mtime.tv_sec,
		    m->mtime.tv_nsec, (long long)archive_entry_mtime(ent),
		    archive_entry_mtime_nsec(ent));
	if (m->type == TAR_SYMLINK) {
		if ((s = archive_entry_symlink(ent)) == NULL ||
		    strcmp(s, m->link) != 0)
			fuzz_fail("%s: link %s read back as %s", log_esc(want),
			    log_esc(m->link), s == NULL ? "none" : log_esc(s));
	}
	if (m->type == TAR_FILE) {
		if (archive_entry_size(ent) != (la_int64_t)m->size)
			fuzz_fail("%s: size %llu read back as %lld",
			    log_esc(want), (unsigned long long)m->size,
			    (long long)archive_entry_size(ent));
		check_data(a, want, m);
	} else if (archive_entry_size_is_set(ent) &&
	    archive_entry_size(ent) != 0)
		fuzz_fail("%s: size %lld for a non-file", log_esc(want),
		    (long long)archive_entry_size(ent));
	free(want);
}

void
fz_read_back(const void *buf, size_t len, const char *id,
    const struct fz_member *m, size_t n)
{
	struct archive		*a;
	struct archive_entry	*ent;
	size_t			 i;
	int			 r;

	if ((a = archive_read_new()) == NULL)
		fuzz_fail("archive_read_new");
	if (archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK)
		fuzz_fail("libarchive: %s", archive_error_string(a));
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK)
		fuzz_fail("libarchive open: %s", archive_error_string(a));
	for (i = 0; i < n; i++) {
		r = archive_read_next_header(a, &ent);
		if (r != ARCHIVE_OK)
			fuzz_fail("%s/%s: libarchive: %s (%d)", id,
			    log_esc(m[i].path), r == ARCHIVE_EOF ? "early end"
			    : archive_error_string(a), r);
		check_entry(a, ent, id, &m[i]);
	}
	if ((r = archive_read_next_header(a, &ent)) != ARCHIVE_EOF)
		fuzz_fail("libarchive: more than %zu members (%d: %s)", n, r,
		    r == ARCHIVE_OK ? archive_entry_pathname(ent) :
		    archive_error_string(a));
	if (archive_read_free(a) != ARCHIVE_OK)
		fuzz_fail("archive_read_free");
}
