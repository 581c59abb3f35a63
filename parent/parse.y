/*
 * The cis490-shipper.conf(5) parser: a yacc grammar of flat one-line
 * statements and a hand-written lexer, in the manner of OpenBSD ntpd's
 * parse.y.  Every value is checked here, so the rest of the daemon can
 * trust struct shipper_conf.  Problems are reported as "file:line:
 * message" and parsing goes on, so an operator sees all of them at once.
 */

%{
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "shipper.h"
#include "util.h"

/* Larger files are a mistake (a wrong -f), not a configuration. */
#define CONF_MAXSIZE	(1024 * 1024)
#define WORD_MAX	8192		/* longest word or quoted string */
#define TOKEN_MAX	4096		/* longest bearer token */
#define USER_MAX	31		/* as systemd's strict user names */
#define DURATION_MAX	(3650LL * 86400)	/* 3650d */
#define SIZE_MAX_BYTES	(1024ULL << 40)		/* 1024T */

enum setting {
	S_HOST,
	S_DATA_ROOT,
	S_USER,
	S_SANDBOX_USER,
	S_URL,
	S_CA,
	S_CERT,
	S_KEY,
	S_TOKEN,
	S_READY_MARKER,
	S_SETTLE_TIME,
	S_SCAN_INTERVAL,
	S_STALL_TIMEOUT,
	S_LEVEL,
	S_THREADS,
	S_MAX_RATE,
	S_BACKOFF_BASE,
	S_BACKOFF_CAP,
	S_PACK_RETRIES,
	S_Q_KEEP_DAYS,
	S_Q_CLEANUP,
	S_S_KEEP_DAYS,
	S_S_CLEANUP,
	S_MIN_SPACE,
	S_MIN_INODES,
	S_MAX
};

static int	 yylex(void);
static void	 yyerror(const char *);

static void	 str_setting(enum setting, const char *,
		    int (*)(enum setting, const char *), char **);
static void	 dur_setting(enum setting, const char *, time_t *);
static void	 size_setting(enum setting, const char *, uint64_t *);
static void	 int_setting(enum setting, const char *, long long,
		    long long, int *);
static void	 u64_setting(enum setting, const char *, long long,
		    long long, uint64_t *);
static void	 url_setting(const char *);
static int	 check_id(enum setting, const char *);
static int	 check_path(enum setting, const char *);
static int	 check_user(enum setting, const char *);
static int	 check_marker(enum setting, const char *);
%}

%union {
	char	*string;
}

%token	HOST DATAROOT USER SANDBOXUSER
%token	RECEIVER URL CA CERTIFICATE KEY TOKENFILE
%token	READYMARKER SETTLETIME SCANINTERVAL STALLTIMEOUT
%token	COMPRESSION LEVEL THREADS UPLOAD MAXRATE
%token	BACKOFF BASE CAP PACKRETRIES
%token	QUARANTINE SHIPPED KEEPDAYS CLEANUPINTERVAL
%token	MINFREE SPACE INODES
%token	ERROR
%token	<string>	STRING NUMBER
%type	<string>	value

%%

grammar		: /* empty */
		| grammar '\n'
		| grammar stmt '\n'
		| grammar error '\n'		{ yyerrok; }
		;

/* A digit-only word is a NUMBER; every setting checks its own text. */
value		: STRING
		| NUMBER
		;

stmt		: HOST value {
			str_setting(S_HOST, $2, check_id, &cf->host);
		}
		| DATAROOT value {
			str_setting(S_DATA_ROOT, $2, check_path,
			    &cf->data_root);
		}
		| USER value {
			str_setting(S_USER, $2, check_user, &cf->user);
		}
		| SANDBOXUSER value {
			str_setting(S_SANDBOX_USER, $2, check_user,
			    &cf->sandbox_user);
		}
		| RECEIVER URL value {
			url_setting($3);
		}
		| RECEIVER CA value {
			str_setting(S_CA, $3, check_path, &cf->ca_file);
		}
		| RECEIVER CERTIFICATE value {
			str_setting(S_CERT, $3, check_path, &cf->cert_file);
		}
		| RECEIVER KEY value {
			str_setting(S_KEY, $3, check_path, &cf->key_file);
		}
		| RECEIVER TOKENFILE value {
			str_setting(S_TOKEN, $3, check_path, &cf->token_file);
		}
		| READYMARKER value {
			str_setting(S_READY_MARKER, $2, check_marker,
			    &cf->ready_marker);
		}
		| SETTLETIME value {
			dur_setting(S_SETTLE_TIME, $2, &cf->settle_time);
		}
		| SCANINTERVAL value {
			dur_setting(S_SCAN_INTERVAL, $2, &cf->scan_interval);
		}
		| STALLTIMEOUT value {
			dur_setting(S_STALL_TIMEOUT, $2, &cf->stall_timeout);
		}
		| COMPRESSION LEVEL value {
			int_setting(S_LEVEL, $3, 1, 19,
			    &cf->compression_level);
		}
		| COMPRESSION THREADS value {
			int_setting(S_THREADS, $3, 0, 64,
			    &cf->compression_threads);
		}
		| UPLOAD MAXRATE value {
			size_setting(S_MAX_RATE, $3, &cf->upload_max_rate);
		}
		| BACKOFF BASE value {
			dur_setting(S_BACKOFF_BASE, $3, &cf->backoff_base);
		}
		| BACKOFF CAP value {
			dur_setting(S_BACKOFF_CAP, $3, &cf->backoff_cap);
		}
		| PACKRETRIES value {
			int_setting(S_PACK_RETRIES, $2, 1, 1000,
			    &cf->pack_retries);
		}
		| QUARANTINE KEEPDAYS value {
			int_setting(S_Q_KEEP_DAYS, $3, 0, 36500,
			    &cf->quarantine_keep_days);
		}
		| QUARANTINE CLEANUPINTERVAL value {
			dur_setting(S_Q_CLEANUP, $3,
			    &cf->quarantine_cleanup_interval);
		}
		| SHIPPED KEEPDAYS value {
			int_setting(S_S_KEEP_DAYS, $3, 0, 36500,
			    &cf->shipped_keep_days);
		}
		| SHIPPED CLEANUPINTERVAL value {
			dur_setting(S_S_CLEANUP, $3,
			    &cf->shipped_cleanup_interval);
		}
		| MINFREE SPACE value {
			size_setting(S_MIN_SPACE, $3, &cf->min_free_space);
		}
		| MINFREE INODES value {
			u64_setting(S_MIN_INODES, $3, 0, LLONG_MAX,
			    &cf->min_free_inodes);
		}
		;

