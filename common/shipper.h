/*
 * cis490-shipper: paths, account names, the configuration, the imsg types
 * and the structs that cross process boundaries, and prototypes grouped by
 * file.  One header for the whole shipper, as ntpd.h is for ntpd.
 */
#ifndef SHIPPER_H
#define SHIPPER_H

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <systemd/sd-event.h>

#define SHIPPER_NAME		"cis490-shipper"
#define SHIPPER_CONF		"/etc/cis490-shipper/shipper.conf"
#define SHIPPER_DATA_ROOT	"/var/lib/cis490-shipper"
#define SHIPPER_USER		"cis490"
#define SHIPPER_SANDBOX_USER	"_cis490"

/* Episode and host ids: [A-Za-z0-9][A-Za-z0-9._-]{0,127} (DESIGN §3). */
#define ID_MAXLEN		128

/* Version of the parent <-> child protocol; children check it on hello. */
#define SHIPPER_PROTO_VERSION	1

struct shipper_conf {
	char		*host;		/* our identity at the receiver */
	char		*data_root;
	char		*user;		/* owner of the data tree: scanner */
	char		*sandbox_user;	/* packer and uploader */

	char		*receiver_url;	/* https://name[:port] */
	char		*ca_file;
	char		*cert_file;
	char		*key_file;
	char		*token_file;

	char		*ready_marker;	/* NULL when settle_time is used */
	time_t		 settle_time;	/* seconds; 0: use ready_marker */
	time_t		 scan_interval;
	time_t		 stall_timeout;

	int		 compression_level;
	int		 compression_threads;	/* 0: no zstd workers */

	uint64_t	 upload_max_rate;	/* bytes/s; 0: unlimited */
	time_t		 backoff_base;
	time_t		 backoff_cap;
	int		 pack_retries;

	int		 quarantine_keep_days;	/* 0: keep forever */
	time_t		 quarantine_cleanup_interval;
	int		 shipped_keep_days;	/* 0: keep forever */
	time_t		 shipped_cleanup_interval;

	uint64_t	 min_free_space;	/* bytes */
	uint64_t	 min_free_inodes;
};

/* Defaults (DESIGN §3, §4, §6, §7, §9). */
#define DEFAULT_READY_MARKER		"DONE"
#define DEFAULT_SCAN_INTERVAL		5
#define DEFAULT_STALL_TIMEOUT		120
#define DEFAULT_COMPRESSION_LEVEL	3
#define DEFAULT_COMPRESSION_THREADS	0
#define DEFAULT_BACKOFF_BASE		5
#define DEFAULT_BACKOFF_CAP		600
#define DEFAULT_PACK_RETRIES		5
#define DEFAULT_QUARANTINE_KEEP_DAYS	30
#define DEFAULT_CLEANUP_INTERVAL	3600
#define DEFAULT_SHIPPED_KEEP_DAYS	7
#define DEFAULT_MIN_FREE_SPACE		(256ULL * 1024 * 1024)
#define DEFAULT_MIN_FREE_INODES		1024

enum imsg_type {
	IMSG_NONE,
	IMSG_HELLO,		/* parent -> child, child -> parent */
	IMSG_MAX_TYPE
};

struct imsg_hello {
	uint32_t	 version;	/* SHIPPER_PROTO_VERSION */
	uint32_t	 proc;		/* enum shipper_proc */
};

enum shipper_proc {
	PROC_PARENT,
	PROC_SCANNER,
	PROC_PACKER,
	PROC_UPLOADER,
	PROC_MAX
};

/* parse.y */
#define CONF_CHECK_FILES	0x01	/* stat key, token, CA, certificate */
int		 parse_config(const char *, struct shipper_conf *, int);

/* config.c */
void		 config_init(struct shipper_conf *);
void		 config_free(struct shipper_conf *);
void		 config_print(FILE *, const struct shipper_conf *);

/* shipper.c */
const char	*proc_name(enum shipper_proc);

/* parent.c */
int		 parent_main(const char *, struct shipper_conf *, int, int);

/* child.c: what every child does at start and on hello */
struct imsgev;
struct imsg;
sd_event	*child_start(enum shipper_proc, const char *, struct imsgev *,
		    void (*)(struct imsgev *, struct imsg *));
int		 child_hello(struct imsgev *, struct imsg *, enum shipper_proc);
void		 child_run(sd_event *) __attribute__((noreturn));

/* scanner.c, packer.c, uploader.c */
void		 scanner_main(struct shipper_conf *) __attribute__((noreturn));
void		 packer_main(struct shipper_conf *) __attribute__((noreturn));
void		 uploader_main(struct shipper_conf *) __attribute__((noreturn));

#endif /* SHIPPER_H */
