/*
 * mkseeds DIR
 *
 * Writes the binary seed inputs of the imsg and tar harnesses into
 * DIR/imsg/gen-* and DIR/tar/gen-* (make fuzz-seeds; the results are
 * committed under regress/fuzz/corpus/).  Each is encoded in the input
 * language its harness documents (fuzz_imsg.c, fuzz_tar.c):
 *
 * imsg: frames as the shipper's processes exchange them (hello, the
 * credentials, a pack job with its entries and descriptors, an upload
 * job, progress and results, the control protocol), cut into chunks the
 * way a stream socket may deliver them, plus the broken frames the
 * reader must refuse; and a few message lists for the compose game.
 *
 * tar: episode trees that reach each corner of the format: plain
 * files, nested directories, names and link targets past the ustar
 * fields, non-UTF-8 names, sub-second, negative and huge mtimes, setuid
 * and sticky modes, files with a hole of zeros, an empty episode.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imsg.h"
#include "shipper.h"

struct out {
	unsigned char	 buf[1 << 17];
	size_t		 len;
};

static const char	*dir;

static void	 put(struct out *, const void *, size_t);
static void	 put8(struct out *, int);
static void	 put16(struct out *, unsigned);
static void	 put32(struct out *, uint32_t);
static void	 save(const char *, const char *, const struct out *);
static size_t	 frame(unsigned char *, uint32_t, uint16_t, const void *,
		    size_t);
static void	 chunks(struct out *, const unsigned char *, size_t, size_t,
		    int);
static void	 imsg_seeds(void);
static void	 tar_seeds(void);

static void
put(struct out *o, const void *p, size_t n)
{
	if (o->len + n > sizeof(o->buf))
		errx(1, "seed too large");
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void
put8(struct out *o, int b)
{
	unsigned char	 c = (unsigned char)b;

	put(o, &c, 1);
}

static void
put16(struct out *o, unsigned v)
{
	put8(o, v & 0xff);
	put8(o, (v >> 8) & 0xff);
}

static void
put32(struct out *o, uint32_t v)
{
	put16(o, v & 0xffff);
	put16(o, v >> 16);
}

static void
save(const char *sub, const char *name, const struct out *o)
{
	char	 path[1024];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		err(1, "%s", path);
	snprintf(path, sizeof(path), "%s/%s/gen-%s", dir, sub, name);
	if ((fp = fopen(path, "w")) == NULL)
		err(1, "%s", path);
	if (fwrite(o->buf, 1, o->len, fp) != o->len || fclose(fp) != 0)
		err(1, "%s", path);
}

/* One frame as imsg_compose() lays it out; returns its length. */
static size_t
frame(unsigned char *buf, uint32_t type, uint16_t flags, const void *data,
    size_t datalen)
{
	struct imsg_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint16_t)(IMSG_HEADER_SIZE + datalen);
	hdr.flags = flags;
	hdr.peerid = 0;
	hdr.pid = 4242;
	memcpy(buf, &hdr, sizeof(hdr));
	if (datalen > 0)
		memcpy(buf + IMSG_HEADER_SIZE, data, datalen);
	return (IMSG_HEADER_SIZE + datalen);
}

/*
 * Stream-game ops for len bytes: chunks of at most step bytes (steps of
 * 64 past 256), the first carrying nfds descriptors, each followed by a
 * read-and-take op.
 */
static void
chunks(struct out *o, const unsigned char *p, size_t len, size_t step,
    int nfds)
{
	size_t	 n;

	while (len > 0) {
		n = len < step ? len : step;
		if (n > 256)
			n -= n % 64;
		if (n > 256)
			put8(o, 0x80 | (nfds > 0 ? 1 | (nfds - 1) << 2 : 0));
		else
			put8(o, nfds > 0 ? 1 | (nfds - 1) << 2 : 0);
		put8(o, (int)(n > 256 ? n / 64 - 1 : n - 1));
		put(o, p, n);
		put8(o, 2);		/* read, then take messages */
		p += n;
		len -= n;
		nfds = 0;
	}
}

