/*
 * Logging for every process of the shipper and the receiver.
 *
 * Daemon mode writes to stderr with a "<N>" syslog priority prefix, which
 * journald turns into the line's priority (no socket needed, so sandboxed
 * children log the same way).  With -d the prefix is left out.  Every
 * daemon line starts with the process name ("packer: ...").  Tool mode
 * (-n, status, doctor) prints bare messages.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_mode {
	LOG_MODE_JOURNAL,	/* "<N>name: message" on stderr */
	LOG_MODE_STDERR,	/* "name: message" on stderr (-d) */
	LOG_MODE_TOOL		/* "message" on stderr */
};

void	 log_init(enum log_mode, int, const char *);
void	 log_procname(const char *);
void	 log_setverbose(int);
int	 log_getverbose(void);
void	 log_capture(char *, size_t);

void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Escape an untrusted string (file name, server reply) for a log line:
 * control characters, backslashes and non-ASCII bytes become C-style or
 * octal escapes.  The result lives in one of a few rotating static
 * buffers, so up to LOG_ESC_SLOTS calls may appear in one log statement;
 * a very long string is cut and ends in "...".
 */
#define LOG_ESC_SLOTS	4
const char	*log_esc(const char *);
const char	*log_escn(const void *, size_t);

#endif /* LOG_H */
