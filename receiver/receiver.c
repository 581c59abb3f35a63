/*
 * cis490-receiver: entry point and the privileged parent.
 *
 * The parent reads the configuration, the tokens file and the key
 * material, binds the listen sockets, and forks the server, which
 * inherits all of that, then confines itself (sandbox.c).  The parent
 * keeps nothing secret after the fork, parses nothing from the network,
 * talks to systemd, and ends the daemon when the server dies.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <tls.h>

#include "log.h"
#include "proc.h"
#include "receiver.h"
#include "util.h"

/* The server gets this long after SIGTERM, inside the unit's 5 s. */
#define SHUTDOWN_GRACE_USEC	(4 * 1000000ULL)

static sd_event		*parent_ev;
static pid_t		 server_pid;
static int		 server_alive;
static int		 stopping;
static int		 exit_code;
static struct imsgev	 server_iev;
static struct receiver_conf *pconf;

static void	 usage(void) __attribute__((noreturn));
static int	 parent_main(struct receiver_conf *, int);
static struct tls_config *load_tls(struct receiver_conf *);
static void	 bind_listeners(struct receiver_conf *);
static void	 check_storage(struct receiver_conf *);
static int	 parent_signal(sd_event_source *,
		    const struct signalfd_siginfo *, void *);
static int	 parent_child_exited(sd_event_source *, const siginfo_t *,
		    void *);
static int	 parent_grace_over(sd_event_source *, uint64_t, void *);
static void	 parent_dispatch(struct imsgev *, struct imsg *);
static void	 parent_channel_closed(struct imsgev *);

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-dnv] [-f file]\n", RECEIVER_NAME);
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct receiver_conf	 conf;
	struct tokenlist	 tokens;
	const char		*conffile = RECEIVER_CONF;
	char			 err[512];
	int			 ch, debug = 0, noaction = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "df:nv")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			noaction = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	if (argc > 0)
		usage();

	if (noaction) {
		log_init(LOG_MODE_TOOL, verbose, RECEIVER_NAME);
		if (parse_config(conffile, &conf, CONF_CHECK_FILES) == -1)
			exit(1);
		if (tokens_load(conf.tokens_file, &tokens) == -1)
			exit(1);
		tokens_free(&tokens);
		if (check_secret_file(conf.key_file, err, sizeof(err)) == -1)
			fatalx("%s", err);
		if (verbose)
			config_print(stdout, &conf);
		if (fflush(stdout) == EOF || ferror(stdout))
			fatal("stdout");
		fprintf(stderr, "configuration OK\n");
		config_free(&conf);
		exit(0);
	}

	log_init(debug ? LOG_MODE_STDERR : LOG_MODE_JOURNAL, verbose,
	    "parent");
	if (parse_config(conffile, &conf, CONF_CHECK_FILES) == -1)
		exit(1);
	return (parent_main(&conf, debug));
}