static void
imsg_seeds(void)
{
	struct imsg_hello	 hello = { SHIPPER_PROTO_VERSION, 1, 0 };
	struct cred_done	 cred = { "lab-01" };
	struct pack_begin	 pb;
	struct pack_entry	 pe;
	struct pack_credit	 pc = { PACK_WINDOW };
	struct progress		 pr;
	struct pack_result	 res;
	struct upload_job	 uj;
	struct upload_result	 ur;
	struct out		 o;
	unsigned char		 f[IMSG_MAX_SIZE + 64], ent[512];
	const char		*path = "data/run-01.csv", *link = "../shared";
	size_t			 n, i;

	/* hello both ways, then the uploader's credentials. */
	memset(&o, 0, sizeof(o));
	put8(&o, 0);
	n = frame(f, IMSG_HELLO, 0, &hello, sizeof(hello));
	chunks(&o, f, n, 256, 0);
	n = frame(f, IMSG_CRED_CA, IMSGF_HASFD, NULL, 0);
	chunks(&o, f, n, 256, 1);
	n = frame(f, IMSG_CRED_CERT, IMSGF_HASFD, NULL, 0);
	chunks(&o, f, n, 256, 1);
	n = frame(f, IMSG_CRED_DONE, 0, &cred, sizeof(cred));
	chunks(&o, f, n, 256, 0);
	save("imsg", "hello-creds", &o);

	/* A pack job: begin + output fd, entries + file fds, credit. */
	memset(&o, 0, sizeof(o));
	put8(&o, 0);
	memset(&pb, 0, sizeof(pb));
	strlcpy(pb.id, "ep-2026-01-01", sizeof(pb.id));
	pb.tar_total = 10240;
	pb.nentries = 3;
	n = frame(f, IMSG_PACK_BEGIN, IMSGF_HASFD, &pb, sizeof(pb));
	chunks(&o, f, n, 256, 1);
	for (i = 0; i < 3; i++) {
		memset(&pe, 0, sizeof(pe));
		pe.type = i == 0 ? PACK_DIR : i == 1 ? PACK_FILE :
		    PACK_SYMLINK;
		pe.mode = i == 0 ? 0755 : 0644;
		pe.size = i == 1 ? 4096 : 0;
		pe.mtime_sec = 1767261600;
		pe.mtime_nsec = 123456789;
		pe.pathlen = (uint16_t)(i == 0 ? 4 : strlen(path));
		pe.linklen = (uint16_t)(i == 2 ? strlen(link) : 0);
		memcpy(ent, &pe, sizeof(pe));
		memcpy(ent + sizeof(pe), path, pe.pathlen);
		memcpy(ent + sizeof(pe) + pe.pathlen, link, pe.linklen);
		n = frame(f, IMSG_PACK_ENTRY, i == 1 ? IMSGF_HASFD : 0, ent,
		    sizeof(pe) + pe.pathlen + pe.linklen);
		/* Cut mid-header: the reader must wait for the rest. */
		chunks(&o, f, n, 7, i == 1);
	}
	n = frame(f, IMSG_PACK_CREDIT, 0, &pc, sizeof(pc));
	chunks(&o, f, n, 256, 0);
	save("imsg", "pack-job", &o);

	/* Progress and results, several frames per chunk. */
	memset(&o, 0, sizeof(o));
	put8(&o, 0);
	memset(&pr, 0, sizeof(pr));
	strlcpy(pr.id, "ep-1", sizeof(pr.id));
	pr.done = 1 << 20;
	pr.total = 5 << 20;
	n = frame(f, IMSG_PACK_PROGRESS, 0, &pr, sizeof(pr));
	memset(&res, 0, sizeof(res));
	strlcpy(res.id, "ep-1", sizeof(res.id));
	res.status = PACK_ERR_INPUT;
	strlcpy(res.detail, "ep-1/data.csv: grew while being packed",
	    sizeof(res.detail));
	n += frame(f + n, IMSG_PACK_RESULT, 0, &res, sizeof(res));
	chunks(&o, f, n, 1024, 0);
	memset(&uj, 0, sizeof(uj));
	strlcpy(uj.id, "ep-1", sizeof(uj.id));
	uj.size = 123456;
	uj.episode_time = 1767261600;
	n = frame(f, IMSG_UPLOAD_JOB, IMSGF_HASFD, &uj, sizeof(uj));
	memset(&ur, 0, sizeof(ur));
	strlcpy(ur.id, "ep-1", sizeof(ur.id));
	ur.http_status = 503;
	ur.action = ACTION_RETRY;
	ur.class = CLASS_TRANSIENT;
	ur.retry_after = 30;
	n += frame(f + n, IMSG_UPLOAD_RESULT, 0, &ur, sizeof(ur));
	chunks(&o, f, n, 256, 1);
	save("imsg", "upload", &o);

	/* Control socket: hello, status request, an error, EOF. */
	memset(&o, 0, sizeof(o));
	put8(&o, 0);
	n = frame(f, IMSG_CTL_HELLO, 0, &hello, sizeof(uint32_t));
	n += frame(f + n, IMSG_CTL_STATUS, 0, NULL, 0);
	n += frame(f + n, IMSG_CTL_ERROR, 0, "unknown request", 16);
	n += frame(f + n, IMSG_CTL_END, 0, NULL, 0);
	chunks(&o, f, n, 256, 0);
	put8(&o, 3 | 4);		/* close: EOF on a boundary */
	save("imsg", "control", &o);

	/* The largest message, then one cut short by EOF. */
	memset(&o, 0, sizeof(o));
	put8(&o, 0);
	memset(ent, 'x', sizeof(ent));
	n = frame(f, IMSG_CTL_ERROR, 0, NULL, 0);
	memset(f + n, 'y', IMSG_MAX_DATA);
	((struct imsg_hdr *)(void *)f)->len = IMSG_MAX_SIZE;
	chunks(&o, f, IMSG_MAX_SIZE, 8192, 0);
	chunks(&o, f, 100, 256, 0);
	put8(&o, 3 | 4);
	save("imsg", "max-then-eof", &o);

	/* Broken headers: too short, too long, a missing descriptor. */
	memset(&o, 0, sizeof(o));
	put8(&o, 0);
	n = frame(f, IMSG_HELLO, 0, &hello, sizeof(hello));
	((struct imsg_hdr *)(void *)f)->len = 8;
	chunks(&o, f, n, 256, 0);
	save("imsg", "len-short", &o);
	/* One byte past the limit, all of it sent: header, then fill. */
	memset(&o, 0, sizeof(o));
	put8(&o, 0);
	((struct imsg_hdr *)(void *)f)->len = IMSG_MAX_SIZE + 1;
	chunks(&o, f, IMSG_HEADER_SIZE, 256, 0);
	put8(&o, 0x80 | 0x40);
	put8(&o, 254);			/* 255 * 64 bytes of */
	put8(&o, 'z');
	put8(&o, 0x40);
	put8(&o, IMSG_MAX_SIZE + 1 - IMSG_HEADER_SIZE - 255 * 64 - 1);
	put8(&o, 'z');
	put8(&o, 2);
	save("imsg", "len-long", &o);
	memset(&o, 0, sizeof(o));
	put8(&o, 0);
	n = frame(f, IMSG_UPLOAD_JOB, IMSGF_HASFD, &uj, sizeof(uj));
	chunks(&o, f, n, 256, 0);
	save("imsg", "fd-missing", &o);

	/* Descriptors without messages claiming them, past the queue. */
	memset(&o, 0, sizeof(o));
	put8(&o, 0);
	n = frame(f, IMSG_PING, 0, NULL, 0);
	for (i = 0; i < 6; i++)
		chunks(&o, f, n, 256, 4);
	save("imsg", "fd-flood", &o);

	/* Compose game: a mix of sizes, descriptors and flushes. */
	memset(&o, 0, sizeof(o));
	put8(&o, 1);
	for (i = 0; i < 12; i++) {
		put8(&o, (int)((i % 3 == 0) | (i % 4 == 1 ? 2 : 0) |
		    (i % 2 ? 8 : 0) | (i % 5 == 0 ? 0x20 : 0) |
		    (int)(i % 4) << 4));
		put8(&o, (int)i + 1);
		put8(&o, 0x40 + (int)i);
		put8(&o, 0x80 + (int)i);
		put8(&o, (int)(i * 37 % 256));
	}
	/* The exact limit, and one byte past it. */
	put8(&o, 0xc6);
	put8(&o, 9);
	put8(&o, 0);
	put8(&o, 0);
	put8(&o, 0);
	put8(&o, 0xc7);
	put8(&o, 9);
	put8(&o, 0);
	put8(&o, 0);
	put8(&o, 1);
	save("imsg", "compose", &o);
}