%%

struct keyword {
	const char	*name;
	int		 token;
};

/* Sorted by name: looked up with bsearch. */
static const struct keyword keywords[] = {
	{ "backoff",		BACKOFF },
	{ "base",		BASE },
	{ "ca",			CA },
	{ "cap",		CAP },
	{ "certificate",	CERTIFICATE },
	{ "cleanup-interval",	CLEANUPINTERVAL },
	{ "compression",	COMPRESSION },
	{ "data-root",		DATAROOT },
	{ "host",		HOST },
	{ "inodes",		INODES },
	{ "keep-days",		KEEPDAYS },
	{ "key",		KEY },
	{ "level",		LEVEL },
	{ "max-rate",		MAXRATE },
	{ "min-free",		MINFREE },
	{ "pack-retries",	PACKRETRIES },
	{ "quarantine",		QUARANTINE },
	{ "ready-marker",	READYMARKER },
	{ "receiver",		RECEIVER },
	{ "sandbox-user",	SANDBOXUSER },
	{ "scan-interval",	SCANINTERVAL },
	{ "settle-time",	SETTLETIME },
	{ "shipped",		SHIPPED },
	{ "space",		SPACE },
	{ "stall-timeout",	STALLTIMEOUT },
	{ "threads",		THREADS },
	{ "token-file",		TOKENFILE },
	{ "upload",		UPLOAD },
	{ "url",		URL },
	{ "user",		USER },
};

/*
 * What each statement looks like, for messages: its keywords, its name
 * as the operator writes it, its argument and an example value.
 */
static const struct setting_info {
	int		 tok0, tok1;
	const char	*name;
	const char	*arg;
	const char	*example;
} settings[S_MAX] = {
	[S_HOST] = { HOST, 0, "host", "ID", "lab-01" },
	[S_DATA_ROOT] = { DATAROOT, 0, "data-root", "PATH",
	    SHIPPER_DATA_ROOT },
	[S_USER] = { USER, 0, "user", "NAME", SHIPPER_USER },
	[S_SANDBOX_USER] = { SANDBOXUSER, 0, "sandbox-user", "NAME",
	    SHIPPER_SANDBOX_USER },
	[S_URL] = { RECEIVER, URL, "receiver url", "https://HOST[:PORT]",
	    "https://receiver.example.org" },
	[S_CA] = { RECEIVER, CA, "receiver ca", "PATH",
	    "/etc/cis490-shipper/ca.pem" },
	[S_CERT] = { RECEIVER, CERTIFICATE, "receiver certificate", "PATH",
	    "/etc/cis490-shipper/host.crt" },
	[S_KEY] = { RECEIVER, KEY, "receiver key", "PATH",
	    "/etc/cis490-shipper/host.key" },
	[S_TOKEN] = { RECEIVER, TOKENFILE, "receiver token-file", "PATH",
	    "/etc/cis490-shipper/token" },
	[S_READY_MARKER] = { READYMARKER, 0, "ready-marker", "NAME",
	    DEFAULT_READY_MARKER },
	[S_SETTLE_TIME] = { SETTLETIME, 0, "settle-time", "DURATION",
	    "10m" },
	[S_SCAN_INTERVAL] = { SCANINTERVAL, 0, "scan-interval", "DURATION",
	    "5s" },
	[S_STALL_TIMEOUT] = { STALLTIMEOUT, 0, "stall-timeout", "DURATION",
	    "2m" },
	[S_LEVEL] = { COMPRESSION, LEVEL, "compression level", "1..19",
	    "3" },
	[S_THREADS] = { COMPRESSION, THREADS, "compression threads",
	    "0..64", "0" },
	[S_MAX_RATE] = { UPLOAD, MAXRATE, "upload max-rate", "SIZE", "10M" },
	[S_BACKOFF_BASE] = { BACKOFF, BASE, "backoff base", "DURATION",
	    "5s" },
	[S_BACKOFF_CAP] = { BACKOFF, CAP, "backoff cap", "DURATION", "10m" },
	[S_PACK_RETRIES] = { PACKRETRIES, 0, "pack-retries", "1..1000",
	    "5" },
	[S_Q_KEEP_DAYS] = { QUARANTINE, KEEPDAYS, "quarantine keep-days",
	    "0..36500", "30" },
	[S_Q_CLEANUP] = { QUARANTINE, CLEANUPINTERVAL,
	    "quarantine cleanup-interval", "DURATION", "1h" },
	[S_S_KEEP_DAYS] = { SHIPPED, KEEPDAYS, "shipped keep-days",
	    "0..36500", "7" },
	[S_S_CLEANUP] = { SHIPPED, CLEANUPINTERVAL,
	    "shipped cleanup-interval", "DURATION", "1h" },
	[S_MIN_SPACE] = { MINFREE, SPACE, "min-free space", "SIZE", "256M" },
	[S_MIN_INODES] = { MINFREE, INODES, "min-free inodes", "NUMBER",
	    "1024" },
};

