/*
 * Confining the shipper's children, in OpenSSH's order: everything the
 * process needs is open already; chroot to an empty root-owned
 * directory; drop groups and ids for good and check the old uid cannot
 * come back; rlimits; no_new_privs; Landlock where the kernel has it
 * (best effort); the seccomp filter last.
 *
 * One policy per process (DESIGN §2):
 *   packer	reads the descriptors it is given, writes and fsyncs its
 *		output descriptor; no path, no socket, no exec, no fork;
 *		threads only when zstd workers are configured
 *   uploader	the same plus TCP sockets (AF_INET, AF_INET6) for libcurl
 *		and OpenSSL; the parent resolves the receiver's name, so no
 *		resolver thread and no /etc/hosts
 *   scanner	runs as the data owner, chrooted like the others; it
 *		opens the data root and its directories first (as the
 *		owner, sandbox_assume) and then works only through those
 *		descriptors: path calls only relative to a directory
 *		descriptor, and its working directory is the data root for
 *		inotify_add_watch(2), which has no descriptor form.  Those
 *		descriptors lie outside the chroot, so ".." from them
 *		leaves it: Landlock is what limits them to the data root
 *		(the chroot still makes every absolute path, an absolute
 *		symlink's target too, name the empty directory); no
 *		socket, exec or fork
 * Every filter kills the process on anything not listed, after checking
 * the architecture; the open and stat calls libc or a library may try
 * fail with EACCES instead; clone3 fails with ENOSYS where threads are
 * allowed, so glibc falls back to clone, whose flags are checked; mmap
 * and mprotect never get PROT_EXEC.
 *
 * The sanitizer build (ASan, UBSan) allows by default and kills or
 * refuses the same dangerous calls (exec, ptrace, id changes, chroot,
 * mounts, sockets where none are allowed, PROT_EXEC) and refuses forks
 * with EPERM, so a sanitizer report still completes.  LeakSanitizer
 * needs ptrace(2), a forked tracer and /proc, which the sandbox takes
 * away on purpose: it is turned off in a sandboxed process (it keeps
 * checking the parent, the receiver, the tools and the unit tests).
 * The default build never relaxes anything.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

/*
 * Valgrind cannot run a filtered process: 3.19 has no seccomp(2) or
 * Landlock calls, and a filter would judge valgrind's own calls too.
 * RUNNING_ON_VALGRIND is an instruction sequence that does nothing on a
 * real CPU: nothing outside valgrind can turn the filters off.
 */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND	0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_RELAXED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_RELAXED	1
#endif
#endif

/* Landlock, declared here: Debian 12's headers stop at ABI 2. */
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION	(1U << 0)
#endif
#define LL_FS_WRITE_FILE	(1ULL << 1)
#define LL_FS_READ_FILE		(1ULL << 2)
#define LL_FS_READ_DIR		(1ULL << 3)
#define LL_FS_REMOVE_DIR	(1ULL << 4)
#define LL_FS_REMOVE_FILE	(1ULL << 5)
#define LL_FS_MAKE_DIR		(1ULL << 7)
#define LL_FS_MAKE_REG		(1ULL << 8)
#define LL_FS_REFER		(1ULL << 13)
#define LL_FS_TRUNCATE		(1ULL << 14)
#define LL_FS_IOCTL_DEV		(1ULL << 15)
#define LL_NET_BIND_TCP		(1ULL << 0)
#define LL_NET_CONNECT_TCP	(1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX	(1ULL << 0)
#define LL_SCOPE_SIGNAL		(1ULL << 1)
#define LL_RULE_PATH_BENEATH	1
#define LL_RULE_NET_PORT	2

struct ll_ruleset_attr {
	uint64_t	 handled_access_fs;
	uint64_t	 handled_access_net;	/* ABI 4 */
	uint64_t	 scoped;		/* ABI 6 */
};

struct ll_path_beneath {
	uint64_t	 allowed_access;
	int32_t		 parent_fd;
} __attribute__((packed));

struct ll_net_port {
	uint64_t	 allowed_access;
	uint64_t	 port;
};

/* A directory descriptor: fds are small and positive, AT_FDCWD is not. */
#define FD_MAX_ARG	0x7fffffffULL

static const char *const policy_names[SANDBOX_POLICY_MAX] = {
	"scanner", "packer", "uploader"
};

static struct {
	int		 have;		/* an account to switch to */
	int		 dropped;
	int		 assumed;	/* effective ids only, for now */
	gid_t		 root_egid;
	uid_t		 uid;
	gid_t		 gid;
	char		 name[64];
} sb_acct;