/* Tree encoding, as fuzz_tar.c decodes it. */
struct tnode {
	int		 type;		/* 0 dir, 1 file, 2 symlink */
	int		 dirslot;	/* parent: index among directories */
	const char	*name;
	unsigned	 mode;
	int		 tsel;		/* mtime selector byte */
	uint32_t	 t1, t2;
	const char	*data;		/* file: contents; symlink: target */
	unsigned	 hole;		/* file: zeros after */
};

static const char	 idset[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789._-";

static void
tree(const char *seed, const char *id, unsigned rootmode,
    const struct tnode *t, size_t n)
{
	struct out	 o;
	size_t		 i, len;
	int		 flags;

	memset(&o, 0, sizeof(o));
	put8(&o, 0);				/* zstd level 1 */
	len = strlen(id);
	put8(&o, len <= 12 ? (int)len - 1 : 0x80 + (int)len - 1);
	for (i = 0; i < len; i++)
		put8(&o, (int)(strchr(idset, id[i]) - idset));
	put16(&o, rootmode);
	put32(&o, 1767261600);
	put32(&o, 250000000);
	for (i = 0; i < n; i++) {
		len = strlen(t[i].name);
		flags = t[i].type;
		if (len > 16)
			flags |= 0x80;
		if (t[i].data != NULL && strlen(t[i].data) > (t[i].type ==
		    1 ? 255 : 32))
			flags |= 0x40;
		if (t[i].hole > 0)
			flags |= 0x20;
		put8(&o, flags);
		put8(&o, t[i].dirslot);
		put8(&o, (int)len - 1);
		put(&o, t[i].name, len);
		put16(&o, t[i].mode);
		put8(&o, t[i].tsel);
		switch (t[i].tsel & 3) {
		case 0:
			put32(&o, t[i].t1);
			break;
		case 1:
			put32(&o, t[i].t1);
			put32(&o, t[i].t2);
			break;
		case 2:
			put32(&o, t[i].t1);
			if (t[i].tsel & 4)
				put32(&o, t[i].t2);
			break;
		case 3:
			put16(&o, t[i].t1);
			break;
		}
		if (t[i].type == 1) {
			len = strlen(t[i].data);
			if (flags & 0x40) {
				put8(&o, (int)(len / 7));
				len = len / 7 * 7;
			} else
				put8(&o, (int)len);
			put(&o, t[i].data, len);
			if (t[i].hole > 0)
				put16(&o, t[i].hole);
		} else if (t[i].type == 2) {
			len = strlen(t[i].data);
			if (flags & 0x40) {
				put8(&o, (int)((len - 1) / 4));
				len = (len - 1) / 4 * 4 + 1;
			} else
				put8(&o, (int)len - 1);
			put(&o, t[i].data, len);
		}
	}
	save("tar", seed, &o);
}

static void
tar_seeds(void)
{
	static char	 longname[201], longlink[402], deep[5][121];
	size_t		 i;

	const struct tnode basic[] = {
		{ 0, 0, "data", 0755, 0, 1767261600, 0, NULL, 0 },
		{ 1, 1, "run-01.csv", 0644, 1, 1767261601, 123456789,
		    "t,x\n0,1\n1,2\n", 0 },
		{ 1, 0, "DONE", 0644, 0, 1767261700, 0, "", 0 },
		{ 2, 0, "latest", 0777, 0, 1767261600, 0, "data/run-01.csv",
		    0 },
		{ 0, 1, "empty", 0700, 0, 1767261600, 0, NULL, 0 },
	};
	const struct tnode modes[] = {
		{ 1, 0, "setuid", 04755, 0, 1, 0, "#!/bin/sh\n", 0 },
		{ 1, 0, "setgid", 02711, 0, 2, 0, "x", 0 },
		{ 0, 0, "sticky", 01777, 0, 3, 0, NULL, 0 },
		{ 1, 0, "none", 0, 0, 4, 0, "", 0 },
		{ 1, 0, "hole", 0600, 0, 5, 0, "head", 60000 },
		{ 1, 0, "block", 0644, 0, 6, 0, "", 512 - 4 },
	};
	const struct tnode times[] = {
		{ 1, 0, "subsecond", 0644, 1, 1767261600, 1, "a", 0 },
		{ 1, 0, "epoch", 0644, 0, 0, 0, "b", 0 },
		{ 1, 0, "before-1970", 0644, 2, 0, 0, "c", 0 },
		{ 1, 0, "before-1970-frac", 0644, 2 | 4, 86400, 500000000,
		    "d", 0 },
		{ 1, 0, "year-2242", 0644, 3, 0x100, 0, "e", 0 },
		{ 1, 0, "past-2242", 0644, 3, 0xffff, 0, "f", 0 },
	};
	const struct tnode names[] = {
		{ 1, 0, "caf\xc3\xa9.txt", 0644, 0, 1, 0, "utf-8", 0 },
		{ 1, 0, "bin\xff\xfe", 0644, 0, 1, 0, "not utf-8", 0 },
		{ 1, 0, "new\nline\ttab", 0644, 0, 1, 0, "ctl", 0 },
		{ 2, 0, "link\xc3", 0777, 0, 1, 0, "\xff/target", 0 },
		{ 1, 0, "sp ace \\ back\"slash", 0644, 0, 1, 0, "q", 0 },
	};
	struct tnode	 longs[8];

	tree("basic", "ep-2026-01-01_10.00", 0755, basic, 5);
	tree("modes", "m", 0750, modes, 6);
	tree("times", "Times.1", 0755, times, 6);
	tree("names", "names", 0755, names, 5);
	tree("empty", "0", 0700, NULL, 0);

	/* Names across the 100-byte name and 155-byte prefix fields. */
	memset(longname, 'n', 200);
	memset(longlink, 'l', 401);
	for (i = 0; i < 5; i++)
		memset(deep[i], 'a' + (int)i, 120);
	memset(longs, 0, sizeof(longs));
	longs[0] = (struct tnode){ 0, 0, deep[0], 0755, 0, 1, 0, NULL, 0 };
	longs[1] = (struct tnode){ 0, 1, deep[1], 0755, 0, 1, 0, NULL, 0 };
	longs[2] = (struct tnode){ 1, 2, longname, 0644, 0, 1, 0, "deep",
	    0 };
	longs[3] = (struct tnode){ 2, 1, deep[2], 0777, 0, 1, 0, longlink,
	    0 };
	longs[4] = (struct tnode){ 1, 0, deep[3] + 20, 0644, 0, 1, 0, "ustar",
	    0 };
	longs[5] = (struct tnode){ 0, 2, deep[4], 0755, 1, 1, 7, NULL, 0 };
	tree("long-names", "a-rather-long-episode-id-that-eats-into-the-"
	    "ustar-name-field-0123456789", 0755, longs, 6);
}

int
main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return (2);
	}
	dir = argv[1];
	imsg_seeds();
	tar_seeds();
	return (0);
}
