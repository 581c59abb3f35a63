/*
 * sandbox: each child's policy, applied for real in a forked process,
 * which then tries what the policy forbids, one thing per process: open
 * a file by path, make a socket, exec, fork, ptrace, setuid(0), map or
 * protect memory executable, connect (packer), leave the data root by
 * an absolute path, by ".." or by a watch on an absolute path
 * (scanner).  Each must fail or end the process with SIGSYS; not one
 * may succeed.  What the policy must allow (the result pipe, threads
 * when configured, TCP sockets for the uploader, files in the data root
 * and an inotify watch relative to it for the scanner) is tried too,
 * so a policy cannot pass by being dead.
 *
 * As root the whole sandbox is applied (chroot for every policy, the
 * test accounts daemon and nobody, as the integration tests use);
 * otherwise what needs no root (rlimits, no_new_privs, Landlock,
 * seccomp).
 */
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "sandbox.h"
#include "unit.h"

/* How a forked attempt ends when it did not die of SIGSYS. */
#define R_DENIED	10	/* the call failed */
#define R_DONE		20	/* the call succeeded */
#define R_SETUP		30	/* the test itself failed before it */

enum attempt {
	A_OPEN,			/* open("/etc/passwd") */
	A_SOCKET,		/* socket(AF_INET), uploader: AF_UNIX */
	A_NETLINK,		/* socket(AF_NETLINK) */
	A_EXEC,
	A_FORK,
	A_PTRACE,
	A_SETUID,
	A_MMAP_EXEC,
	A_MPROTECT_EXEC,
	A_CONNECT,		/* a TCP socket made before the sandbox */
	A_ESCAPE,		/* openat(data root, "/etc/passwd") */
	A_DOTDOT,		/* openat(data root, "../../etc/passwd") */
	A_WATCH_OUT,		/* inotify_add_watch("/etc"): chroot */
	A_THREAD,		/* pthread_create */
	/* must work */
	A_WRITE,		/* the result pipe */
	A_INET,			/* uploader: socket(AF_INET) */
	A_DATA,			/* scanner: create, rename, unlink in root */
	A_WATCH,		/* scanner: inotify_add_watch, relative */
	A_MAX
};

static const char *const attempt_names[A_MAX] = {
	"open /etc/passwd", "socket", "socket AF_NETLINK", "execve", "fork",
	"ptrace", "setuid(0)", "mmap PROT_EXEC", "mprotect PROT_EXEC",
	"connect", "openat outside the data root", "openat ../ out of the "
	"data root", "inotify watch on /etc", "pthread_create",
	"write", "socket AF_INET", "files in the data root",
	"inotify watch in the data root"
};

/* A directory in the data root, for the scanner's relative watch. */
#define WATCHED		"cis490-watched"

static char		 data_root[64], watched[96];
static struct sockaddr_in listen_addr;
static int		 listen_fd = -1;

static void *
thread_main(void *arg)
{
	return (arg);
}

static int
try(enum attempt a, int datafd, int tcpfd, int ifd)
{
	void		*p;
	pid_t		 pid;
	pthread_t	 t;
	char		*argv[] = { "true", NULL };
	int		 fd;

	switch (a) {
	case A_OPEN:
		return (open("/etc/passwd", O_RDONLY));
	case A_SOCKET:
		return (socket(AF_UNIX, SOCK_STREAM, 0) == -1 ? -1 :
		    socket(AF_INET, SOCK_DGRAM, 0));
	case A_NETLINK:
		return (socket(AF_NETLINK, SOCK_RAW, 0));
	case A_EXEC:
		execve("/bin/true", argv, NULL);
		return (-1);
	case A_FORK:
		if ((pid = fork()) == 0)
			_exit(0);
		return (pid == -1 ? -1 : 0);
	case A_PTRACE:
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0)
			return (0);
		return ((int)ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
	case A_SETUID:
		return (setuid(0));
	case A_MMAP_EXEC:
		p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return (p == MAP_FAILED ? -1 : 0);
	case A_MPROTECT_EXEC:
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(R_SETUP);
		return (mprotect(p, 4096, PROT_READ | PROT_EXEC));
	case A_CONNECT:
		return (connect(tcpfd, (struct sockaddr *)&listen_addr,
		    sizeof(listen_addr)));
	case A_ESCAPE:
		return (openat(datafd, "/etc/passwd", O_RDONLY));
	case A_DOTDOT:
		/* The data root is outside the chroot: only Landlock stops. */
		return (openat(datafd, "../../../../../../etc/passwd",
		    O_RDONLY));
	case A_WATCH_OUT:
		return (inotify_add_watch(ifd, "/etc", IN_CREATE));
	case A_THREAD:
		if ((errno = pthread_create(&t, NULL, thread_main, NULL)) != 0)
			return (-1);
		return (pthread_join(t, NULL) == 0 ? 0 : -1);
	case A_WRITE:
		return (write(STDERR_FILENO, "", 0) == 0 ? 0 : -1);
	case A_INET:
		return (socket(AF_INET, SOCK_STREAM, 0) == -1 ||
		    socket(AF_INET6, SOCK_STREAM, 0) == -1 ? -1 : 0);
	case A_DATA:
		if ((fd = openat(datafd, "f.tmp", O_WRONLY | O_CREAT |
		    O_TRUNC, 0640)) == -1 || write(fd, "x", 1) != 1 ||
		    fsync(fd) == -1 || close(fd) == -1 ||
		    renameat(datafd, "f.tmp", datafd, "f") == -1 ||
		    unlinkat(datafd, "f", 0) == -1)
			return (-1);
		return (0);
	case A_WATCH:
		/* Relative: the scanner's working directory is the root. */
		return (inotify_add_watch(ifd, WATCHED, IN_CREATE |
		    IN_ONLYDIR));
	default:
		_exit(R_SETUP);
	}
}