static volatile sig_atomic_t	 sandboxed;
static uint32_t			 def_action;	/* the filter's default */
static enum sandbox_policy	 cur_policy;

/* Everywhere: descriptors, memory, sd-event, clocks, signals, exit. */
static const int base_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(lseek),
	SCMP_SYS(dup), SCMP_SYS(fcntl), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2),
	SCMP_SYS(epoll_ctl), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigpending),
	SCMP_SYS(signalfd4), SCMP_SYS(signalfd),
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(futex), SCMP_SYS(getrandom), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(getrlimit), SCMP_SYS(uname),
};

/* Calls libc or a library may try that must fail, not kill. */
static const int eacces_calls[] = {
	SCMP_SYS(open), SCMP_SYS(creat), SCMP_SYS(stat), SCMP_SYS(lstat),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(readlink), SCMP_SYS(statfs),
};

/* The same, where no path may be opened at all: packer, uploader. */
static const int eacces_nopath_calls[] = {
	SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(readlinkat),
};

static const int packer_calls[] = {
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(sync_file_range),
};

static const int uploader_calls[] = {
	SCMP_SYS(connect), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(shutdown),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(pipe2),
	SCMP_SYS(eventfd2),
};

/* Path calls here are checked for a directory descriptor (below). */
static const int scanner_calls[] = {
	SCMP_SYS(getdents64), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
	SCMP_SYS(fstatfs), SCMP_SYS(ftruncate), SCMP_SYS(fchmod),
	SCMP_SYS(inotify_add_watch), SCMP_SYS(inotify_rm_watch),
};

/* First argument a directory descriptor, never AT_FDCWD. */
static const int scanner_dirfd_calls[] = {
	SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(newfstatat),
	SCMP_SYS(statx), SCMP_SYS(unlinkat), SCMP_SYS(mkdirat),
	SCMP_SYS(readlinkat), SCMP_SYS(fchmodat), SCMP_SYS(utimensat),
};

/* The sanitizer build's filter allows by default: these it kills. */
static const int relaxed_killed[] = {
	SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
	SCMP_SYS(setuid), SCMP_SYS(setgid), SCMP_SYS(setreuid),
	SCMP_SYS(setregid), SCMP_SYS(setresuid), SCMP_SYS(setresgid),
	SCMP_SYS(setgroups), SCMP_SYS(setfsuid), SCMP_SYS(setfsgid),
	SCMP_SYS(chroot), SCMP_SYS(pivot_root), SCMP_SYS(mount),
	SCMP_SYS(umount2), SCMP_SYS(unshare), SCMP_SYS(setns),
	SCMP_SYS(kexec_load), SCMP_SYS(init_module),
	SCMP_SYS(finit_module), SCMP_SYS(delete_module), SCMP_SYS(bpf),
	SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept),
	SCMP_SYS(accept4),
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

const char *
sandbox_policy_name(enum sandbox_policy p)
{
	return (p < SANDBOX_POLICY_MAX ? policy_names[p] : "?");
}

int
sandbox_on_valgrind(void)
{
	return (RUNNING_ON_VALGRIND ? 1 : 0);
}

int
sandbox_relaxed(void)
{
#ifdef SANDBOX_RELAXED
	return (1);
#else
	return (0);
#endif
}

#ifdef SANDBOX_RELAXED
int	 __lsan_is_turned_off(void);

/* LeakSanitizer's hook: it cannot work in the sandbox (see above). */
int
__lsan_is_turned_off(void)
{
	return (sandboxed);
}
#endif

void
sandbox_account(const char *user)
{
	struct passwd	*pw;

	if (user == NULL || geteuid() != 0)
		return;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("account %s does not exist: create it (systemd-sysusers"
		    " installs it) or name another in the configuration",
		    log_esc(user));
	if (pw->pw_uid == 0)
		fatalx("account %s is root: privilege separation needs an "
		    "unprivileged account", log_esc(user));
	sb_acct.uid = pw->pw_uid;
	sb_acct.gid = pw->pw_gid;
	strlcpy(sb_acct.name, user, sizeof(sb_acct.name));
	sb_acct.have = 1;
}