/* Settings a file must give, in the order they are reported missing. */
static const enum setting required[] = {
	S_HOST, S_URL, S_CA, S_CERT, S_KEY, S_TOKEN
};

/*
 * The lexer allocates every word here and parse_config() frees them all
 * at the end: yacc drops tokens during error recovery without telling
 * anyone, so nothing else would free those.
 */
struct word {
	struct word	*next;
	char		 text[];
};

static struct {
	const char	*name;		/* as given, for messages */
	unsigned char	*buf;		/* the whole file */
	size_t		 len, pos;
	int		 lineno;	/* line of buf[pos] */
	int		 errors;
} file;

static struct {
	int		 last;		/* last token returned */
	int		 lastline;	/* its line */
	char		 text[80];	/* its text, for messages */
	int		 pos;		/* its place in the statement, from 1 */
	int		 stmtline;	/* line of the statement's first token */
	int		 tok[2];	/* the statement's first two tokens */
	int		 quiet;		/* the lexer already reported this error */
} lex;

static struct shipper_conf	*cf;
static struct word		*words;
static int			 seen[S_MAX];	/* line of each setting */
static int			 tried[S_MAX];	/* line of a broken one */

static void	 conf_error(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 lex_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static int	 lex_token(void);
static int	 lgetc(int);
static void	 lungetc(int);
static int	 in_word(int);
static char	*keep(const char *, size_t);
static int	 kw_cmp(const void *, const void *);
static const char *kw_name(int);
static const char *shown(const char *);
static enum setting stmt_setting(void);
static const char *follows(int, char *, size_t);
static const char *suggest(const char *);
static int	 claim(enum setting);
static int	 parse_duration(enum setting, const char *, time_t *);
static int	 parse_size(enum setting, const char *, uint64_t *);
static int	 parse_number(enum setting, const char *, long long,
		    long long, long long *);
static const char *fmt_duration(time_t, char *, size_t);
static int	 read_file(const char *);
static void	 check_final(int);
static void	 check_files(void);
static void	 check_readable(enum setting, const char *);
static void	 check_token(const char *);

static void
conf_error(int line, const char *fmt, ...)
{
	char	 msg[1536];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s:%d: %s", file.name, line, msg);
	file.errors++;
}

/*
 * A value as it appears in a message: bare when it is a plain word, as
 * the operator most likely wrote it, otherwise quoted; escaped either way.
 */
static const char *
shown(const char *s)
{
	static char	 slots[2][WORD_MAX / 2];
	static int	 next;
	const char	*p;
	char		*out;
	size_t		 n = 0;

	for (p = s; *p != '\0'; p++)
		if (!in_word((unsigned char)*p))
			break;
	if (*p == '\0' && p != s &&
	    bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp) == NULL)
		return (log_esc(s));
	out = slots[next];
	next = (next + 1) % 2;
	out[n++] = '"';
	for (p = log_esc(s); *p != '\0' && n < sizeof(slots[0]) - 3; p++) {
		if (*p == '"')
			out[n++] = '\\';
		out[n++] = *p;
	}
	out[n++] = '"';
	out[n] = '\0';
	return (out);
}

/* Lexer. */

static int
in_word(int c)
{
	return (c > ' ' && c != 0x7f && strchr("\"'#\\(){}!=,;", c) == NULL);
}

/*
 * Next character.  Outside quotes a backslash at the end of a line joins
 * it with the next one, as in sh(1).
 */
static int
lgetc(int quoted)
{
	while (!quoted && file.pos + 1 < file.len &&
	    file.buf[file.pos] == '\\' && file.buf[file.pos + 1] == '\n') {
		file.pos += 2;
		file.lineno++;
	}
	if (file.pos >= file.len)
		return (EOF);
	return (file.buf[file.pos++]);
}

static void
lungetc(int c)
{
	if (c != EOF)
		file.pos--;
}

static char *
keep(const char *s, size_t len)
{
	struct word	*w;

	if ((w = malloc(sizeof(*w) + len + 1)) == NULL)
		fatal("%s", __func__);
	memcpy(w->text, s, len);
	w->text[len] = '\0';
	w->next = words;
	words = w;
	return (w->text);
}

/*
 * Report a lexical error, skip the rest of the line and hand the parser
 * a token it cannot use: it recovers at the newline without a second
 * message.
 */
static int
lex_error(const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;
	int	 c;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_error(file.lineno, "%s", msg);
	while ((c = lgetc(0)) != '\n' && c != EOF)
		;
	lungetc(c);
	lex.quiet = 1;
	return (ERROR);
}

static int
kw_cmp(const void *k, const void *e)
{
	return (strcmp(k, ((const struct keyword *)e)->name));
}

static const char *
kw_name(int token)
{
	size_t	 i;

	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (keywords[i].token == token)
			return (keywords[i].name);
	return (NULL);
}