/* One attempt in a fresh process: R_DENIED, R_DONE, or -SIGNAL. */
static int
attempt(enum sandbox_policy p, int threads, enum attempt a)
{
	struct sandbox_opts	 so;
	pid_t			 pid;
	int			 status, datafd = -1, tcpfd = -1, ifd;

	if ((pid = fork()) == -1)
		ck_abort_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		sandbox_account(p == SANDBOX_SCANNER ? "daemon" : "nobody");
		/* As the scanner does: open the data root as its owner. */
		if (p == SANDBOX_SCANNER) {
			sandbox_assume();
			if ((datafd = open(data_root, O_RDONLY |
			    O_DIRECTORY)) == -1)
				_exit(R_SETUP);
		}
		if ((tcpfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    (ifd = inotify_init1(IN_CLOEXEC)) == -1)
			_exit(R_SETUP);
		memset(&so, 0, sizeof(so));
		so.chroot = SANDBOX_EMPTY_DIR;
		so.data_fd = datafd;
		so.threads = threads;
		sandbox_enter(p, &so);
		_exit(try(a, datafd, tcpfd, ifd) == -1 ? R_DENIED : R_DONE);
	}
	if (waitpid(pid, &status, 0) == -1)
		ck_abort_msg("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		return (-WTERMSIG(status));
	return (WEXITSTATUS(status));
}

static void
check_policy(enum sandbox_policy p, int threads)
{
	char		 fails[2048];
	enum attempt	 a;
	int		 r, must_work, skip;

	fails[0] = '\0';
	for (a = 0; a < A_MAX; a++) {
		must_work = a == A_WRITE ||
		    (a == A_THREAD && threads) ||
		    (a == A_INET && p == SANDBOX_UPLOADER) ||
		    ((a == A_DATA || a == A_WATCH) && p == SANDBOX_SCANNER);
		/*
		 * Leaving the data root: an absolute path meets the chroot
		 * (root only) or Landlock, ".." Landlock alone.
		 */
		skip = (a == A_INET && p != SANDBOX_UPLOADER) ||
		    ((a == A_DATA || a == A_ESCAPE || a == A_DOTDOT) &&
		    p != SANDBOX_SCANNER) ||
		    (a == A_ESCAPE && sandbox_landlock_abi() == 0 &&
		    geteuid() != 0) ||
		    (a == A_DOTDOT && sandbox_landlock_abi() == 0) ||
		    (a == A_WATCH_OUT && p == SANDBOX_SCANNER &&
		    geteuid() != 0) ||
		    (a == A_CONNECT && p == SANDBOX_UPLOADER);
		if (skip)
			continue;
		r = attempt(p, threads, a);
		if (must_work ? r == R_DONE :
		    (r == R_DENIED || r == -SIGSYS))
			continue;
		snprintf(fails + strlen(fails), sizeof(fails) - strlen(fails),
		    "\n  %s%s: %s %d", attempt_names[a],
		    must_work ? " (must work)" : "",
		    r < 0 ? "signal" : "status", r < 0 ? -r : r);
	}
	ck_assert_msg(fails[0] == '\0', "%s policy%s:%s",
	    sandbox_policy_name(p), threads ? " with threads" : "", fails);
}

static void
setup(void)
{
	struct passwd	*pw;
	socklen_t	 len = sizeof(listen_addr);

	strlcpy(data_root, "/tmp/cis490-sandbox.XXXXXX", sizeof(data_root));
	ck_assert_ptr_nonnull(mkdtemp(data_root));
	snprintf(watched, sizeof(watched), "%s/%s", data_root, WATCHED);
	ck_assert_int_eq(mkdir(watched, 0700), 0);
	if (geteuid() == 0) {
		pw = getpwnam("daemon");
		ck_assert_ptr_nonnull(pw);
		ck_assert_int_eq(chown(data_root, pw->pw_uid, pw->pw_gid), 0);
		ck_assert_int_eq(chown(watched, pw->pw_uid, pw->pw_gid), 0);
	}
	/* Something to connect to: only the filter may stop the connect. */
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(listen_fd, -1);
	memset(&listen_addr, 0, sizeof(listen_addr));
	listen_addr.sin_family = AF_INET;
	listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&listen_addr,
	    sizeof(listen_addr)), 0);
	ck_assert_int_eq(listen(listen_fd, 16), 0);
	ck_assert_int_eq(getsockname(listen_fd,
	    (struct sockaddr *)&listen_addr, &len), 0);
}