void
sandbox_assume(void)
{
	if (!sb_acct.have || sb_acct.dropped || sb_acct.assumed)
		return;
	sb_acct.root_egid = getegid();
	/* The groups stay the account's: sandbox_drop() sets them again. */
	if (setgroups(1, &sb_acct.gid) == -1)
		fatal("setgroups");
	if (setresgid(-1, sb_acct.gid, -1) == -1)
		fatal("setresgid %u", (unsigned)sb_acct.gid);
	if (setresuid(-1, sb_acct.uid, -1) == -1)
		fatal("setresuid %u", (unsigned)sb_acct.uid);
	sb_acct.assumed = 1;
}

void
sandbox_restore(void)
{
	if (!sb_acct.assumed)
		return;
	if (setresuid(-1, 0, -1) == -1)
		fatal("setresuid 0");
	if (setresgid(-1, sb_acct.root_egid, -1) == -1)
		fatal("setresgid %u", (unsigned)sb_acct.root_egid);
	sb_acct.assumed = 0;
}

static void
sandbox_drop(void)
{
	uid_t	 ruid, euid, suid;
	gid_t	 rgid, egid, sgid;

	if (!sb_acct.have || sb_acct.dropped)
		return;
	if (setgroups(1, &sb_acct.gid) == -1)
		fatal("setgroups");
	if (setresgid(sb_acct.gid, sb_acct.gid, sb_acct.gid) == -1)
		fatal("setresgid %u", (unsigned)sb_acct.gid);
	if (setresuid(sb_acct.uid, sb_acct.uid, sb_acct.uid) == -1)
		fatal("setresuid %u", (unsigned)sb_acct.uid);

	/* As OpenSSH does: make sure the old identity cannot come back. */
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		fatal("getresuid");
	if (ruid != sb_acct.uid || euid != sb_acct.uid || suid != sb_acct.uid ||
	    rgid != sb_acct.gid || egid != sb_acct.gid || sgid != sb_acct.gid)
		fatalx("privileges not fully dropped to %s",
		    log_esc(sb_acct.name));
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1)
		fatalx("could regain root after dropping to %s",
		    log_esc(sb_acct.name));
	sb_acct.dropped = 1;
}

void
sandbox_empty_dir(const char *path)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	char		 parent[256];
	char		*slash;
	int		 fd;

	if (strlcpy(parent, path, sizeof(parent)) >= sizeof(parent))
		fatalx("%s: path too long", path);
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0755) == -1 && errno != EEXIST)
			fatal("cannot create %s", parent);
	}
	/* Two children may race here; either mkdir does. */
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		fatal("cannot create the empty directory %s", path);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		fatal("empty directory %s", path);
	if (fstat(fd, &st) == -1)
		fatal("empty directory %s", path);
	if (st.st_uid != 0 || (st.st_mode & 022) != 0)
		fatalx("%s must be owned by root and writable by root only "
		    "(it is uid %u, mode %03o): the sandbox chroots there; "
		    "fix it with: chown root:root %s && chmod 0755 %s", path,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), path,
		    path);
	if ((d = fdopendir(fd)) == NULL)
		fatal("empty directory %s", path);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		fatalx("%s must be empty, it holds %s: the sandbox chroots "
		    "there; remove what is in it", path,
		    log_esc(de->d_name));
	}
	closedir(d);
}

static void
set_limit(int resource, rlim_t n, const char *what)
{
	struct rlimit	 rl;

	rl.rlim_cur = rl.rlim_max = n;
	if (setrlimit(resource, &rl) == 0)
		return;
	/*
	 * Only a filter around us can refuse to lower a limit (systemd's
	 * SystemCallFilter=~@resources does): the seccomp filter below
	 * still applies, so go on, loudly.
	 */
	if (errno == EPERM)
		log_warnx("setrlimit %s refused (a system call filter around "
		    "the daemon? allow setrlimit and prlimit64): going on "
		    "without that limit", what);
	else
		fatal("setrlimit %s", what);
}

static void
sandbox_rlimits(enum sandbox_policy p, const struct sandbox_opts *o)
{
	struct stat	 st;
	struct rlimit	 rl;
	rlim_t		 nofile;

	set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE");
	/* Threads count as processes. */
	if (!o->threads)
		set_limit(RLIMIT_NPROC, 0, "RLIMIT_NPROC");
	switch (p) {
	case SANDBOX_SCANNER:
		nofile = 512;	/* a directory per level of a walk */
		break;
	case SANDBOX_PACKER:
		nofile = 128;	/* PACK_WINDOW member files in flight */
		break;
	default:
		nofile = 64;
		break;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < nofile)
		nofile = rl.rlim_max;
	set_limit(RLIMIT_NOFILE, nofile, "RLIMIT_NOFILE");
	/*
	 * The uploader writes no file; its log goes to stderr, which is
	 * a file only when someone redirected it (tests, -d).
	 */
	if (p == SANDBOX_UPLOADER && fstat(STDERR_FILENO, &st) == 0 &&
	    !S_ISREG(st.st_mode))
		set_limit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE");
}

