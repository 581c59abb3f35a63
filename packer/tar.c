/*
 * pax tar header encoding; see tar.h for the format decisions.  The
 * member name "<id>/<path>[/]" is never built in one buffer: it is kept
 * as up to four pieces, so encoding needs no allocation however long
 * the path is.
 */
#include <stdio.h>
#include <string.h>

#include "tar.h"
#include "util.h"

#define USTAR_NAME	100
#define USTAR_PREFIX	155
#define USTAR_LINK	100
/* 11 octal digits: the largest size and mtime ustar can hold. */
#define USTAR_MAXNUM	077777777777ULL

/* Field offsets in the ustar header block. */
#define OFF_NAME	0
#define OFF_MODE	100
#define OFF_UID		108
#define OFF_GID		116
#define OFF_SIZE	124
#define OFF_MTIME	136
#define OFF_CHKSUM	148
#define OFF_TYPE	156
#define OFF_LINK	157
#define OFF_MAGIC	257
#define OFF_VERSION	263
#define OFF_DEVMAJOR	329
#define OFF_DEVMINOR	337
#define OFF_PREFIX	345

#define PAXDIR		"/PaxHeaders"

struct mname {
	const char	*seg[4];
	size_t		 len[4];
	size_t		 total;
};

/* Everything needed to write one member's header(s). */
struct plan {
	struct mname	 name;
	size_t		 split;		/* prefix length, 0: none */
	int		 pax_path;
	int		 pax_link;
	int		 pax_size;
	int		 pax_mtime;
	int		 pax_binary;
	size_t		 linklen;
	char		 mtime[48];	/* "SECONDS[.FRACTION]" */
	char		 size[24];
	size_t		 paxlen;	/* bytes of records, unpadded */
	uint64_t	 ustar_size;
	uint64_t	 ustar_mtime;
	char		 type;
};

static int	 valid_path(const char *);
static int	 valid_utf8(const unsigned char *, size_t);
static int	 mname_char(const struct mname *, size_t);
static void	 mname_copy(const struct mname *, size_t, size_t, char *);
static int	 mname_utf8(const struct mname *);
static int	 ustar_split(const struct mname *, size_t *);
static size_t	 record_len(size_t, size_t);
static int	 plan(const char *, const struct tar_entry *, struct plan *);
static size_t	 plan_size(const struct plan *);
static void	 octal(unsigned char *, size_t, uint64_t);
static void	 ustar(unsigned char *, const char *, size_t, const char *,
		    size_t, mode_t, uint64_t, uint64_t, char, const char *,
		    size_t);
static char	*record(char *, const char *, const char *, size_t);

/*
 * The scanner never produces anything else, so a path that could
 * escape the episode or alias another member is a bug, refused here
 * rather than archived.
 */
static int
valid_path(const char *p)
{
	const char	*c;
	size_t		 n;

	if (*p == '\0')
		return (1);
	for (;;) {
		c = strchr(p, '/');
		n = c == NULL ? strlen(p) : (size_t)(c - p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return (0);
		if (c == NULL)
			return (1);
		p = c + 1;
	}
}

/* Strict UTF-8: no overlong forms, surrogates or code points > 10FFFF. */
static int
valid_utf8(const unsigned char *s, size_t len)
{
	size_t		 i = 0, n, k;
	uint32_t	 cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return (0);
		if (len - i - 1 < n)
			return (0);
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return (0);
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return (0);
		i += n + 1;
	}
	return (1);
}

static int
mname_char(const struct mname *m, size_t i)
{
	int	 s;

	for (s = 0; s < 4; s++) {
		if (i < m->len[s])
			return ((unsigned char)m->seg[s][i]);
		i -= m->len[s];
	}
	return (-1);
}

static void
mname_copy(const struct mname *m, size_t off, size_t len, char *dst)
{
	size_t	 n;
	int	 s;

	for (s = 0; s < 4 && len > 0; s++) {
		if (off >= m->len[s]) {
			off -= m->len[s];
			continue;
		}
		n = m->len[s] - off;
		if (n > len)
			n = len;
		memcpy(dst, m->seg[s] + off, n);
		dst += n;
		len -= n;
		off = 0;
	}
}

/*
 * The id and the "/" pieces are ASCII, so the name is valid UTF-8 when
 * the path is.
 */
static int
mname_utf8(const struct mname *m)
{
	return (valid_utf8((const unsigned char *)m->seg[2], m->len[2]));
}

/*
 * Whether the name fits ustar, and with which prefix length.  The
 * leftmost usable "/" is taken, as GNU tar does; the part after it must
 * be non-empty, which rules out splitting at a directory's final "/".
 */
static int
ustar_split(const struct mname *m, size_t *split)
{
	size_t	 i;

	if (m->total <= USTAR_NAME) {
		*split = 0;
		return (1);
	}
	for (i = 0; i < m->total && i <= USTAR_PREFIX; i++) {
		if (mname_char(m, i) != '/')
			continue;
		if (m->total - i - 1 > USTAR_NAME)
			continue;
		if (m->total - i - 1 == 0)
			break;
		*split = i;
		return (1);
	}
	return (0);
}

