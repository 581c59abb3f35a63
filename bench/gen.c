/*
 * bench-gen: writes one benchmark episode, the same bytes for the same
 * seed, episode number and size on every machine (bench/README in
 * RESULTS.md says what the corpora are).
 *
 *	bench-gen -V
 *	bench-gen DIR SEED EPISODE SIZE NJSON
 *
 * DIR must not exist; it is created and filled with, by bytes:
 *   45%  sensor-like CSV text (csv-NN.csv, at most 64 MiB each), a random
 *        walk per channel, so it compresses about as real logs do;
 *   50%  incompressible bytes (blob-NN.bin, at most 64 MiB each), as
 *        camera frames or already compressed recordings are;
 *    5%  NJSON small JSON files (meta/NNNN.json, or meta.json when
 *        NJSON is 1).
 * Every file gets a fixed mtime, so two corpora made from the same
 * arguments are identical trees.  Bytes come from splitmix64 and
 * xoshiro256**: fast, and defined here rather than by a libc.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bump when the bytes written for the same arguments change. */
#define GEN_VERSION	1

#define CHUNK_MAX	(64ULL * 1024 * 1024)
#define BUF_SIZE	(1024 * 1024)
#define BASE_TIME	1714564800	/* 2024-05-01T12:00:00Z */

struct rng {
	uint64_t	 s[4];
};

static void	 die(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
static uint64_t	 splitmix64(uint64_t *);
static void	 rng_seed(struct rng *, uint64_t, uint64_t, uint64_t);
static uint64_t	 rng_next(struct rng *);
static double	 rng_unit(struct rng *);
static uint64_t	 parse_u64(const char *, const char *);
static int	 open_out(const char *, const char *);
static void	 write_all(int, const char *, const void *, size_t);
static void	 close_out(int, const char *, const char *, time_t);
static void	 write_blob(const char *, const char *, struct rng *,
		    uint64_t, time_t);
static void	 write_csv(const char *, const char *, struct rng *,
		    uint64_t, time_t, unsigned int);
static void	 write_json(const char *, const char *, struct rng *,
		    uint64_t, time_t, unsigned int, uint64_t);

static void
die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("bench-gen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	 z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

/* One independent stream per (seed, episode, file). */
static void
rng_seed(struct rng *r, uint64_t seed, uint64_t episode, uint64_t stream)
{
	uint64_t	 x = seed ^ (episode * 0x100000001b3ULL) ^
			    (stream << 48);
	int		 i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return ((x << k) | (x >> (64 - k)));
}

static uint64_t
rng_next(struct rng *r)
{
	uint64_t	*s = r->s;
	uint64_t	 result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return (result);
}

static double
rng_unit(struct rng *r)
{
	return ((rng_next(r) >> 11) * 0x1.0p-53);
}

static uint64_t
parse_u64(const char *s, const char *what)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0)
		die("%s: not a decimal number: %s", what, s);
	return (v);
}

static int
open_out(const char *dir, const char *name)
{
	char	 path[PATH_MAX];
	int	 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		die("%s/%s: path too long", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1)
		die("%s: %s", path, strerror(errno));
	return (fd);
}

static void
write_all(int fd, const char *name, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s: write: %s", name, n == 0 ? "wrote nothing" :
			    strerror(errno));
		p += n;
		len -= n;
	}
}

static void
close_out(int fd, const char *dir, const char *name, time_t mtime)
{
	struct timespec	 ts[2] = { { mtime, 0 }, { mtime, 0 } };

	if (futimens(fd, ts) == -1)
		die("%s/%s: futimens: %s", dir, name, strerror(errno));
	if (close(fd) == -1)
		die("%s/%s: close: %s", dir, name, strerror(errno));
}

static void
write_blob(const char *dir, const char *name, struct rng *r, uint64_t size,
    time_t mtime)
{
	static uint64_t	 buf[BUF_SIZE / 8];
	size_t		 i, n;
	int		 fd = open_out(dir, name);

	while (size > 0) {
		n = size < sizeof(buf) ? size : sizeof(buf);
		for (i = 0; i < (n + 7) / 8; i++)
			buf[i] = rng_next(r);
		write_all(fd, name, buf, n);
		size -= n;
	}
	close_out(fd, dir, name, mtime);
}

/*
 * Lines like a data logger's: time, channel, then readings that walk
 * with small noise, written with the fixed precision loggers use.
 */
static void
write_csv(const char *dir, const char *name, struct rng *r, uint64_t size,
    time_t mtime, unsigned int part)
{
	static char	 buf[BUF_SIZE];
	static const char header[] = "time,sensor,temp_c,humidity,"
	    "pressure_hpa,accel_x,accel_y,accel_z,status\n";
	char		 line[256];
	double		 temp = 21.5, hum = 40.0, pres = 1013.25;
	double		 ax = 0.0, ay = 0.0, az = 9.81;
	uint64_t	 usec = (uint64_t)part * 3600 * 1000000ULL;
	size_t		 used = 0, len;
	time_t		 t;
	struct tm	 tm;
	int		 fd = open_out(dir, name), sensor, k;

	len = sizeof(header) - 1;
	if (len > size)
		len = size;
	memcpy(buf, header, len);
	used = len;
	size -= len;
	while (size > 0) {
		usec += 1000 + rng_next(r) % 64;
		sensor = (int)(rng_next(r) % 16);
		temp += (rng_unit(r) - 0.5) * 0.02;
		hum += (rng_unit(r) - 0.5) * 0.05;
		pres += (rng_unit(r) - 0.5) * 0.01;
		ax = ax * 0.9 + (rng_unit(r) - 0.5) * 0.02;
		ay = ay * 0.9 + (rng_unit(r) - 0.5) * 0.02;
		az = 9.81 + (rng_unit(r) - 0.5) * 0.02;
		t = BASE_TIME + (time_t)(usec / 1000000);
		gmtime_r(&t, &tm);
		k = snprintf(line, sizeof(line),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ,s%02d,%.3f,%.2f,%.2f,"
		    "%.4f,%.4f,%.4f,%s\n", tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (unsigned int)(usec % 1000000), sensor, temp, hum, pres,
		    ax, ay, az, rng_next(r) % 97 == 0 ? "WARN" : "OK");
		if (k < 0 || (size_t)k >= sizeof(line))
			die("%s: line too long", name);
		len = (size_t)k;
		/* The last line is cut to make the size exact. */
		if (len > size)
			len = size;
		if (used + len > sizeof(buf)) {
			write_all(fd, name, buf, used);
			used = 0;
		}
		memcpy(buf + used, line, len);
		used += len;
		size -= len;
	}
	write_all(fd, name, buf, used);
	close_out(fd, dir, name, mtime);
}

