/*
 * cis490-receiver: paths, the configuration, the imsg types between the
 * parent and the server, and prototypes grouped by file.
 */
#ifndef RECEIVER_H
#define RECEIVER_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define RECEIVER_NAME		"cis490-receiver"
#define RECEIVER_CONF		"/etc/cis490-receiver/receiver.conf"
#define RECEIVER_STORAGE_ROOT	"/var/lib/cis490-receiver"
#define RECEIVER_USER		"cis490"
#define RECEIVER_PORT		8443

/* Host and episode ids: [A-Za-z0-9][A-Za-z0-9._-]{0,127} (DESIGN §3). */
#define ID_MAXLEN		128

/* The directory under the storage root that holds uploads in progress. */
#define STORE_TMPDIR		".tmp"

/* Defaults; cis490-receiver.conf(5) documents each. */
#define DEFAULT_MAX_HEADER_SIZE	(16 * 1024)
#define DEFAULT_MAX_BODY_SIZE	(4ULL * 1024 * 1024 * 1024)
#define DEFAULT_MAX_CONNECTIONS	256
#define DEFAULT_HEADER_TIMEOUT	10
#define DEFAULT_IDLE_TIMEOUT	60
#define DEFAULT_BODY_TIMEOUT	30
#define DEFAULT_WINDOW_PAST	(30 * 86400)
#define DEFAULT_WINDOW_FUTURE	(10 * 60)

#define MIN_HEADER_SIZE		1024
#define MAX_HEADER_SIZE		(1024 * 1024)
#define MAX_CONNECTIONS		10000
#define MAX_LISTEN		8

struct listen_addr {
	char			*name;		/* as written */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 port;
	int			 fd;
};

struct receiver_conf {
	struct listen_addr	 listen[MAX_LISTEN];
	int			 nlisten;
	char			*storage_root;
	char			*user;
	char			*ca_file;
	char			*cert_file;
	char			*key_file;
	char			*tokens_file;

	size_t			 max_header_size;
	uint64_t		 max_body_size;
	int			 max_connections;
	time_t			 header_timeout;
	time_t			 idle_timeout;
	time_t			 body_timeout;
	time_t			 window_past;
	time_t			 window_future;
};

/* A host and its bearer token, from the tokens file. */
struct token {
	TAILQ_ENTRY(token)	 entry;
	char			 host[ID_MAXLEN + 1];
	unsigned char		 hash[32];	/* SHA-256 of the token */
};
TAILQ_HEAD(tokenlist, token);

/* Parent <-> server (their only channel). */
enum imsg_type {
	IMSG_NONE,
	IMSG_READY,		/* server -> parent: listening */
	IMSG_MAX_TYPE
};

/* Everything the parent hands the server across fork(). */
struct server_env {
	struct receiver_conf	*conf;
	struct tokenlist	*tokens;
	struct tls_config	*tls_config;
	int			 parent_fd;
	int			 debug;
};

/* parse.y */
#define CONF_CHECK_FILES	0x01	/* stat key, tokens, CA, certificate */
int		 parse_config(const char *, struct receiver_conf *, int);

/* config.c */
void		 config_init(struct receiver_conf *);
void		 config_free(struct receiver_conf *);
void		 config_print(FILE *, const struct receiver_conf *);
int		 config_listen_add(struct receiver_conf *, const char *, int,
		    char *, size_t);
void		 fmt_size(char *, size_t, uint64_t);
void		 fmt_duration(char *, size_t, time_t);

/* auth.c */
int		 tokens_load(const char *, struct tokenlist *);
void		 tokens_free(struct tokenlist *);
const struct token *tokens_find(const struct tokenlist *, const char *);
int		 token_matches(const struct token *, const char *, size_t);
struct tls;
int		 auth_identity(struct tls *, char ***, size_t *);
void		 auth_identity_free(char **, size_t);

/* store.c */
struct store_upload;
void		 store_init(int);
int		 store_cleanup_tmp(void);
int		 store_lookup(const char *, const char *, unsigned char *,
		    uint64_t *);
struct store_upload *store_begin(const char *, const char *);
int		 store_full(int);
int		 store_room(uint64_t, uint64_t *);
int		 store_write(struct store_upload *, const void *, size_t);
enum store_result {
	STORE_CREATED,
	STORE_DUPLICATE,
	STORE_CONFLICT,
	STORE_DIGEST_MISMATCH,
	STORE_NOT_ZSTD,
	STORE_FULL,		/* ENOSPC, EDQUOT */
	STORE_ERROR
};
enum store_result store_commit(struct store_upload *, const unsigned char *);
void		 store_abort(struct store_upload *);
const char	*store_tmpname(const struct store_upload *);

/* sandbox.c */
void		 sandbox_confine(const char *, int);

/* server.c */
void		 server_main(struct server_env *) __attribute__((noreturn));

#endif /* RECEIVER_H */