/*
 * A pax record is "LEN KEY=VALUE\n" where LEN counts the whole record,
 * its own digits included.
 */
static size_t
record_len(size_t keylen, size_t vallen)
{
	size_t	 payload = keylen + vallen + 3, len, d, t;

	len = payload;
	for (;;) {
		for (d = 1, t = len; t >= 10; t /= 10)
			d++;
		if (payload + d == len)
			return (len);
		len = payload + d;
	}
}

static int
plan(const char *id, const struct tar_entry *e, struct plan *p)
{
	struct mname	*m = &p->name;
	uint64_t	 secs;
	long		 ns;
	int		 n, i;

	memset(p, 0, sizeof(*p));
	if (id == NULL || valid_id(id) == 0 || e == NULL || e->path == NULL ||
	    valid_path(e->path) == 0)
		return (-1);
	if (e->mtime.tv_nsec < 0 || e->mtime.tv_nsec >= 1000000000L)
		return (-1);
	switch (e->type) {
	case TAR_DIR:
		p->type = '5';
		break;
	case TAR_FILE:
		if (*e->path == '\0' || e->size > INT64_MAX)
			return (-1);
		p->type = '0';
		break;
	case TAR_SYMLINK:
		if (*e->path == '\0' || e->link == NULL || *e->link == '\0')
			return (-1);
		p->type = '2';
		p->linklen = strlen(e->link);
		break;
	default:
		return (-1);
	}

	m->seg[0] = id;
	m->len[0] = strlen(id);
	m->seg[1] = "/";
	m->len[1] = 1;
	m->seg[2] = e->path;
	m->len[2] = strlen(e->path);
	m->seg[3] = "/";
	m->len[3] = e->type == TAR_DIR && *e->path != '\0' ? 1 : 0;
	m->total = m->len[0] + m->len[1] + m->len[2] + m->len[3];

	if (ustar_split(m, &p->split) == 0) {
		p->pax_path = 1;
		p->split = 0;
		if (mname_utf8(m) == 0)
			p->pax_binary = 1;
	}
	if (p->linklen > USTAR_LINK) {
		p->pax_link = 1;
		if (valid_utf8((const unsigned char *)e->link,
		    p->linklen) == 0)
			p->pax_binary = 1;
	}
	if (e->type == TAR_FILE) {
		if (e->size > USTAR_MAXNUM) {
			p->pax_size = 1;
			snprintf(p->size, sizeof(p->size), "%llu",
			    (unsigned long long)e->size);
		} else
			p->ustar_size = e->size;
	}

	/*
	 * pax writes a negative time as the sign and the magnitude:
	 * {-2, 0.5 s} is -1.5 s and becomes "-1.5".
	 */
	ns = e->mtime.tv_nsec;
	if (e->mtime.tv_sec < 0) {
		secs = -(uint64_t)e->mtime.tv_sec;
		if (ns != 0) {
			secs--;
			ns = 1000000000L - ns;
		}
		p->ustar_mtime = 0;
		p->pax_mtime = 1;
	} else {
		secs = (uint64_t)e->mtime.tv_sec;
		p->ustar_mtime = secs > USTAR_MAXNUM ? USTAR_MAXNUM : secs;
		if (ns != 0 || secs > USTAR_MAXNUM)
			p->pax_mtime = 1;
	}
	if (p->pax_mtime) {
		n = snprintf(p->mtime, sizeof(p->mtime), "%s%llu",
		    e->mtime.tv_sec < 0 ? "-" : "", (unsigned long long)secs);
		if (ns != 0) {
			snprintf(p->mtime + n, sizeof(p->mtime) - n, ".%09ld",
			    ns);
			for (i = n + 9; p->mtime[i] == '0'; i--)
				p->mtime[i] = '\0';
		}
	}

	if (p->pax_binary)
		p->paxlen += record_len(strlen("hdrcharset"),
		    strlen("BINARY"));
	if (p->pax_path)
		p->paxlen += record_len(strlen("path"), m->total);
	if (p->pax_link)
		p->paxlen += record_len(strlen("linkpath"), p->linklen);
	if (p->pax_size)
		p->paxlen += record_len(strlen("size"), strlen(p->size));
	if (p->pax_mtime)
		p->paxlen += record_len(strlen("mtime"), strlen(p->mtime));
	return (0);
}

