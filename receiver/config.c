/*
 * The receiver's configuration: defaults, listen addresses, and printing
 * it back (-nv) in a form that parses again to the same configuration.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "receiver.h"

static void	 print_string(FILE *, const char *, const char *);

void
config_init(struct receiver_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	if ((conf->storage_root = strdup(RECEIVER_STORAGE_ROOT)) == NULL ||
	    (conf->user = strdup(RECEIVER_USER)) == NULL)
		fatal("%s", __func__);
	conf->max_header_size = DEFAULT_MAX_HEADER_SIZE;
	conf->max_body_size = DEFAULT_MAX_BODY_SIZE;
	conf->max_connections = DEFAULT_MAX_CONNECTIONS;
	conf->header_timeout = DEFAULT_HEADER_TIMEOUT;
	conf->idle_timeout = DEFAULT_IDLE_TIMEOUT;
	conf->body_timeout = DEFAULT_BODY_TIMEOUT;
	conf->window_past = DEFAULT_WINDOW_PAST;
	conf->window_future = DEFAULT_WINDOW_FUTURE;
}

void
config_free(struct receiver_conf *conf)
{
	int	 i;

	for (i = 0; i < conf->nlisten; i++)
		free(conf->listen[i].name);
	free(conf->storage_root);
	free(conf->user);
	free(conf->ca_file);
	free(conf->cert_file);
	free(conf->key_file);
	free(conf->tokens_file);
	memset(conf, 0, sizeof(*conf));
}

/* Numeric addresses only: a name could resolve differently each start. */
int
config_listen_add(struct receiver_conf *conf, const char *addr, int port,
    char *err, size_t errlen)
{
	struct listen_addr	*la;
	struct addrinfo		 hints, *res;
	char			 portstr[8];
	int			 i, r;

	if (conf->nlisten >= MAX_LISTEN) {
		snprintf(err, errlen, "at most %d listen addresses",
		    MAX_LISTEN);
		return (-1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((r = getaddrinfo(addr, portstr, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen %s: not a numeric IPv4 or "
		    "IPv6 address (%s)", log_esc(addr), gai_strerror(r));
		return (-1);
	}
	for (i = 0; i < conf->nlisten; i++)
		if (strcmp(conf->listen[i].name, addr) == 0 &&
		    conf->listen[i].port == port) {
			freeaddrinfo(res);
			snprintf(err, errlen, "listen %s port %d given twice",
			    log_esc(addr), port);
			return (-1);
		}
	la = &conf->listen[conf->nlisten];
	memset(la, 0, sizeof(*la));
	memcpy(&la->ss, res->ai_addr, res->ai_addrlen);
	la->sslen = res->ai_addrlen;
	la->port = port;
	la->fd = -1;
	freeaddrinfo(res);
	if ((la->name = strdup(addr)) == NULL)
		fatal("%s", __func__);
	conf->nlisten++;
	return (0);
}

/* The largest unit that divides the value exactly, so it reads back. */
void
fmt_size(char *buf, size_t len, uint64_t v)
{
	static const char	 units[] = "KMGT";
	int			 u = -1;

	while (u < 3 && v != 0 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u == -1)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "%" PRIu64 "%c", v, units[u]);
}

void
fmt_duration(char *buf, size_t len, time_t v)
{
	if (v != 0 && v % 86400 == 0)
		snprintf(buf, len, "%lldd", (long long)(v / 86400));
	else if (v != 0 && v % 3600 == 0)
		snprintf(buf, len, "%lldh", (long long)(v / 3600));
	else if (v != 0 && v % 60 == 0)
		snprintf(buf, len, "%lldm", (long long)(v / 60));
	else
		snprintf(buf, len, "%llds", (long long)v);
}

static void
print_string(FILE *fp, const char *keyword, const char *s)
{
	const char	*p;

	if (s == NULL)
		return;
	fprintf(fp, "%s \"", keyword);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', fp);
		fputc(*p, fp);
	}
	fprintf(fp, "\"\n");
}

void
config_print(FILE *fp, const struct receiver_conf *conf)
{
	char	 a[32], b[32];
	int	 i;

	for (i = 0; i < conf->nlisten; i++)
		fprintf(fp, "listen %s port %d\n", conf->listen[i].name,
		    conf->listen[i].port);
	print_string(fp, "storage-root", conf->storage_root);
	print_string(fp, "user", conf->user);
	print_string(fp, "ca", conf->ca_file);
	print_string(fp, "certificate", conf->cert_file);
	print_string(fp, "key", conf->key_file);
	print_string(fp, "tokens-file", conf->tokens_file);
	fmt_size(a, sizeof(a), conf->max_header_size);
	fprintf(fp, "max-header-size %s\n", a);
	fmt_size(a, sizeof(a), conf->max_body_size);
	fprintf(fp, "max-body-size %s\n", a);
	fprintf(fp, "max-connections %d\n", conf->max_connections);
	fmt_duration(a, sizeof(a), conf->header_timeout);
	fprintf(fp, "header-timeout %s\n", a);
	fmt_duration(a, sizeof(a), conf->idle_timeout);
	fprintf(fp, "idle-timeout %s\n", a);
	fmt_duration(a, sizeof(a), conf->body_timeout);
	fprintf(fp, "body-timeout %s\n", a);
	fmt_duration(a, sizeof(a), conf->window_past);
	fmt_duration(b, sizeof(b), conf->window_future);
	fprintf(fp, "accept-window past %s future %s\n", a, b);
}