static int
lex_token(void)
{
	char			 buf[WORD_MAX];
	const struct keyword	*kw;
	size_t			 n = 0, i;
	int			 c, next, quotec;

	do {
		c = lgetc(0);
	} while (c == ' ' || c == '\t' || c == '\r');
	lex.lastline = file.lineno;

	if (c == '#') {
		/* A comment ends at the newline, backslash or not. */
		while ((c = lgetc(1)) != '\n' && c != EOF)
			;
	}
	if (c == EOF) {
		/* A last line without a newline still ends its statement. */
		if (lex.pos > 0 && lex.last != '\n') {
			strlcpy(lex.text, "end of line", sizeof(lex.text));
			return ('\n');
		}
		return (0);
	}
	if (c == '\n') {
		file.lineno++;
		strlcpy(lex.text, "end of line", sizeof(lex.text));
		return ('\n');
	}

	if (c == '"' || c == '\'') {
		quotec = c;
		for (;;) {
			c = lgetc(1);
			if (c == EOF || c == '\n') {
				lungetc(c);
				return (lex_error("unterminated quoted string; "
				    "add the closing %c", quotec));
			}
			if (c == '\\') {
				next = lgetc(1);
				if (next == EOF)
					return (lex_error("unterminated quoted "
					    "string; add the closing %c",
					    quotec));
				if (next == '\n') {
					file.lineno++;
					continue;
				}
				if (next != quotec && next != '\\') {
					lungetc(next);
					return (lex_error("unknown escape "
					    "\"\\%s\" in quoted string; only "
					    "\\%c and \\\\ are escapes",
					    log_escn(&(char){ next }, 1),
					    quotec));
				}
				c = next;
			} else if (c == quotec)
				break;
			else if (c < ' ' || c == 0x7f)
				return (lex_error("control character 0x%02x "
				    "in quoted string; remove it", c));
			if (n >= sizeof(buf) - 1)
				return (lex_error("quoted string longer than "
				    "%zu bytes", sizeof(buf) - 1));
			buf[n++] = c;
		}
		buf[n] = '\0';
		strlcpy(lex.text, buf, sizeof(lex.text));
		yylval.string = keep(buf, n);
		return (STRING);
	}

	if (in_word(c)) {
		do {
			if (n >= sizeof(buf) - 1)
				return (lex_error("word longer than %zu bytes",
				    sizeof(buf) - 1));
			buf[n++] = c;
		} while ((c = lgetc(0)) != EOF && in_word(c));
		lungetc(c);
		buf[n] = '\0';
		strlcpy(lex.text, buf, sizeof(lex.text));
		kw = bsearch(buf, keywords,
		    sizeof(keywords) / sizeof(keywords[0]),
		    sizeof(keywords[0]), kw_cmp);
		if (kw != NULL)
			return (kw->token);
		yylval.string = keep(buf, n);
		i = buf[0] == '-' ? 1 : 0;
		if (buf[i] == '\0')
			return (STRING);
		for (; buf[i] != '\0'; i++)
			if (buf[i] < '0' || buf[i] > '9')
				return (STRING);
		return (NUMBER);
	}

	if (c == '\\')
		return (lex_error("stray backslash; a line continuation must "
		    "be the last character of its line, and a value with a "
		    "backslash must be quoted (\"\\\\\")"));
	if (c < ' ' || c == 0x7f)
		return (lex_error("control character 0x%02x; remove it (is "
		    "this a text file?)", c));
	return (lex_error("unexpected \"%c\"; write each setting as "
	    "\"keyword value\", and quote values that contain any of "
	    "( ) { } ! = , ;", c));
}

/* Keeps track of where in its statement each token is, for messages. */
static int
yylex(void)
{
	int	 t;

	if (lex.last == '\n') {
		lex.pos = 0;
		lex.tok[0] = lex.tok[1] = 0;
	}
	t = lex_token();
	/* An error the lexer reported has been seen by the parser by now. */
	if (t == '\n')
		lex.quiet = 0;
	lex.last = t;
	if (t == 0)
		return (0);
	lex.pos++;
	if (lex.pos == 1)
		lex.stmtline = lex.lastline;
	if (lex.pos <= 2)
		lex.tok[lex.pos - 1] = t;
	return (t);
}

/* Messages for syntax errors. */

static enum setting
stmt_setting(void)
{
	int	 i;

	for (i = 0; i < S_MAX; i++) {
		if (settings[i].tok0 != lex.tok[0])
			continue;
		if (settings[i].tok1 == 0 || settings[i].tok1 == lex.tok[1])
			return (i);
	}
	return (S_MAX);
}

/*
 * The words that may follow a prefix keyword ("url, ca, ... or
 * token-file"), or, given a second keyword as -tok, the statements it
 * belongs to ("quarantine keep-days or shipped keep-days").
 */
static const char *
follows(int tok, char *buf, size_t len)
{
	int	 i, n = 0, total = 0;

	for (i = 0; i < S_MAX; i++)
		if (settings[i].tok1 != 0 && (settings[i].tok0 == tok ||
		    settings[i].tok1 == -tok))
			total++;
	buf[0] = '\0';
	for (i = 0; i < S_MAX; i++) {
		if (settings[i].tok1 == 0 || (settings[i].tok0 != tok &&
		    settings[i].tok1 != -tok))
			continue;
		if (n > 0)
			strlcat(buf, n + 1 == total ? " or " : ", ", len);
		strlcat(buf, tok > 0 ? kw_name(settings[i].tok1) :
		    settings[i].name, len);
		n++;
	}
	return (buf);
}

/* A statement keyword close to an unknown word, or NULL. */
static const char *
suggest(const char *word)
{
	static char	 name[64];
	char		 norm[64];
	const char	*k;
	size_t		 la, lb, i, j, d[64], prev, tmp;
	int		 s;

	if (strlen(word) >= sizeof(norm))
		return (NULL);
	/* "compression-level" or "compression_level". */
	for (i = 0; word[i] != '\0'; i++)
		norm[i] = word[i] == '_' || word[i] == '-' ? ' ' : word[i];
	norm[i] = '\0';
	for (s = 0; s < S_MAX; s++) {
		strlcpy(name, settings[s].name, sizeof(name));
		for (i = 0; name[i] != '\0'; i++)
			if (name[i] == '-')
				name[i] = ' ';
		if (strcasecmp(norm, name) == 0) {
			strlcpy(name, settings[s].name, sizeof(name));
			return (name);
		}
	}
	/* Typos: a Levenshtein distance of at most 2. */
	for (s = 0; s < S_MAX; s++) {
		k = kw_name(settings[s].tok0);
		la = strlen(word);
		lb = strlen(k);
		for (j = 0; j <= lb; j++)
			d[j] = j;
		for (i = 1; i <= la; i++) {
			prev = d[0];
			d[0] = i;
			for (j = 1; j <= lb; j++) {
				tmp = d[j];
				d[j] = prev + (word[i - 1] != k[j - 1]);
				if (d[j - 1] + 1 < d[j])
					d[j] = d[j - 1] + 1;
				if (tmp + 1 < d[j])
					d[j] = tmp + 1;
				prev = tmp;
			}
		}
		if (d[lb] <= 2 && d[lb] < lb) {
			strlcpy(name, k, sizeof(name));
			return (name);
		}
	}
	return (NULL);
}