static size_t
plan_size(const struct plan *p)
{
	if (p->paxlen == 0)
		return (TAR_BLOCK);
	return (2 * TAR_BLOCK +
	    (p->paxlen + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK);
}

/* width - 1 zero-padded octal digits and a NUL, as ustar wants. */
static void
octal(unsigned char *field, size_t width, uint64_t v)
{
	size_t	 i = width - 1;

	field[i] = '\0';
	while (i > 0) {
		field[--i] = '0' + (v & 7);
		v >>= 3;
	}
}

/* Fill a zeroed block; name and prefix need no NUL when full. */
static void
ustar(unsigned char *b, const char *prefix, size_t prefixlen,
    const char *name, size_t namelen, mode_t mode, uint64_t size,
    uint64_t mtime, char type, const char *link, size_t linklen)
{
	unsigned int	 sum = 0;
	size_t		 i;

	memcpy(b + OFF_PREFIX, prefix, prefixlen);
	memcpy(b + OFF_NAME, name, namelen);
	octal(b + OFF_MODE, 8, mode & 07777);
	octal(b + OFF_UID, 8, 0);
	octal(b + OFF_GID, 8, 0);
	octal(b + OFF_SIZE, 12, size);
	octal(b + OFF_MTIME, 12, mtime);
	b[OFF_TYPE] = type;
	if (link != NULL)
		memcpy(b + OFF_LINK, link, linklen);
	memcpy(b + OFF_MAGIC, "ustar", 6);
	memcpy(b + OFF_VERSION, "00", 2);
	octal(b + OFF_DEVMAJOR, 8, 0);
	octal(b + OFF_DEVMINOR, 8, 0);
	memset(b + OFF_CHKSUM, ' ', 8);
	for (i = 0; i < TAR_BLOCK; i++)
		sum += b[i];
	octal(b + OFF_CHKSUM, 7, sum);
	b[OFF_CHKSUM + 7] = ' ';
}

/* Write one record; the caller has checked it fits. */
static char *
record(char *out, const char *key, const char *val, size_t vallen)
{
	int	 n;

	n = sprintf(out, "%zu %s=", record_len(strlen(key), vallen), key);
	out += n;
	memcpy(out, val, vallen);
	out += vallen;
	*out++ = '\n';
	return (out);
}

size_t
tar_header_size(const char *id, const struct tar_entry *e)
{
	struct plan	 p;

	if (plan(id, e, &p) == -1)
		return (0);
	return (plan_size(&p));
}

uint64_t
tar_member_size(const char *id, const struct tar_entry *e)
{
	struct plan	 p;
	uint64_t	 n;

	if (plan(id, e, &p) == -1)
		return (0);
	n = plan_size(&p);
	if (e->type == TAR_FILE)
		n += (e->size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	return (n);
}

size_t
tar_header(const char *id, const struct tar_entry *e, unsigned char *buf,
    size_t len)
{
	struct plan	 p;
	struct mname	*m = &p.name;
	unsigned char	*b = buf;
	char		 name[USTAR_NAME], prefix[USTAR_PREFIX], *r;
	const char	*base;
	size_t		 size, baselen, namelen, prefixlen, linklen;

	if (plan(id, e, &p) == -1)
		return (0);
	size = plan_size(&p);
	if (buf == NULL || len < size)
		return (0);
	memset(buf, 0, size);

	if (p.paxlen > 0) {
		/*
		 * The pax header's own name: deterministic (no pid, unlike
		 * tar's default) and inside the episode's directory.  The
		 * basename is the last path component, or the id for the
		 * top directory.
		 */
		if (*e->path == '\0') {
			base = id;
			baselen = strlen(id);
		} else {
			base = strrchr(e->path, '/');
			base = base == NULL ? e->path : base + 1;
			baselen = strlen(base);
		}
		if (baselen > USTAR_NAME)
			baselen = USTAR_NAME;
		prefixlen = strlen(id);
		memcpy(prefix, id, prefixlen);
		memcpy(prefix + prefixlen, PAXDIR, strlen(PAXDIR));
		prefixlen += strlen(PAXDIR);
		ustar(b, prefix, prefixlen, base, baselen, 0644, p.paxlen,
		    p.ustar_mtime, 'x', NULL, 0);
		b += TAR_BLOCK;

		/* Records go after the block; name's pieces are copied. */
		r = (char *)b;
		if (p.pax_binary)
			r = record(r, "hdrcharset", "BINARY", 6);
		if (p.pax_path) {
			r += sprintf(r, "%zu path=",
			    record_len(strlen("path"), m->total));
			mname_copy(m, 0, m->total, r);
			r += m->total;
			*r++ = '\n';
		}
		if (p.pax_link)
			r = record(r, "linkpath", e->link, p.linklen);
		if (p.pax_size)
			r = record(r, "size", p.size, strlen(p.size));
		if (p.pax_mtime)
			r = record(r, "mtime", p.mtime, strlen(p.mtime));
		b += (p.paxlen + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	}

	/*
	 * The ustar name: exact when it fits, else the first 100 bytes
	 * as a stand-in for readers that ignore pax.
	 */
	if (p.pax_path) {
		prefixlen = 0;
		namelen = m->total > USTAR_NAME ? USTAR_NAME : m->total;
		mname_copy(m, 0, namelen, name);
	} else if (p.split > 0) {
		prefixlen = p.split;
		mname_copy(m, 0, prefixlen, prefix);
		namelen = m->total - p.split - 1;
		mname_copy(m, p.split + 1, namelen, name);
	} else {
		prefixlen = 0;
		namelen = m->total;
		mname_copy(m, 0, namelen, name);
	}
	linklen = p.linklen > USTAR_LINK ? USTAR_LINK : p.linklen;
	ustar(b, prefix, prefixlen, name, namelen, e->mode, p.ustar_size,
	    p.ustar_mtime, p.type, e->type == TAR_SYMLINK ? e->link : NULL,
	    linklen);
	return (size);
}
