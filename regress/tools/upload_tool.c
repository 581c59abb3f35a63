/*
 * upload-tool: drives the uploader's HTTP client (uploader/http.c)
 * directly against a receiver, without the daemon, for tests.
 *
 *   upload-tool -u URL -H HOST -a CA -c CERT -k KEY -t TOKEN [-T BYTES]
 *	[-r RATE] put ID FILE [EPISODE_TIME]
 *   upload-tool ... ping
 *
 * put prints "status=N action=A class=C retry_after=S progress=P
 * detail=D", ping prints "step=S status=N time=T date=D detail=D".
 * All files are read before the first request, and "network:" is
 * written to stderr just before it, so strace output can be split
 * there to show that the client itself opens nothing.
 */
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "log.h"
#include "shipper.h"
#include "uploader/classify.h"
#include "uploader/http.h"

static const char *const steps[] = {
	"ok", "resolve", "connect", "tls", "http"
};

static int	 nprogress;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: upload-tool -u url -H host -a ca -c cert "
	    "-k key -t token [-T head-threshold] [-r rate]\n"
	    "\tput id file [episode-time] | ping\n");
	exit(2);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "r")) == NULL)
		err(1, "%s", path);
	if (fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) == -1 ||
	    fseek(f, 0, SEEK_SET) == -1)
		err(1, "%s", path);
	if ((buf = malloc(n + 1)) == NULL)
		err(1, NULL);
	if (fread(buf, 1, n, f) != (size_t)n)
		errx(1, "%s: short read", path);
	buf[n] = '\0';
	fclose(f);
	*len = n;
	return (buf);
}

static int
progress(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	(void)done;
	(void)total;
	nprogress++;
	return (0);
}

static void
digest_file(int fd, uint8_t *md)
{
	EVP_MD_CTX	*ctx;
	char		 buf[65536];
	ssize_t		 n;
	unsigned int	 len;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		errx(1, "EVP");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	if (n == -1)
		err(1, "read");
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
}

int
main(int argc, char *argv[])
{
	struct http_config	 hc;
	struct http		*h;
	struct upload_job	 job;
	struct upload_result	 res;
	struct ping_result	 pr;
	struct stat		 st;
	size_t			 len;
	char			*tok = NULL, *ca = NULL, *cert = NULL, *key = NULL;
	const char		*errstr;
	int			 ch, fd;

	log_init(LOG_MODE_TOOL, 1, "upload-tool");
	memset(&hc, 0, sizeof(hc));
	while ((ch = getopt(argc, argv, "a:c:H:k:r:t:T:u:")) != -1) {
		switch (ch) {
		case 'a':
			free(ca);
			hc.ca = ca = slurp(optarg, &hc.ca_len);
			break;
		case 'c':
			free(cert);
			hc.cert = cert = slurp(optarg, &hc.cert_len);
			break;
		case 'H':
			hc.host = optarg;
			break;
		case 'k':
			free(key);
			hc.key = key = slurp(optarg, &hc.key_len);
			break;
		case 'r':
			hc.max_rate = strtonum(optarg, 1, INT64_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "rate %s: %s", optarg, errstr);
			break;
		case 't':
			free(tok);
			tok = slurp(optarg, &len);
			tok[strcspn(tok, "\r\n")] = '\0';
			hc.token = tok;
			break;
		case 'T':
			hc.head_threshold = strtonum(optarg, 1, INT64_MAX,
			    &errstr);
			if (errstr != NULL)
				errx(2, "threshold %s: %s", optarg, errstr);
			break;
		case 'u':
			hc.url = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || hc.url == NULL || hc.host == NULL || hc.ca == NULL ||
	    hc.cert == NULL || hc.key == NULL || hc.token == NULL)
		usage();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		errx(1, "curl_global_init");
	tzset();	/* as the uploader does: /etc/localtime read now */
	h = http_new(&hc);

	if (strcmp(argv[0], "ping") == 0 && argc == 1) {
		fprintf(stderr, "network:\n");
		http_ping(h, &pr);
		printf("step=%s status=%d time=%lld date=%lld detail=%s\n",
		    steps[pr.step], pr.http_status,
		    (long long)pr.receiver_time, (long long)pr.date_header,
		    pr.detail);
	} else if (strcmp(argv[0], "put") == 0 && (argc == 3 || argc == 4)) {
		memset(&job, 0, sizeof(job));
		if (strlcpy(job.id, argv[1], sizeof(job.id)) >= sizeof(job.id))
			errx(2, "id too long");
		if ((fd = open(argv[2], O_RDONLY)) == -1 ||
		    fstat(fd, &st) == -1)
			err(1, "%s", argv[2]);
		job.size = st.st_size;
		digest_file(fd, job.digest);
		job.episode_time = argc == 4 ? strtonum(argv[3], 0,
		    INT64_MAX, &errstr) : time(NULL);
		if (argc == 4 && errstr != NULL)
			errx(2, "episode time %s: %s", argv[3], errstr);
		fprintf(stderr, "network:\n");
		http_upload(h, &job, fd, progress, NULL, &res);
		printf("status=%d action=%s class=%s retry_after=%lld "
		    "progress=%d detail=%s\n", res.http_status,
		    answer_action_name(res.action),
		    answer_class_name(res.class),
		    (long long)res.retry_after, nprogress, res.detail);
		close(fd);
	} else
		usage();
	http_free(h);
	curl_global_cleanup();
	free(ca);
	free(cert);
	free(key);
	free(tok);
	return (0);
}