static void
yyerror(const char *msg)
{
	char			 list[256];
	const char		*name, *hint;
	enum setting		 s;
	int			 line = lex.lastline;

	/* A statement that failed to parse is not also "missing". */
	if ((s = stmt_setting()) != S_MAX && tried[s] == 0)
		tried[s] = lex.stmtline;
	if (lex.quiet) {
		lex.quiet = 0;
		return;
	}
	if (strcmp(msg, "syntax error") != 0) {
		conf_error(line, "%s", msg);
		return;
	}

	if (lex.pos == 1) {
		if (lex.last == STRING || lex.last == NUMBER) {
			if ((hint = suggest(lex.text)) != NULL)
				conf_error(line, "unknown keyword \"%s\"; did "
				    "you mean \"%s\"?", log_esc(lex.text), hint);
			else
				conf_error(line, "unknown keyword \"%s\"; "
				    "cis490-shipper.conf(5) lists the "
				    "settings", log_esc(lex.text));
		} else if ((name = kw_name(lex.last)) != NULL &&
		    *follows(-lex.last, list, sizeof(list)) != '\0')
			conf_error(line, "\"%s\" cannot start a line; write "
			    "%s", name, list);
		else
			conf_error(line, "unexpected \"%s\"",
			    log_esc(lex.text));
		return;
	}
	if (s == S_MAX) {
		/* A prefix keyword without a setting name it knows. */
		name = kw_name(lex.tok[0]);
		follows(lex.tok[0], list, sizeof(list));
		if (lex.last == '\n')
			conf_error(line, "incomplete line; \"%s\" must be "
			    "followed by %s", name, list);
		else
			conf_error(line, "unknown %s setting \"%s\"; use %s",
			    name, log_esc(lex.text), list);
		return;
	}
	if (lex.last == '\n')
		conf_error(line, "%s needs a value; usage: %s %s",
		    settings[s].name, settings[s].name, settings[s].arg);
	else if (lex.last != STRING && lex.last != NUMBER && lex.pos ==
	    (settings[s].tok1 == 0 ? 2 : 3))
		conf_error(line, "unexpected keyword \"%s\"; quote it to use "
		    "it as a value: %s \"%s\"", lex.text, settings[s].name,
		    lex.text);
	else
		conf_error(line, "unexpected \"%s\" after the value; usage: "
		    "%s %s", log_esc(lex.text), settings[s].name,
		    settings[s].arg);
}

/* Settings. */

/* Returns -1 if the setting was given before. */
static int
claim(enum setting s)
{
	if (seen[s] != 0) {
		conf_error(lex.stmtline, "%s is already set on line %d; "
		    "remove one of the two lines", settings[s].name, seen[s]);
		return (-1);
	}
	seen[s] = lex.stmtline;
	return (0);
}

static void
str_setting(enum setting s, const char *v,
    int (*check)(enum setting, const char *), char **dst)
{
	char	*p;

	if (claim(s) == -1 || check(s, v) == -1)
		return;
	if ((p = strdup(v)) == NULL)
		fatal("%s", __func__);
	free(*dst);
	*dst = p;
}

static void
dur_setting(enum setting s, const char *v, time_t *dst)
{
	time_t	 t;

	if (claim(s) == 0 && parse_duration(s, v, &t) == 0)
		*dst = t;
}

static void
size_setting(enum setting s, const char *v, uint64_t *dst)
{
	uint64_t	 n;

	if (claim(s) == 0 && parse_size(s, v, &n) == 0)
		*dst = n;
}

static void
int_setting(enum setting s, const char *v, long long min, long long max,
    int *dst)
{
	long long	 n;

	if (claim(s) == 0 && parse_number(s, v, min, max, &n) == 0)
		*dst = n;
}

static void
u64_setting(enum setting s, const char *v, long long min, long long max,
    uint64_t *dst)
{
	long long	 n;

	if (claim(s) == 0 && parse_number(s, v, min, max, &n) == 0)
		*dst = n;
}

static int
check_id(enum setting s, const char *v)
{
	if (valid_id(v))
		return (0);
	conf_error(lex.stmtline, "%s %s is not a valid id; use 1 to %d "
	    "letters, digits, dots, underscores and dashes, starting with a "
	    "letter or digit", settings[s].name, shown(v), ID_MAXLEN);
	return (-1);
}

static int
check_path(enum setting s, const char *v)
{
	if (v[0] != '/') {
		conf_error(lex.stmtline, "%s %s is not an absolute path; "
		    "write the full path, e.g. %s %s", settings[s].name,
		    shown(v), settings[s].name, settings[s].example);
		return (-1);
	}
	if (strlen(v) >= PATH_MAX) {
		conf_error(lex.stmtline, "%s is longer than %d bytes",
		    settings[s].name, PATH_MAX - 1);
		return (-1);
	}
	if (s == S_DATA_ROOT && strspn(v, "/") == strlen(v)) {
		conf_error(lex.stmtline, "data-root must not be the root "
		    "directory; use a directory of its own, e.g. data-root %s",
		    settings[s].example);
		return (-1);
	}
	return (0);
}

