/*
 * Confining the server, in OpenSSH's order: chroot to the storage root,
 * drop to the storage owner for good, rlimits, no_new_privs, then a
 * seccomp filter that allows what libtls/OpenSSL, sd-event and file I/O
 * in the storage root need and kills the process on anything else (no
 * exec, no new processes, no new sockets).
 *
 * A sanitizer build must let LeakSanitizer check the server at exit, or
 * per-connection leaks go unseen: it reads /proc/self/task (hidden by
 * the chroot), starts a tracer with clone(2) and ptrace(2)s the process.
 * So that build alone skips the chroot and RLIMIT_NPROC and its filter
 * allows by default; it still drops the account for good, sets
 * no_new_privs and kills exec, fork, new sockets and any change of ids.
 * The default build relaxes nothing, but under valgrind, which cannot
 * run a filtered process: there the filter is left out (said in the
 * log), chroot and account switch stay.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "receiver.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_RELAXED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_RELAXED	1
#endif
#endif

static const int allowed[] = {
	/* memory */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(mprotect), SCMP_SYS(madvise),
	/* files in the storage root, through directory descriptors */
	SCMP_SYS(openat), SCMP_SYS(close), SCMP_SYS(read), SCMP_SYS(write),
	SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
	SCMP_SYS(pwrite64), SCMP_SYS(lseek), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(getdents64),
	SCMP_SYS(linkat), SCMP_SYS(unlinkat), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(mkdirat), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(sync_file_range), SCMP_SYS(fcntl),
	SCMP_SYS(dup), SCMP_SYS(fstatfs),
	/* network: the sockets exist already, none are made */
	SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(shutdown),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername),
	/* sd-event */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday), SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),
	/* process */
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(getrandom), SCMP_SYS(futex),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(sched_yield), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
	SCMP_SYS(uname),
};

/* Never, in any build (ptrace is LeakSanitizer's, see above). */
static const int killed[] = {
	SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(fork),
	SCMP_SYS(vfork), SCMP_SYS(socket),
	SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(chroot),
	SCMP_SYS(setuid), SCMP_SYS(setresuid), SCMP_SYS(setgid),
	SCMP_SYS(setresgid),
};

static void
sandbox_seccomp(void)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;
	int		 r;

#ifdef SANDBOX_RELAXED
	(void)allowed;
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		fatalx("seccomp_init");
	for (i = 0; i < sizeof(killed) / sizeof(killed[0]); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS,
		    killed[i], 0)) < 0)
			fatalx("seccomp rule %d: %s", killed[i], strerror(-r));
#else
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("seccomp_init");
	(void)killed;
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i],
		    0)) < 0)
			fatalx("seccomp rule %d: %s", allowed[i],
			    strerror(-r));
#endif
	/* The filter checks the architecture first (libseccomp does). */
	if ((r = seccomp_load(ctx)) < 0)
		fatalx("seccomp_load: %s", strerror(-r));
	seccomp_release(ctx);
}

void
sandbox_confine(const char *user, int rootfd)
{
	struct passwd	*pw;
	struct stat	 st;
	struct rlimit	 rl;
	uid_t		 uid, ruid, euid, suid;
	gid_t		 gid, rgid, egid, sgid;

	if (geteuid() == 0) {
		if ((pw = getpwnam(user)) == NULL)
			fatalx("user %s: no such account; create it (see "
			    "cis490-receiver(8)) or name another",
			    log_esc(user));
		if (pw->pw_uid == 0)
			fatalx("user %s is root; name an unprivileged account",
			    log_esc(user));
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		if (fstat(rootfd, &st) == -1)
			fatal("storage-root");
		if (st.st_uid != uid)
			fatalx("the storage root is owned by uid %u, not by "
			    "user %s: chown %s it", (unsigned)st.st_uid,
			    log_esc(user), log_esc(user));
		/* Passwd is read: the chroot has no /etc. */
#ifndef SANDBOX_RELAXED
		if (fchdir(rootfd) == -1 || chroot(".") == -1 ||
		    chdir("/") == -1)
			fatal("chroot to the storage root");
#else
		if (fchdir(rootfd) == -1)
			fatal("storage-root");
		log_info("sanitizer build: no chroot, so LeakSanitizer can "
		    "check the server");
#endif
		if (setgroups(1, &gid) == -1 ||
		    setresgid(gid, gid, gid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			fatal("dropping privileges to %s", log_esc(user));
		if (getresuid(&ruid, &euid, &suid) == -1 ||
		    getresgid(&rgid, &egid, &sgid) == -1)
			fatal("getresuid");
		if (ruid != uid || euid != uid || suid != uid ||
		    rgid != gid || egid != gid || sgid != gid)
			fatalx("privileges not fully dropped to %s",
			    log_esc(user));
		if (setuid(0) != -1 || seteuid(0) != -1)
			fatalx("could regain root after dropping to %s",
			    log_esc(user));
	} else
		log_info("not started as root: serving as uid %ld without "
		    "chroot or account switch", (long)geteuid());

	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit");
#ifndef SANDBOX_RELAXED
	/* LeakSanitizer needs a tracer at exit; the filter stops forks. */
	if (setrlimit(RLIMIT_NPROC, &rl) == -1)
		fatal("setrlimit");
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
	/* Nothing outside valgrind (no environment, no option) says yes. */
	if (sandbox_on_valgrind()) {
		log_warnx("running on valgrind: no seccomp filter");
		return;
	}
	sandbox_seccomp();
}