int
sandbox_landlock_abi(void)
{
	long	 abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	return (abi < 0 ? 0 : (int)abi);
}

/* Best effort: an older kernel gets what it offers, or nothing. */
static int
sandbox_landlock(enum sandbox_policy p, const struct sandbox_opts *o)
{
	struct ll_ruleset_attr	 attr;
	struct ll_path_beneath	 pb;
	struct ll_net_port	 np;
	size_t			 size;
	int			 abi, fd;

	if ((abi = sandbox_landlock_abi()) < 1)
		return (0);
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = (1ULL << 13) - 1;
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	size = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	/* The uploader connects to the receiver's port (0: any port). */
	if (p == SANDBOX_UPLOADER && o->tcp_port == 0)
		attr.handled_access_net &= ~LL_NET_CONNECT_TCP;
	if ((fd = syscall(SYS_landlock_create_ruleset, &attr, size, 0)) == -1) {
		log_warn("Landlock ABI %d: cannot create a ruleset, going on "
		    "without", abi);
		return (0);
	}
	if (p == SANDBOX_SCANNER) {
		memset(&pb, 0, sizeof(pb));
		pb.allowed_access = (LL_FS_READ_FILE | LL_FS_READ_DIR |
		    LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE |
		    LL_FS_MAKE_DIR | LL_FS_MAKE_REG | LL_FS_REFER |
		    LL_FS_TRUNCATE) & attr.handled_access_fs;
		pb.parent_fd = o->data_fd;
		if (o->data_fd < 0 || syscall(SYS_landlock_add_rule, fd,
		    LL_RULE_PATH_BENEATH, &pb, 0) == -1) {
			log_warn("Landlock: cannot allow the data root, going "
			    "on without");
			close(fd);
			return (0);
		}
	}
	if (p == SANDBOX_UPLOADER && (attr.handled_access_net &
	    LL_NET_CONNECT_TCP)) {
		memset(&np, 0, sizeof(np));
		np.allowed_access = LL_NET_CONNECT_TCP;
		np.port = (uint64_t)o->tcp_port;
		if (syscall(SYS_landlock_add_rule, fd, LL_RULE_NET_PORT,
		    &np, 0) == -1)
			fatal("Landlock: allowing port %d", o->tcp_port);
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1)
		fatal("Landlock: restrict_self");
	close(fd);
	return (abi);
}

static void
rule(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned int n,
    const struct scmp_arg_cmp *cmp)
{
	int	 r;

	/*
	 * A call this architecture does not have needs no rule, nor does
	 * one that would do what the default does (libseccomp refuses it).
	 */
	if (nr < 0 || action == def_action)
		return;
	if ((r = seccomp_rule_add_array(ctx, action, nr, n, cmp)) < 0) {
		char	*name = seccomp_syscall_resolve_num_arch(
		    SCMP_ARCH_NATIVE, nr);

		fatalx("seccomp rule for %s: %s", name ? name : "?",
		    strerror(-r));
	}
}

static void
rules(scmp_filter_ctx ctx, uint32_t action, const int *nrs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		rule(ctx, action, nrs[i], 0, NULL);
}

/* NR allowed with a directory descriptor in ARG, EACCES with AT_FDCWD. */
static void
rule_dirfd(scmp_filter_ctx ctx, int nr, unsigned int arg)
{
	struct scmp_arg_cmp	 c;

	c = SCMP_CMP(arg, SCMP_CMP_LE, FD_MAX_ARG);
	rule(ctx, SCMP_ACT_ALLOW, nr, 1, &c);
	c = SCMP_CMP(arg, SCMP_CMP_GT, FD_MAX_ARG);
	rule(ctx, SCMP_ACT_ERRNO(EACCES), nr, 1, &c);
}

static void
sigsys_report(int sig, siginfo_t *si, void *uc)
{
	char		 buf[256];
	char		*name;
	int		 n;

	(void)sig;
	(void)uc;
	/* Not async-signal-safe, but this is the end, in a debug run. */
	name = seccomp_syscall_resolve_num_arch(si->si_arch, si->si_syscall);
	n = snprintf(buf, sizeof(buf), "%s: sandbox: forbidden system call "
	    "%s (%d), killed\n", policy_names[cur_policy],
	    name != NULL ? name : "?", si->si_syscall);
	if (n > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)n < sizeof(buf) ?
		    (size_t)n : sizeof(buf) - 1);
	_exit(128 + SIGSYS);
}

