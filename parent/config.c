/*
 * The configuration's defaults, its release, and its printed form for
 * -nv: every setting, defaults included, in the grammar of parse.y, so
 * that what is printed parses again to the same configuration.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shipper.h"

static char	*xstrdup(const char *);
static void	 print_string(FILE *, const char *, const char *);
static void	 print_duration(FILE *, const char *, time_t);
static void	 print_size(FILE *, const char *, uint64_t);

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("%s", __func__);
	return (p);
}

void
config_init(struct shipper_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->data_root = xstrdup(SHIPPER_DATA_ROOT);
	conf->user = xstrdup(SHIPPER_USER);
	conf->sandbox_user = xstrdup(SHIPPER_SANDBOX_USER);
	conf->ready_marker = xstrdup(DEFAULT_READY_MARKER);
	conf->settle_time = 0;
	conf->scan_interval = DEFAULT_SCAN_INTERVAL;
	conf->stall_timeout = DEFAULT_STALL_TIMEOUT;
	conf->compression_level = DEFAULT_COMPRESSION_LEVEL;
	conf->compression_threads = DEFAULT_COMPRESSION_THREADS;
	conf->upload_max_rate = 0;
	conf->backoff_base = DEFAULT_BACKOFF_BASE;
	conf->backoff_cap = DEFAULT_BACKOFF_CAP;
	conf->pack_retries = DEFAULT_PACK_RETRIES;
	conf->quarantine_keep_days = DEFAULT_QUARANTINE_KEEP_DAYS;
	conf->quarantine_cleanup_interval = DEFAULT_CLEANUP_INTERVAL;
	conf->shipped_keep_days = DEFAULT_SHIPPED_KEEP_DAYS;
	conf->shipped_cleanup_interval = DEFAULT_CLEANUP_INTERVAL;
	conf->min_free_space = DEFAULT_MIN_FREE_SPACE;
	conf->min_free_inodes = DEFAULT_MIN_FREE_INODES;
}

/* Frees every string; safe to call twice. */
void
config_free(struct shipper_conf *conf)
{
	free(conf->host);
	free(conf->data_root);
	free(conf->user);
	free(conf->sandbox_user);
	free(conf->receiver_url);
	free(conf->ca_file);
	free(conf->cert_file);
	free(conf->key_file);
	free(conf->token_file);
	free(conf->ready_marker);
	memset(conf, 0, sizeof(*conf));
}

/* Always quoted, so any value reads back the same. */
static void
print_string(FILE *fp, const char *name, const char *s)
{
	if (s == NULL)
		return;
	fprintf(fp, "%s \"", name);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putc('\\', fp);
		putc(*s, fp);
	}
	fprintf(fp, "\"\n");
}

/* In the largest unit that is exact: 3600 is 1h, 90 is 90s. */
static void
print_duration(FILE *fp, const char *name, time_t t)
{
	long long	 v = t;

	if (v > 0 && v % 86400 == 0)
		fprintf(fp, "%s %lldd\n", name, v / 86400);
	else if (v > 0 && v % 3600 == 0)
		fprintf(fp, "%s %lldh\n", name, v / 3600);
	else if (v > 0 && v % 60 == 0)
		fprintf(fp, "%s %lldm\n", name, v / 60);
	else
		fprintf(fp, "%s %llds\n", name, v);
}

/* In the largest binary suffix that is exact. */
static void
print_size(FILE *fp, const char *name, uint64_t n)
{
	static const char	 suffix[] = "KMGT";
	int			 i;

	for (i = 3; i >= 0 && n != 0; i--) {
		if (n % (1ULL << (10 * (i + 1))) == 0) {
			fprintf(fp, "%s %llu%c\n", name, (unsigned long long)
			    (n >> (10 * (i + 1))), suffix[i]);
			return;
		}
	}
	fprintf(fp, "%s %llu\n", name, (unsigned long long)n);
}

void
config_print(FILE *fp, const struct shipper_conf *conf)
{
	print_string(fp, "host", conf->host);
	print_string(fp, "data-root", conf->data_root);
	print_string(fp, "user", conf->user);
	print_string(fp, "sandbox-user", conf->sandbox_user);
	fprintf(fp, "\n");

	print_string(fp, "receiver url", conf->receiver_url);
	print_string(fp, "receiver ca", conf->ca_file);
	print_string(fp, "receiver certificate", conf->cert_file);
	print_string(fp, "receiver key", conf->key_file);
	print_string(fp, "receiver token-file", conf->token_file);
	fprintf(fp, "\n");

	if (conf->settle_time != 0)
		print_duration(fp, "settle-time", conf->settle_time);
	else
		print_string(fp, "ready-marker", conf->ready_marker);
	print_duration(fp, "scan-interval", conf->scan_interval);
	print_duration(fp, "stall-timeout", conf->stall_timeout);
	fprintf(fp, "\n");

	fprintf(fp, "compression level %d\n", conf->compression_level);
	fprintf(fp, "compression threads %d\n", conf->compression_threads);
	fprintf(fp, "\n");

	print_size(fp, "upload max-rate", conf->upload_max_rate);
	fprintf(fp, "\n");

	print_duration(fp, "backoff base", conf->backoff_base);
	print_duration(fp, "backoff cap", conf->backoff_cap);
	fprintf(fp, "\n");

	fprintf(fp, "pack-retries %d\n", conf->pack_retries);
	fprintf(fp, "\n");

	fprintf(fp, "quarantine keep-days %d\n", conf->quarantine_keep_days);
	print_duration(fp, "quarantine cleanup-interval",
	    conf->quarantine_cleanup_interval);
	fprintf(fp, "\n");

	fprintf(fp, "shipped keep-days %d\n", conf->shipped_keep_days);
	print_duration(fp, "shipped cleanup-interval",
	    conf->shipped_cleanup_interval);
	fprintf(fp, "\n");

	print_size(fp, "min-free space", conf->min_free_space);
	fprintf(fp, "min-free inodes %llu\n",
	    (unsigned long long)conf->min_free_inodes);
}