static void
teardown(void)
{
	close(listen_fd);
	rmdir(watched);
	rmdir(data_root);
}

START_TEST(packer_policy)
{
	check_policy(SANDBOX_PACKER, 0);
}
END_TEST

START_TEST(packer_threads_policy)
{
	check_policy(SANDBOX_PACKER, 1);
}
END_TEST

START_TEST(uploader_policy)
{
	check_policy(SANDBOX_UPLOADER, 0);
}
END_TEST

START_TEST(scanner_policy)
{
	check_policy(SANDBOX_SCANNER, 0);
}
END_TEST

/* Run FN in a child with stderr in BUF; its wait status. */
static int
captured(void (*fn)(void), char *buf, size_t len)
{
	pid_t	 pid;
	ssize_t	 n;
	size_t	 got = 0;
	int	 fds[2], status;

	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		fn();
		_exit(R_DONE);
	}
	close(fds[1]);
	while (got < len - 1 && (n = read(fds[0], buf + got,
	    len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return (status);
}

static void
debug_exec(void)
{
	struct sandbox_opts	 so;
	char			*argv[] = { "true", NULL };

	memset(&so, 0, sizeof(so));
	so.chroot = SANDBOX_EMPTY_DIR;
	so.data_fd = -1;
	so.debug = 1;
	sandbox_account("nobody");
	sandbox_enter(SANDBOX_PACKER, &so);
	execve("/bin/true", argv, NULL);
}

/* The debug switch names the call instead of dying silently. */
START_TEST(debug_reports_syscall)
{
	char	 buf[1024];
	int	 st;

	st = captured(debug_exec, buf, sizeof(buf));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGSYS,
	    "status %#x, stderr: %s", st, buf);
	ck_assert_msg(strstr(buf, "forbidden system call execve") != NULL,
	    "stderr: %s", buf);
}
END_TEST

static void
empty_dir_check(void)
{
	sandbox_empty_dir(data_root);
}

/* The chroot directory must be root's and empty, or nothing starts. */
START_TEST(empty_dir_refused)
{
	struct passwd	*pw;
	char		 buf[1024], f[128];
	int		 st, fd;

	/* The test directory is not root's (daemon's, or ours). */
	ck_assert_int_eq(rmdir(watched), 0);
	st = captured(empty_dir_check, buf, sizeof(buf));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
	    strstr(buf, "must be owned by root") != NULL,
	    "status %#x, stderr: %s", st, buf);
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(chown(data_root, 0, 0), 0);
	ck_assert_int_eq(chmod(data_root, 0755), 0);
	snprintf(f, sizeof(f), "%s/stray", data_root);
	ck_assert_int_ne(fd = open(f, O_WRONLY | O_CREAT, 0600), -1);
	close(fd);
	st = captured(empty_dir_check, buf, sizeof(buf));
	unlink(f);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
	    strstr(buf, "must be empty, it holds stray") != NULL,
	    "status %#x, stderr: %s", st, buf);
	st = captured(empty_dir_check, buf, sizeof(buf));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == R_DONE,
	    "root's and empty, refused: status %#x, stderr: %s", st, buf);
	pw = getpwnam("daemon");
	ck_assert_int_eq(chown(data_root, pw->pw_uid, pw->pw_gid), 0);
}
END_TEST

/*
 * The scanner opens the data root as its owner: until the sandbox, the
 * effective ids are the account's and root's permissions are gone (a
 * root-only file cannot be opened), and then root is back for the
 * chroot.
 */
START_TEST(assume_and_restore)
{
	struct passwd	*pw;
	pid_t		 pid;
	int		 st;

	if (geteuid() != 0)
		return;
	ck_assert_ptr_nonnull(pw = getpwnam("daemon"));
	if ((pid = fork()) == 0) {
		sandbox_account("daemon");
		sandbox_assume();
		if (geteuid() != pw->pw_uid || getegid() != pw->pw_gid ||
		    getuid() != 0)
			_exit(1);
		if (open("/etc/shadow", O_RDONLY) != -1 || errno != EACCES)
			_exit(2);
		sandbox_restore();
		if (geteuid() != 0 || open("/etc/shadow", O_RDONLY) == -1)
			_exit(3);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "status %#x (1: ids, 2: root's file opened, 3: not root again)",
	    st);
}
END_TEST

Suite *
sandbox_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("sandbox");
	tc = tcase_create("policies");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, packer_policy);
	tcase_add_test(tc, packer_threads_policy);
	tcase_add_test(tc, uploader_policy);
	tcase_add_test(tc, scanner_policy);
	tcase_add_test(tc, debug_reports_syscall);
	tcase_add_test(tc, empty_dir_refused);
	tcase_add_test(tc, assume_and_restore);
	suite_add_tcase(s, tc);
	return (s);
}