static struct tls_config *
load_tls(struct receiver_conf *conf)
{
	struct tls_config	*cfg;
	struct tls		*probe;
	uint8_t			*ca, *cert, *key;
	size_t			 calen, certlen, keylen;
	uint32_t		 protos;
	char			 err[512];

	if (check_secret_file(conf->key_file, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (tls_init() == -1)
		fatalx("tls_init");
	if ((cfg = tls_config_new()) == NULL)
		fatalx("tls_config_new");
	if ((ca = tls_load_file(conf->ca_file, &calen, NULL)) == NULL)
		fatalx("ca %s: %s", conf->ca_file, tls_config_error(cfg) ?
		    tls_config_error(cfg) : strerror(errno));
	if ((cert = tls_load_file(conf->cert_file, &certlen, NULL)) == NULL)
		fatal("certificate %s", conf->cert_file);
	if ((key = tls_load_file(conf->key_file, &keylen, NULL)) == NULL)
		fatal("key %s (a key with a passphrase cannot be used)",
		    conf->key_file);
	if (tls_config_set_ca_mem(cfg, ca, calen) == -1)
		fatalx("ca %s: %s", conf->ca_file, tls_config_error(cfg));
	if (tls_config_set_keypair_mem(cfg, cert, certlen, key,
	    keylen) == -1)
		fatalx("certificate %s, key %s: %s", conf->cert_file,
		    conf->key_file, tls_config_error(cfg));
	tls_unload_file(key, keylen);
	tls_unload_file(cert, certlen);
	tls_unload_file(ca, calen);
	if (tls_config_parse_protocols(&protos, "tlsv1.2,tlsv1.3") == -1 ||
	    tls_config_set_protocols(cfg, protos) == -1)
		fatalx("TLS protocols: %s", tls_config_error(cfg));
	/* DESIGN §5: every request needs a certificate from our CA. */
	tls_config_verify_client(cfg);

	/* A key that does not fit the certificate fails here, not later. */
	if ((probe = tls_server()) == NULL)
		fatalx("tls_server");
	if (tls_configure(probe, cfg) == -1)
		fatalx("certificate %s, key %s, ca %s: %s", conf->cert_file,
		    conf->key_file, conf->ca_file, tls_error(probe));
	tls_free(probe);
	return (cfg);
}

static void
bind_listeners(struct receiver_conf *conf)
{
	struct listen_addr	*la;
	int			 i, on = 1;

	for (i = 0; i < conf->nlisten; i++) {
		la = &conf->listen[i];
		if ((la->fd = socket(la->ss.ss_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
			fatal("listen %s port %d: socket", la->name, la->port);
		if (setsockopt(la->fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1)
			fatal("SO_REUSEADDR");
		if (la->ss.ss_family == AF_INET6 &&
		    setsockopt(la->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on)) == -1)
			fatal("IPV6_V6ONLY");
		if (bind(la->fd, (struct sockaddr *)&la->ss, la->sslen) == -1)
			fatal("listen %s port %d", la->name, la->port);
		if (listen(la->fd, 128) == -1)
			fatal("listen %s port %d", la->name, la->port);
	}
}

static void
check_storage(struct receiver_conf *conf)
{
	struct stat	 st;
	struct passwd	*pw;

	if (stat(conf->storage_root, &st) == -1)
		fatal("storage-root %s (create it, owned by user %s)",
		    conf->storage_root, conf->user);
	if (!S_ISDIR(st.st_mode))
		fatalx("storage-root %s: not a directory", conf->storage_root);
	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(conf->user)) == NULL)
		fatalx("user %s: no such account; create it (see "
		    "cis490-receiver(8)) or name another", conf->user);
	if (pw->pw_uid == 0)
		fatalx("user %s is root; name an unprivileged account",
		    conf->user);
	if (st.st_uid != pw->pw_uid)
		fatalx("storage-root %s is not owned by user %s: "
		    "chown -R %s %s",
		    conf->storage_root, conf->user, conf->user,
		    conf->storage_root);
}

static int
parent_main(struct receiver_conf *conf, int debug)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct server_env	 env;
	struct tokenlist	 tokens;
	struct tls_config	*cfg;
	sd_event_source		*src;
	size_t			 i;
	int			 fds[2], r, j;

	pconf = conf;
	setproctitle("parent");
	if (tokens_load(conf->tokens_file, &tokens) == -1)
		exit(1);
	check_storage(conf);
	cfg = load_tls(conf);
	bind_listeners(conf);
	proc_block_signals();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0, fds) == -1)
		fatal("socketpair");
	switch ((server_pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		close(fds[0]);
		memset(&env, 0, sizeof(env));
		env.conf = conf;
		env.tokens = &tokens;
		env.tls_config = cfg;
		env.parent_fd = fds[1];
		env.debug = debug;
		server_main(&env);
	default:
		break;
	}
	server_alive = 1;
	close(fds[1]);
	/* Nothing secret stays in the parent. */
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
	tokens_free(&tokens);
	for (j = 0; j < conf->nlisten; j++)
		close(conf->listen[j].fd);

	if ((r = sd_event_new(&parent_ev)) < 0) {
		errno = -r;
		fatal("sd_event_new");
	}
	for (i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
		if (sd_event_add_signal(parent_ev, &src, sigs[i],
		    parent_signal, NULL) < 0)
			fatalx("cannot watch signal %d", sigs[i]);
		sd_event_source_set_priority(src,
		    SD_EVENT_PRIORITY_IMPORTANT);
	}
	if (imsgev_init(&server_iev, parent_ev, fds[0], "server",
	    parent_dispatch, parent_channel_closed, NULL) == -1)
		fatal("channel to the server");
	if ((r = sd_event_add_child(parent_ev, NULL, server_pid, WEXITED,
	    parent_child_exited, NULL)) < 0) {
		errno = -r;
		fatal("watch the server");
	}
	log_debug("started server, pid %ld", (long)server_pid);

	r = sd_event_loop(parent_ev);
	if (r < 0) {
		errno = -r;
		fatal("event loop");
	}
	sd_event_unref(parent_ev);
	config_free(conf);
	log_info("exiting with status %d", r);
	return (r);
}

static void
parent_stop(int code)
{
	if (stopping)
		return;
	stopping = 1;
	sd_notify(0, "STOPPING=1");
	imsgev_close(&server_iev);
	if (!server_alive) {
		sd_event_exit(parent_ev, code);
		return;
	}
	kill(server_pid, SIGTERM);
	exit_code = code;
	if (sd_event_add_time_relative(parent_ev, NULL, CLOCK_MONOTONIC,
	    SHUTDOWN_GRACE_USEC, 0, parent_grace_over, NULL) < 0)
		fatalx("cannot arm the shutdown timer");
}

static int
parent_grace_over(sd_event_source *s, uint64_t usec, void *arg)
{
	(void)s;
	(void)usec;
	(void)arg;
	if (server_alive) {
		log_warnx("server did not stop in time, killing it");
		kill(server_pid, SIGKILL);
	}
	return (0);
}

static int
parent_signal(sd_event_source *s, const struct signalfd_siginfo *si,
    void *arg)
{
	(void)s;
	(void)arg;
	if (si->ssi_signo == SIGHUP) {
		log_info("SIGHUP ignored: restart the service to reload "
		    "the configuration and tokens");
		return (0);
	}
	log_info("stopping on %s", si->ssi_signo == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	parent_stop(0);
	return (0);
}

static int
parent_child_exited(sd_event_source *s, const siginfo_t *si, void *arg)
{
	int	 code = 0;

	(void)s;
	(void)arg;
	server_alive = 0;
	if (!stopping) {
		if (si->si_code == CLD_EXITED)
			log_warnx("lost child: server (exited with status %d)",
			    si->si_status);
		else
			log_warnx("lost child: server (killed by signal %d%s)",
			    si->si_status, si->si_status == SIGSYS ?
			    ", a system call outside the seccomp filter" : "");
		code = 1;
		stopping = 1;
		sd_notify(0, "STOPPING=1");
	} else {
		code = exit_code;
		if (si->si_code == CLD_EXITED && si->si_status == 0)
			log_debug("server stopped");
		else {
			log_warnx("server ended with %s %d while stopping",
			    si->si_code == CLD_EXITED ? "status" : "signal",
			    si->si_status);
			code = 1;
		}
	}
	sd_event_exit(parent_ev, code);
	return (0);
}

static void
parent_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	char	 status[256];
	size_t	 off = 0;
	int	 i;

	(void)iev;
	switch (imsg->hdr.type) {
	case IMSG_READY:
		if (imsg->hdr.len != IMSG_HEADER_SIZE)
			fatalx("server: ready of bad size %u", imsg->hdr.len);
		off = strlcpy(status, "STATUS=listening on", sizeof(status));
		for (i = 0; i < pconf->nlisten && off < sizeof(status); i++)
			off += snprintf(status + off, sizeof(status) - off,
			    " %s port %d", pconf->listen[i].name,
			    pconf->listen[i].port);
		log_info("%s", status + 7);
		sd_notifyf(0, "READY=1\n%s", status);
		break;
	default:
		fatalx("server: unexpected imsg type %u", imsg->hdr.type);
	}
}

/* The server's exit report follows; it says how it died. */
static void
parent_channel_closed(struct imsgev *iev)
{
	(void)iev;
}