static void
sandbox_seccomp(enum sandbox_policy p, const struct sandbox_opts *o)
{
	struct scmp_arg_cmp	 c[2];
	struct sigaction	 sa;
	scmp_filter_ctx		 ctx;
	uint32_t		 deny;
	uint64_t		 thread;
	int			 r, relaxed = sandbox_relaxed();
	int			 debug = o->debug;
	size_t			 i;

#ifdef SANDBOX_DEBUG
	/* The build flag: make CPPFLAGS=-DSANDBOX_DEBUG. */
	debug = 1;
#endif
	deny = debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS;
	if (debug) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sigsys_report;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) == -1)
			fatal("sigaction SIGSYS");
	}
	/* The architecture is checked first: another one is killed. */
	def_action = relaxed ? SCMP_ACT_ALLOW : deny;
	if ((ctx = seccomp_init(def_action)) == NULL)
		fatalx("seccomp_init");
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny) < 0)
		fatalx("seccomp: bad-arch action");

	if (relaxed) {
		rules(ctx, deny, relaxed_killed, NELEM(relaxed_killed));
		/* Forks fail, so a sanitizer's symbolizer does, quietly. */
		rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(fork), 0, NULL);
		rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(vfork), 0, NULL);
		if (p != SANDBOX_UPLOADER) {
			rule(ctx, deny, SCMP_SYS(socket), 0, NULL);
			rule(ctx, deny, SCMP_SYS(connect), 0, NULL);
		} else {
			c[0] = SCMP_CMP(0, SCMP_CMP_GT, AF_INET6);
			rule(ctx, deny, SCMP_SYS(socket), 1, c);
			for (i = 0; i < AF_INET6; i++) {
				if (i == AF_INET)
					continue;
				c[0] = SCMP_CMP(0, SCMP_CMP_EQ, i);
				rule(ctx, deny, SCMP_SYS(socket), 1, c);
			}
		}
	} else {
		rules(ctx, SCMP_ACT_ALLOW, base_calls, NELEM(base_calls));
		c[0] = SCMP_CMP(0, SCMP_CMP_EQ, 0);
		c[1] = SCMP_CMP(2, SCMP_CMP_EQ, 0);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2, c);
		/* abort() and raise() signal this process only. */
		c[0] = SCMP_CMP(0, SCMP_CMP_EQ, (uint64_t)getpid());
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, c);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, c);
		rule(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0, NULL);
		rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(prctl), 0, NULL);
		c[0] = SCMP_CMP(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, c);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, c);
	}
	/* Both builds: never executable memory, no path outside. */
	c[0] = SCMP_CMP(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC);
	rule(ctx, deny, SCMP_SYS(mmap), 1, c);
	rule(ctx, deny, SCMP_SYS(mprotect), 1, c);
	rules(ctx, SCMP_ACT_ERRNO(EACCES), eacces_calls, NELEM(eacces_calls));

	switch (p) {
	case SANDBOX_SCANNER:
		if (!relaxed)
			rules(ctx, SCMP_ACT_ALLOW, scanner_calls,
			    NELEM(scanner_calls));
		for (i = 0; i < NELEM(scanner_dirfd_calls); i++)
			rule_dirfd(ctx, scanner_dirfd_calls[i], 0);
		/* renameat2 and linkat: both directory descriptors. */
		c[0] = SCMP_CMP(0, SCMP_CMP_LE, FD_MAX_ARG);
		c[1] = SCMP_CMP(2, SCMP_CMP_LE, FD_MAX_ARG);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(renameat), 2, c);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(renameat2), 2, c);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(linkat), 2, c);
		c[0] = SCMP_CMP(0, SCMP_CMP_GT, FD_MAX_ARG);
		rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(renameat), 1, c);
		rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(renameat2), 1, c);
		rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(linkat), 1, c);
		c[0] = SCMP_CMP(0, SCMP_CMP_LE, FD_MAX_ARG);
		c[1] = SCMP_CMP(2, SCMP_CMP_GT, FD_MAX_ARG);
		rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(renameat), 2, c);
		rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(renameat2), 2, c);
		rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(linkat), 2, c);
		break;
	case SANDBOX_PACKER:
	case SANDBOX_UPLOADER:
		rules(ctx, SCMP_ACT_ERRNO(EACCES), eacces_nopath_calls,
		    NELEM(eacces_nopath_calls));
		/* fstat() is fstatat(fd, "", AT_EMPTY_PATH): no path. */
		c[0] = SCMP_CMP(3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
		    AT_EMPTY_PATH);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1, c);
		c[0] = SCMP_CMP(3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0);
		rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(newfstatat), 1, c);
		c[0] = SCMP_CMP(2, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
		    AT_EMPTY_PATH);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(statx), 1, c);
		c[0] = SCMP_CMP(2, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0);
		rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(statx), 1, c);
		if (p == SANDBOX_PACKER) {
			if (!relaxed)
				rules(ctx, SCMP_ACT_ALLOW, packer_calls,
				    NELEM(packer_calls));
			break;
		}
		if (relaxed)
			break;
		rules(ctx, SCMP_ACT_ALLOW, uploader_calls,
		    NELEM(uploader_calls));
		c[0] = SCMP_CMP(0, SCMP_CMP_EQ, AF_INET);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, c);
		c[0] = SCMP_CMP(0, SCMP_CMP_EQ, AF_INET6);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, c);
		/* libcurl's wakeup pair: unconnected, nothing to reach. */
		c[0] = SCMP_CMP(0, SCMP_CMP_EQ, AF_UNIX);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1, c);
		break;
	default:
		fatalx("sandbox: no policy %d", p);
	}

	/*
	 * Threads: glibc tries clone3 first and falls back to clone on
	 * ENOSYS; clone's flags can be checked, clone3's (in memory)
	 * cannot.  A clone without CLONE_THREAD is a fork: killed.
	 */
	thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
	    CLONE_THREAD;
	rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL);
	if (o->threads) {
		c[0] = SCMP_CMP(0, SCMP_CMP_MASKED_EQ, thread, thread);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, c);
		if (!relaxed) {
			rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(set_robust_list),
			    0, NULL);
			rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rseq), 0, NULL);
		}
		c[0] = SCMP_CMP(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
		rule(ctx, relaxed ? SCMP_ACT_ERRNO(EPERM) : deny,
		    SCMP_SYS(clone), 1, c);
	} else if (relaxed)
		rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 0, NULL);

	if ((r = seccomp_load(ctx)) < 0)
		fatalx("seccomp_load: %s", strerror(-r));
	seccomp_release(ctx);
}

