/*
 * The scanner's own declarations: the episode table, the tree walk that
 * feeds the packer, and the durable state changes of DESIGN §3.
 */
#ifndef SCANNER_H
#define SCANNER_H

#include <sys/tree.h>

#include <stdint.h>
#include <time.h>

#include "shipper.h"

/* Directories under the data root (DESIGN §3). */
#define DIR_EPISODES	"episodes"
#define DIR_SPOOL	"spool"
#define DIR_SHIPPED	"shipped"
#define DIR_QUARANTINE	"quarantine"

enum ep_state {
	EP_WAITING,		/* no marker yet, or not settled */
	EP_READY,		/* ready, not packed */
	EP_PACKING,
	EP_PACKED,		/* spool/<id>.tar.zst and its .sha256 exist */
	EP_UPLOADING,
	EP_RETIRING
};

struct episode {
	RB_ENTRY(episode)	 entry;
	char			 id[ID_MAXLEN + 1];
	enum ep_state		 state;
	time_t			 ready_time;	/* Episode-Time */
	uint64_t		 seen_pass;
	int			 watch;		/* inotify wd, -1: none */
	/* pack */
	int			 pack_attempts;
	time_t			 pack_retry_at;
	/* packed */
	uint64_t		 size;
	uint8_t			 digest[32];
	int			 tried_pack;	/* `once`: one try per run */
	int			 tried_upload;
};

RB_HEAD(episode_tree, episode);
int		 episode_cmp(struct episode *, struct episode *);
RB_PROTOTYPE(episode_tree, episode, entry, episode_cmp)

struct scanner {
	struct shipper_conf	*conf;
	int			 root_fd;	/* the data root */
	int			 episodes_fd;
	int			 spool_fd;
	int			 shipped_fd;
	int			 quarantine_fd;
	int			 inotify_fd;
	int			 once;
	uint64_t		 pass;
	struct episode_tree	 episodes;
	struct scan_report	 report;
	time_t			 quarantine_cleaned;	/* monotonic, -1: never */
	time_t			 shipped_cleaned;
	int			 low_space;	/* below min-free: no packing */
	/* quarantine/ counted again only when its mtime changes */
	struct timespec		 quarantine_mtime;
	uint32_t		 quarantine_count;
	int64_t			 quarantine_oldest;
};

/* queue.c */
void		 queue_init(struct scanner *);
void		 queue_pass(struct scanner *);
struct episode	*queue_find(struct scanner *, const char *);
struct episode	*queue_next(struct scanner *, enum ep_state);
void		 queue_remove(struct scanner *, struct episode *);
uint32_t	 queue_held(struct scanner *);

/* retention.c */
void		 retention_run(struct scanner *);
void		 retention_quarantine_stats(struct scanner *, uint32_t *,
		    int64_t *);

/* walk.c: one pack job at a time */
int		 walk_begin(struct scanner *, struct episode *, int *,
		    struct pack_begin *, char *, size_t);
int		 walk_send(struct scanner *, uint32_t,
		    int (*)(uint32_t, int, const void *, size_t));
void		 walk_end(void);
const char	*walk_id(void);

/* durable.c */
int		 durable_open_tree(struct scanner *);
void		 durable_recover(struct scanner *);
int		 durable_spool_tmp(struct scanner *, const char *);
int		 durable_packed(struct scanner *, struct episode *,
		    const struct pack_result *, char *, size_t);
void		 durable_unlink_spool(struct scanner *, const char *);
int		 durable_open_packed(struct scanner *, const char *);
int		 durable_retire(struct scanner *, struct episode *,
		    const struct retire *, char *, size_t);
int		 fsync_dir(int);

#endif /* SCANNER_H */