/* systemd's strict rule for user names, which useradd also accepts. */
static int
check_user(enum setting s, const char *v)
{
	size_t	 len = strlen(v);

	if (len == 0 || len > USER_MAX || strchr("0123456789-", v[0]) ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len) {
		conf_error(lex.stmtline, "%s %s is not a valid user name; use "
		    "1 to %d letters, digits, underscores and dashes, not "
		    "starting with a digit or dash", settings[s].name,
		    shown(v), USER_MAX);
		return (-1);
	}
	if (strcmp(v, "root") == 0) {
		conf_error(lex.stmtline, "%s must not be root; name an "
		    "unprivileged account, e.g. %s %s", settings[s].name,
		    settings[s].name, settings[s].example);
		return (-1);
	}
	return (0);
}

static int
check_marker(enum setting s, const char *v)
{
	if (v[0] == '\0' || strchr(v, '/') != NULL || strcmp(v, ".") == 0 ||
	    strcmp(v, "..") == 0 || strlen(v) > NAME_MAX) {
		conf_error(lex.stmtline, "%s %s must be a plain file name "
		    "(no \"/\", not \".\" or \"..\"), e.g. %s %s",
		    settings[s].name, shown(v), settings[s].name,
		    settings[s].example);
		return (-1);
	}
	return (0);
}

