/*
 * The shipper children's sandbox (DESIGN §2, STYLE: OpenSSH notes):
 * one policy per process, applied once, after the process has opened
 * everything it will ever need.
 */
#ifndef COMMON_SANDBOX_H
#define COMMON_SANDBOX_H

/* The empty, root-owned directory every child chroots to. */
#define SANDBOX_EMPTY_DIR	"/var/empty/cis490-shipper"

enum sandbox_policy {
	SANDBOX_SCANNER,	/* data owner, works in the data root by fd */
	SANDBOX_PACKER,		/* descriptors only: read, write, fsync */
	SANDBOX_UPLOADER,	/* descriptors and TCP sockets */
	SANDBOX_POLICY_MAX
};

struct sandbox_opts {
	const char	*chroot;	/* when root; NULL: no chroot */
	int		 data_fd;	/* scanner: the data root (cwd), or -1 */
	int		 threads;	/* worker threads may be started */
	int		 tcp_port;	/* uploader, Landlock: 0 any */
	int		 debug;		/* SIGSYS reporter instead of a kill */
};

/*
 * The account to become (when root); read now, while /etc is there.
 * NULL or not root: no account switch.
 */
void	 sandbox_account(const char *);
/*
 * Act as that account (effective ids only) while opening what the
 * sandbox will need, so the account's permissions apply (the scanner
 * and the data root); sandbox_restore() is root again, for the chroot.
 */
void	 sandbox_assume(void);
void	 sandbox_restore(void);
/* Create SANDBOX_EMPTY_DIR if missing; fatal unless root-owned, empty. */
void	 sandbox_empty_dir(const char *);
/* Confine the calling process for good; fatal on any failure. */
void	 sandbox_enter(enum sandbox_policy, const struct sandbox_opts *);
/* The Landlock ABI the kernel offers, 0: none. */
int	 sandbox_landlock_abi(void);
/* Whether this build relaxes the filter for the sanitizers. */
int	 sandbox_relaxed(void);
/* Whether this process runs on valgrind, which cannot run a filter. */
int	 sandbox_on_valgrind(void);
const char *sandbox_policy_name(enum sandbox_policy);

#endif /* COMMON_SANDBOX_H */