/* A calibration/metadata record padded to exactly size bytes. */
static void
write_json(const char *dir, const char *name, struct rng *r, uint64_t size,
    time_t mtime, unsigned int n, uint64_t episode)
{
	static char	 buf[BUF_SIZE];
	size_t		 used;
	int		 fd, k, i;

	if (size > sizeof(buf) || size < 96)
		die("%s: JSON size %" PRIu64 " out of range", name, size);
	k = snprintf(buf, sizeof(buf), "{\"episode\":%" PRIu64 ",\"index\":%u,"
	    "\"sensor\":\"s%02u\",\"gain\":%.6f,\"offset\":%.6f,\"values\":[",
	    episode, n, n % 16, 1.0 + (rng_unit(r) - 0.5) * 0.01,
	    (rng_unit(r) - 0.5) * 0.1);
	used = (size_t)k;
	/* Room for the closing "]}\n" and a last value. */
	for (i = 0; used + 16 + 3 < size; i++) {
		k = snprintf(buf + used, sizeof(buf) - used, "%s%.5f",
		    i == 0 ? "" : ",", rng_unit(r) * 100.0);
		used += (size_t)k;
	}
	while (used + 3 < size)
		buf[used++] = ' ';
	memcpy(buf + used, "]}\n", 3);
	used += 3;
	fd = open_out(dir, name);
	write_all(fd, name, buf, used);
	close_out(fd, dir, name, mtime);
}

int
main(int argc, char *argv[])
{
	struct rng	 r;
	struct timespec	 ts[2];
	char		 name[64], meta[PATH_MAX];
	uint64_t	 seed, episode, size, njson, csv, blob, json;
	uint64_t	 nchunks, part, left, each, i;
	time_t		 mtime;

	if (argc == 2 && strcmp(argv[1], "-V") == 0) {
		printf("%d\n", GEN_VERSION);
		return (0);
	}
	if (argc != 6)
		die("usage: bench-gen -V | bench-gen DIR SEED EPISODE SIZE "
		    "NJSON");
	seed = parse_u64(argv[2], "SEED");
	episode = parse_u64(argv[3], "EPISODE");
	size = parse_u64(argv[4], "SIZE");
	njson = parse_u64(argv[5], "NJSON");
	if (njson < 1 || njson > 100000)
		die("NJSON must be 1 to 100000");
	if (size < njson * 128 + 1024)
		die("SIZE %" PRIu64 " too small for %" PRIu64 " JSON files",
		    size, njson);
	json = size / 20;
	csv = size * 45 / 100;
	blob = size - json - csv;
	mtime = BASE_TIME + (time_t)(episode % 100000) * 60;

	if (mkdir(argv[1], 0755) == -1)
		die("%s: %s", argv[1], strerror(errno));

	nchunks = (csv + CHUNK_MAX - 1) / CHUNK_MAX;
	for (part = 0, left = csv; part < nchunks; part++) {
		each = left / (nchunks - part);
		snprintf(name, sizeof(name), "csv-%02" PRIu64 ".csv", part);
		rng_seed(&r, seed, episode, 1 + part);
		write_csv(argv[1], name, &r, each, mtime, (unsigned int)part);
		left -= each;
	}
	nchunks = (blob + CHUNK_MAX - 1) / CHUNK_MAX;
	for (part = 0, left = blob; part < nchunks; part++) {
		each = left / (nchunks - part);
		snprintf(name, sizeof(name), "blob-%02" PRIu64 ".bin", part);
		rng_seed(&r, seed, episode, 1024 + part);
		write_blob(argv[1], name, &r, each, mtime);
		left -= each;
	}
	if (njson == 1) {
		rng_seed(&r, seed, episode, 4096);
		write_json(argv[1], "meta.json", &r, json, mtime, 0, episode);
	} else {
		if ((size_t)snprintf(meta, sizeof(meta), "%s/meta", argv[1]) >=
		    sizeof(meta))
			die("%s/meta: path too long", argv[1]);
		if (mkdir(meta, 0755) == -1)
			die("%s: %s", meta, strerror(errno));
		for (i = 0, left = json; i < njson; i++) {
			each = left / (njson - i);
			snprintf(name, sizeof(name), "%04" PRIu64 ".json", i);
			rng_seed(&r, seed, episode, 8192 + i);
			write_json(meta, name, &r, each, mtime,
			    (unsigned int)i, episode);
			left -= each;
		}
		ts[0].tv_sec = ts[1].tv_sec = mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (utimensat(AT_FDCWD, meta, ts, 0) == -1)
			die("%s: utimensat: %s", meta, strerror(errno));
	}
	ts[0].tv_sec = ts[1].tv_sec = mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, argv[1], ts, 0) == -1)
		die("%s: utimensat: %s", argv[1], strerror(errno));
	return (0);
}