/* DURATION: seconds, or a number with suffix s, m, h or d. */
static int
parse_duration(enum setting s, const char *v, time_t *out)
{
	const char		*p;
	unsigned long long	 n = 0, mult = 1;
	char			 max[32];

	for (p = v; *p >= '0' && *p <= '9'; p++) {
		if (n > (ULLONG_MAX - 9) / 10)
			n = ULLONG_MAX / 10;	/* saturate: too long anyway */
		else
			n = n * 10 + (*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		p = NULL;
		break;
	}
	if (p == v || p == NULL || (*p != '\0' && p[1] != '\0')) {
		conf_error(lex.stmtline, "%s %s is not a duration; use "
		    "seconds or a number with suffix s, m, h or d, e.g. 90s, "
		    "10m or 1h", settings[s].name, shown(v));
		return (-1);
	}
	if (n == 0) {
		conf_error(lex.stmtline, "%s %s is too short; use at least 1s",
		    settings[s].name, shown(v));
		return (-1);
	}
	if (n > (unsigned long long)DURATION_MAX / mult) {
		conf_error(lex.stmtline, "%s %s is too long; use at most %s",
		    settings[s].name, shown(v),
		    fmt_duration(DURATION_MAX, max, sizeof(max)));
		return (-1);
	}
	*out = n * mult;
	return (0);
}

/* SIZE: bytes, or a number with suffix K, M, G or T (powers of 1024). */
static int
parse_size(enum setting s, const char *v, uint64_t *out)
{
	const char		*p;
	unsigned long long	 n = 0;
	int			 shift = 0;

	for (p = v; *p >= '0' && *p <= '9'; p++) {
		if (n > (ULLONG_MAX - 9) / 10)
			n = ULLONG_MAX / 10;
		else
			n = n * 10 + (*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		p = NULL;
		break;
	}
	if (p == v || p == NULL || (*p != '\0' && p[1] != '\0')) {
		conf_error(lex.stmtline, "%s %s is not a size; use bytes or a "
		    "number with suffix K, M, G or T, e.g. 512K or 10M",
		    settings[s].name, shown(v));
		return (-1);
	}
	if (n > (SIZE_MAX_BYTES >> shift)) {
		conf_error(lex.stmtline, "%s %s is too large; use at most "
		    "1024T", settings[s].name, shown(v));
		return (-1);
	}
	*out = n << shift;
	return (0);
}

static int
parse_number(enum setting s, const char *v, long long min, long long max,
    long long *out)
{
	const char	*errstr;
	size_t		 i = v[0] == '-' ? 1 : 0;

	if (v[i] == '\0' || strspn(v + i, "0123456789") != strlen(v + i)) {
		conf_error(lex.stmtline, "%s %s is not a number; use %lld..%lld",
		    settings[s].name, shown(v), min, max);
		return (-1);
	}
	*out = strtonum(v, min, max, &errstr);
	if (errstr != NULL) {
		conf_error(lex.stmtline, "%s %s is out of range %lld..%lld",
		    settings[s].name, shown(v), min, max);
		return (-1);
	}
	return (0);
}

static const char *
fmt_duration(time_t t, char *buf, size_t len)
{
	if (t > 0 && t % 86400 == 0)
		snprintf(buf, len, "%lldd", (long long)t / 86400);
	else if (t > 0 && t % 3600 == 0)
		snprintf(buf, len, "%lldh", (long long)t / 3600);
	else if (t > 0 && t % 60 == 0)
		snprintf(buf, len, "%lldm", (long long)t / 60);
	else
		snprintf(buf, len, "%llds", (long long)t);
	return (buf);
}

/*
 * receiver url: https://HOST[:PORT] and nothing else, checked with
 * libcurl's own parser so that the uploader later sees the same URL.
 */
static void
url_setting(const char *v)
{
	const char	*name = settings[S_URL].name, *rest;
	CURLU		*u;
	CURLUcode	 rc;
	char		*host = NULL, *port = NULL, *part = NULL;
	char		 url[WORD_MAX + 32];
	size_t		 i;

	if (claim(S_URL) == -1)
		return;
	if ((rest = strstr(v, "://")) == NULL) {
		conf_error(lex.stmtline, "%s %s has no scheme; write "
		    "https://%s", name, shown(v), log_esc(v));
		return;
	}
	if ((size_t)(rest - v) != 5 || strncasecmp(v, "https", 5) != 0) {
		conf_error(lex.stmtline, "%s %s: the scheme must be https "
		    "(the receiver takes mutual TLS only); write https%s",
		    name, shown(v), log_esc(rest));
		return;
	}
	if (rest[3] == '/' || rest[3] == '\0') {
		conf_error(lex.stmtline, "%s %s has no host; write "
		    "https://HOST[:PORT]", name, shown(v));
		return;
	}
	if (strchr(v, '#') != NULL) {
		conf_error(lex.stmtline, "%s %s must not have a fragment "
		    "(#...); write https://HOST[:PORT]", name, shown(v));
		return;
	}

	if ((u = curl_url()) == NULL)
		fatalx("curl_url: out of memory");
	if ((rc = curl_url_set(u, CURLUPART_URL, v, 0)) != CURLUE_OK) {
		conf_error(lex.stmtline, "%s %s is not a valid URL (%s); "
		    "write https://HOST[:PORT]", name, shown(v),
		    curl_url_strerror(rc));
		goto done;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		conf_error(lex.stmtline, "%s %s has no host; write "
		    "https://HOST[:PORT]", name, shown(v));
		goto done;
	}
	rc = curl_url_get(u, CURLUPART_PORT, &port, 0);
	if (rc != CURLUE_OK && rc != CURLUE_NO_PORT)
		fatalx("curl_url_get port: %s", curl_url_strerror(rc));
	if (port != NULL && strcmp(port, "443") == 0) {
		/* The https default: normalised away. */
		curl_free(port);
		port = NULL;
	}
	snprintf(url, sizeof(url), "https://%s%s%s", host,
	    port != NULL ? ":" : "", port != NULL ? port : "");

	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
		/* Not echoed: it may hold a password. */
		conf_error(lex.stmtline, "%s must not contain a user name or "
		    "password (the shipper authenticates with its certificate "
		    "and token-file); write %s", name, log_esc(url));
		goto done;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK) {
		conf_error(lex.stmtline, "%s %s must not have a query (?...); "
		    "write %s", name, shown(v), log_esc(url));
		goto done;
	}
	if (curl_url_get(u, CURLUPART_PATH, &part, 0) != CURLUE_OK ||
	    strcmp(part, "/") != 0) {
		conf_error(lex.stmtline, "%s %s must not have a path (the "
		    "shipper adds /v1/... itself); write %s", name, shown(v),
		    log_esc(url));
		goto done;
	}
	curl_free(part);
	part = NULL;
	if (curl_url_get(u, CURLUPART_ZONEID, &part, 0) == CURLUE_OK) {
		conf_error(lex.stmtline, "%s %s: IPv6 zone ids are not "
		    "supported; use a host name or a global address", name,
		    shown(v));
		goto done;
	}
	if (port != NULL && strcmp(port, "0") == 0) {
		conf_error(lex.stmtline, "%s %s: port 0 is not a port; use "
		    "1..65535 or leave it out for 443", name, shown(v));
		goto done;
	}
	if (host[0] != '[') {
		/* Host names are case-insensitive: store them lowercase. */
		for (i = 0; host[i] != '\0'; i++)
			if (host[i] >= 'A' && host[i] <= 'Z')
				host[i] += 'a' - 'A';
		if (strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789.-_") !=
		    strlen(host) || host[0] == '.' || strstr(host, "..")) {
			conf_error(lex.stmtline, "%s %s: %s is not a valid "
			    "host name; use an IP address, or a DNS name in "
			    "ASCII (xn-- for international names)", name,
			    shown(v), shown(host));
			goto done;
		}
		snprintf(url, sizeof(url), "https://%s%s%s", host,
		    port != NULL ? ":" : "", port != NULL ? port : "");
	}
	free(cf->receiver_url);
	if ((cf->receiver_url = strdup(url)) == NULL)
		fatal("%s", __func__);
 done:
	curl_free(part);
	curl_free(port);
	curl_free(host);
	curl_url_cleanup(u);
}

/* Checks across settings, once the whole file is read. */
static void
check_final(int lastline)
{
	char		 b1[32], b2[32];
	const char	*a, *b;
	size_t		 i;
	enum setting	 s;

	if (seen[S_READY_MARKER] != 0 && seen[S_SETTLE_TIME] != 0) {
		a = seen[S_READY_MARKER] > seen[S_SETTLE_TIME] ?
		    "ready-marker" : "settle-time";
		b = a[0] == 'r' ? "settle-time" : "ready-marker";
		conf_error(a[0] == 'r' ? seen[S_READY_MARKER] :
		    seen[S_SETTLE_TIME], "%s cannot be combined with %s on "
		    "line %d: an episode is ready either when its marker "
		    "file exists or when it has settled; remove one of the "
		    "two lines", a, b, a[0] == 'r' ? seen[S_SETTLE_TIME] :
		    seen[S_READY_MARKER]);
	}
	if (cf->backoff_cap < cf->backoff_base)
		conf_error(seen[S_BACKOFF_CAP] != 0 ? seen[S_BACKOFF_CAP] :
		    seen[S_BACKOFF_BASE], "backoff cap %s%s is below backoff "
		    "base %s; raise backoff cap or lower backoff base",
		    fmt_duration(cf->backoff_cap, b1, sizeof(b1)),
		    seen[S_BACKOFF_CAP] != 0 ? "" : " (the default)",
		    fmt_duration(cf->backoff_base, b2, sizeof(b2)));
	if (strcmp(cf->user, cf->sandbox_user) == 0)
		conf_error(seen[S_USER] > seen[S_SANDBOX_USER] ?
		    seen[S_USER] : seen[S_SANDBOX_USER], "user and "
		    "sandbox-user are both %s; the sandbox account must "
		    "not own the data, e.g. sandbox-user %s",
		    shown(cf->user), SHIPPER_SANDBOX_USER);

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		s = required[i];
		if (seen[s] == 0 && tried[s] == 0)
			conf_error(lastline, "missing required setting "
			    "\"%s\"; add a line such as: %s %s",
			    settings[s].name, settings[s].name,
			    settings[s].example);
	}
}