void
sandbox_enter(enum sandbox_policy p, const struct sandbox_opts *o)
{
	int	 abi;

	if (p >= SANDBOX_POLICY_MAX)
		fatalx("sandbox: no policy %d", p);
	cur_policy = p;
	/* Root again for the chroot; the ids are dropped for good below. */
	sandbox_restore();
	if (sb_acct.have && !sb_acct.dropped && geteuid() == 0) {
		if (o->chroot != NULL) {
			sandbox_empty_dir(o->chroot);
			if (chroot(o->chroot) == -1 || chdir("/") == -1)
				fatal("chroot %s", o->chroot);
		}
		sandbox_drop();
	}
	/*
	 * The scanner's one path call without a descriptor form,
	 * inotify_add_watch(2), names its directories relative to the
	 * data root.  That is outside the chroot, as its descriptors
	 * are: opening, creating, renaming or removing is Landlock's to
	 * allow, beneath the data root only; the filter still refuses
	 * AT_FDCWD to every other path call.  What Landlock does not
	 * cover, stat(2) and inotify watches (metadata, no contents),
	 * reaches outside through ".." as it did without the chroot.
	 */
	if (p == SANDBOX_SCANNER && o->data_fd != -1 &&
	    fchdir(o->data_fd) == -1)
		fatal("fchdir to the data root");
	sandbox_rlimits(p, o);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
	if (sandbox_on_valgrind()) {
		log_warnx("sandbox: running on valgrind: no Landlock, no "
		    "seccomp");
		abi = 0;
	} else {
		abi = sandbox_landlock(p, o);
		sandbox_seccomp(p, o);
	}
	sandboxed = 1;
	log_debug("sandbox: %s policy%s, %s, Landlock %s%d, seccomp%s%s",
	    policy_names[p], o->threads ? " with threads" : "",
	    sb_acct.dropped ? (o->chroot != NULL ? "chroot, account switched" :
	    "account switched") : "no chroot or account switch (not root)",
	    abi > 0 ? "ABI " : "none ", abi,
	    sandbox_relaxed() ? " (relaxed: sanitizer build)" : "",
	    o->debug ? " (debug: SIGSYS reports)" : "");
}