static void
check_readable(enum setting s, const char *path)
{
	struct stat	 st;

	if (stat(path, &st) == -1)
		conf_error(seen[s], "%s %s: %s; fix the path or put the file "
		    "there", settings[s].name, shown(path), strerror(errno));
	else if (!S_ISREG(st.st_mode))
		conf_error(seen[s], "%s %s is not a regular file; name the "
		    "PEM file itself", settings[s].name, shown(path));
	else if (access(path, R_OK) == -1)
		conf_error(seen[s], "%s %s is not readable: %s",
		    settings[s].name, shown(path), strerror(errno));
}

/* One line of printable ASCII without spaces, newline optional. */
static void
check_token(const char *path)
{
	unsigned char	 buf[TOKEN_MAX + 2];
	ssize_t		 n;
	size_t		 len, i;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		conf_error(seen[S_TOKEN], "receiver token-file %s: %s",
		    shown(path), strerror(errno));
		return;
	}
	len = 0;
	while (len < sizeof(buf) &&
	    (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			conf_error(seen[S_TOKEN], "receiver token-file %s: %s",
			    shown(path), strerror(errno));
			close(fd);
			return;
		}
		len += n;
	}
	close(fd);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0) {
		conf_error(seen[S_TOKEN], "receiver token-file %s is empty; "
		    "write this host's bearer token into it, on one line",
		    shown(path));
		return;
	}
	if (len > TOKEN_MAX) {
		conf_error(seen[S_TOKEN], "receiver token-file %s holds more "
		    "than %d bytes; it must hold only the token, on one line",
		    shown(path), TOKEN_MAX);
		return;
	}
	for (i = 0; i < len; i++) {
		if (buf[i] > ' ' && buf[i] < 0x7f)
			continue;
		if (buf[i] == '\n')
			conf_error(seen[S_TOKEN], "receiver token-file %s has "
			    "more than one line; it must hold only the token",
			    shown(path));
		else
			conf_error(seen[S_TOKEN], "receiver token-file %s has "
			    "byte 0x%02x at offset %zu; the token must be "
			    "printable ASCII without spaces%s", shown(path),
			    buf[i], i, buf[i] == '\r' ? " (Windows line "
			    "ending? remove the \\r)" : "");
		return;
	}
}

static void
check_files(void)
{
	char	 err[1024];

	if (check_secret_file(cf->key_file, err, sizeof(err)) == -1)
		conf_error(seen[S_KEY], "receiver key: %s", err);
	if (check_secret_file(cf->token_file, err, sizeof(err)) == -1)
		conf_error(seen[S_TOKEN], "receiver token-file: %s", err);
	else
		check_token(cf->token_file);
	check_readable(S_CA, cf->ca_file);
	check_readable(S_CERT, cf->cert_file);
}

static int
read_file(const char *path)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		log_warnx("%s: %s%s", path, strerror(errno), errno == ENOENT ?
		    "; create it (cis490-shipper.conf(5) describes it) or "
		    "name another file with -f" : "");
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s", path);
		close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file; name the configuration "
		    "file with -f", path);
		close(fd);
		return (-1);
	}
	if (st.st_size > CONF_MAXSIZE) {
		log_warnx("%s: larger than %d bytes; is it the right file?",
		    path, CONF_MAXSIZE);
		close(fd);
		return (-1);
	}
	/* One byte more than stat says tells whether the file grew. */
	if ((file.buf = malloc(st.st_size + 1)) == NULL)
		fatal("%s", __func__);
	file.len = 0;
	while (file.len < (size_t)st.st_size + 1 &&
	    (n = read(fd, file.buf + file.len,
	    st.st_size + 1 - file.len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s", path);
			close(fd);
			return (-1);
		}
		file.len += n;
	}
	close(fd);
	if (file.len > (size_t)st.st_size) {
		log_warnx("%s: changed while being read; try again", path);
		return (-1);
	}
	return (0);
}

int
parse_config(const char *path, struct shipper_conf *xconf, int flags)
{
	struct word	*w;
	int		 lastline;
	size_t		 i;

	config_init(xconf);
	cf = xconf;
	memset(&file, 0, sizeof(file));
	memset(&lex, 0, sizeof(lex));
	memset(seen, 0, sizeof(seen));
	memset(tried, 0, sizeof(tried));
	lex.last = '\n';
	file.name = path;
	file.lineno = 1;

	if (read_file(path) == -1) {
		free(file.buf);
		config_free(xconf);
		return (-1);
	}
	yyparse();

	/* The last line: where a missing setting should be added. */
	for (lastline = 0, i = 0; i < file.len; i++)
		if (file.buf[i] == '\n')
			lastline++;
	if (file.len > 0 && file.buf[file.len - 1] != '\n')
		lastline++;
	if (lastline == 0)
		lastline = 1;
	check_final(lastline);
	if (cf->settle_time != 0) {
		free(cf->ready_marker);
		cf->ready_marker = NULL;
	}
	if (file.errors == 0 && (flags & CONF_CHECK_FILES))
		check_files();

	while ((w = words) != NULL) {
		words = w->next;
		free(w);
	}
	free(file.buf);
	file.buf = NULL;
	cf = NULL;
	if (file.errors != 0) {
		config_free(xconf);
		return (-1);
	}
	return (0);
}
