/*
 * cis490-receiver.conf(5): an OpenBSD-style grammar.  Errors are
 * reported as "file:line: message" and all of them are collected before
 * the file is refused.
 *
 * The lexer's strings belong to a list that parse_config() frees at the
 * end, and the actions copy what they keep: yacc drops tokens during
 * error recovery without telling anyone, so nothing else could free
 * those.  parse_config() may be called any number of times.
 */

%{
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "receiver.h"

static struct file {
	FILE		*stream;
	const char	*name;
	int		 lineno;
	int		 errors;
} *file, topfile;

struct word {
	struct word	*next;
	char		 text[];
};

static struct receiver_conf	*conf;
static unsigned char		 seen[64];
static struct word		*words;

int		 yyparse(void);
static int	 yylex(void);
static int	 yyerror(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static int	 kw_cmp(const void *, const void *);
static int	 lookup(const char *);
static int	 lgetc(int);
static int	 lungetc(int);
static int	 findeol(void);
static int	 parse_size(const char *, uint64_t *);
static int	 parse_duration(const char *, time_t *);
static void	 set_string(char **, const char *);
static char	*keep(const char *);
static int	 once(int, const char *);

typedef struct {
	union {
		int64_t		 number;
		char		*string;
		uint64_t	 size;
		time_t		 duration;
	} v;
	int lineno;
} YYSTYPE;

%}

%token	LISTEN PORT STORAGEROOT USER CA CERTIFICATE KEY TOKENSFILE
%token	MAXHEADERSIZE MAXBODYSIZE MAXCONNECTIONS
%token	HEADERTIMEOUT IDLETIMEOUT BODYTIMEOUT ACCEPTWINDOW PAST FUTURE
%token	ERROR
%token	<v.string>	STRING
%token	<v.number>	NUMBER
%type	<v.size>	size
%type	<v.duration>	duration

%%

grammar		: /* empty */
		| grammar '\n'
		| grammar main '\n'
		| grammar error '\n'		{ file->errors++; }
		;

size		: NUMBER {
			if ($1 < 0) {
				yyerror("size must not be negative");
				YYERROR;
			}
			$$ = (uint64_t)$1;
		}
		| STRING {
			if (parse_size($1, &$$) == -1) {
				yyerror("bad size %s: use a number with an "
				    "optional K, M, G or T suffix",
				    log_esc($1));
				YYERROR;
			}
		}
		;

duration	: NUMBER {
			if ($1 < 0) {
				yyerror("duration must not be negative");
				YYERROR;
			}
			$$ = (time_t)$1;
		}
		| STRING {
			if (parse_duration($1, &$$) == -1) {
				yyerror("bad duration %s: use seconds or a "
				    "number with an s, m, h or d suffix",
				    log_esc($1));
				YYERROR;
			}
		}
		;

main		: LISTEN STRING PORT NUMBER {
			char	 err[256];

			if ($4 < 1 || $4 > 65535) {
				yyerror("port %lld out of range 1-65535",
				    (long long)$4);
				YYERROR;
			}
			if (config_listen_add(conf, $2, (int)$4, err,
			    sizeof(err)) == -1) {
				yyerror("%s", err);
				YYERROR;
			}
		}
		| STORAGEROOT STRING {
			if (!once(STORAGEROOT, "storage-root"))
				YYERROR;
			if ($2[0] != '/') {
				yyerror("storage-root %s: must be an absolute "
				    "path", log_esc($2));
				YYERROR;
			}
			set_string(&conf->storage_root, $2);
		}
		| USER STRING {
			if (!once(USER, "user"))
				YYERROR;
			set_string(&conf->user, $2);
		}
		| CA STRING {
			if (!once(CA, "ca"))
				YYERROR;
			set_string(&conf->ca_file, $2);
		}
		| CERTIFICATE STRING {
			if (!once(CERTIFICATE, "certificate"))
				YYERROR;
			set_string(&conf->cert_file, $2);
		}
		| KEY STRING {
			if (!once(KEY, "key"))
				YYERROR;
			set_string(&conf->key_file, $2);
		}
		| TOKENSFILE STRING {
			if (!once(TOKENSFILE, "tokens-file"))
				YYERROR;
			set_string(&conf->tokens_file, $2);
		}
		| MAXHEADERSIZE size {
			if (!once(MAXHEADERSIZE, "max-header-size"))
				YYERROR;
			if ($2 < MIN_HEADER_SIZE || $2 > MAX_HEADER_SIZE) {
				yyerror("max-header-size out of range "
				    "%d-%d", MIN_HEADER_SIZE, MAX_HEADER_SIZE);
				YYERROR;
			}
			conf->max_header_size = (size_t)$2;
		}
		| MAXBODYSIZE size {
			if (!once(MAXBODYSIZE, "max-body-size"))
				YYERROR;
			if ($2 < 1) {
				yyerror("max-body-size must be at least 1");
				YYERROR;
			}
			conf->max_body_size = $2;
		}
		| MAXCONNECTIONS NUMBER {
			if (!once(MAXCONNECTIONS, "max-connections"))
				YYERROR;
			if ($2 < 1 || $2 > MAX_CONNECTIONS) {
				yyerror("max-connections out of range 1-%d",
				    MAX_CONNECTIONS);
				YYERROR;
			}
			conf->max_connections = (int)$2;
		}
		| HEADERTIMEOUT duration {
			if (!once(HEADERTIMEOUT, "header-timeout"))
				YYERROR;
			if ($2 < 1 || $2 > 3600) {
				yyerror("header-timeout out of range 1s-1h");
				YYERROR;
			}
			conf->header_timeout = $2;
		}
		| IDLETIMEOUT duration {
			if (!once(IDLETIMEOUT, "idle-timeout"))
				YYERROR;
			if ($2 < 1 || $2 > 86400) {
				yyerror("idle-timeout out of range 1s-1d");
				YYERROR;
			}
			conf->idle_timeout = $2;
		}
		| BODYTIMEOUT duration {
			if (!once(BODYTIMEOUT, "body-timeout"))
				YYERROR;
			if ($2 < 1 || $2 > 3600) {
				yyerror("body-timeout out of range 1s-1h");
				YYERROR;
			}
			conf->body_timeout = $2;
		}
		| ACCEPTWINDOW PAST duration FUTURE duration {
			if (!once(ACCEPTWINDOW, "accept-window"))
				YYERROR;
			if ($3 > 3650 * 86400 || $5 > 3650 * 86400) {
				yyerror("accept-window durations must not "
				    "exceed 3650d");
				YYERROR;
			}
			conf->window_past = $3;
			conf->window_future = $5;
		}
		;

%%

struct keywords {
	const char	*k_name;
	int		 k_val;
};

static int
yyerror(const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	file->errors++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s:%d: %s", file->name, yylval.lineno, msg);
	return (0);
}

static int
kw_cmp(const void *k, const void *e)
{
	return (strcmp(k, ((const struct keywords *)e)->k_name));
}

static int
lookup(const char *s)
{
	/* Sorted, for bsearch. */
	static const struct keywords keywords[] = {
		{ "accept-window",	ACCEPTWINDOW },
		{ "body-timeout",	BODYTIMEOUT },
		{ "ca",			CA },
		{ "certificate",	CERTIFICATE },
		{ "future",		FUTURE },
		{ "header-timeout",	HEADERTIMEOUT },
		{ "idle-timeout",	IDLETIMEOUT },
		{ "key",		KEY },
		{ "listen",		LISTEN },
		{ "max-body-size",	MAXBODYSIZE },
		{ "max-connections",	MAXCONNECTIONS },
		{ "max-header-size",	MAXHEADERSIZE },
		{ "past",		PAST },
		{ "port",		PORT },
		{ "storage-root",	STORAGEROOT },
		{ "tokens-file",	TOKENSFILE },
		{ "user",		USER },
	};
	const struct keywords	*p;

	p = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	if (p != NULL)
		return (p->k_val);
	return (STRING);
}

/* A keyword given twice is an error: the second would silently win. */
static int
once(int kw, const char *name)
{
	if (kw < 0 || (size_t)kw >= sizeof(seen) * 8)
		return (1);
	if (seen[kw / 8] & (1 << (kw % 8))) {
		yyerror("%s given twice", name);
		return (0);
	}
	seen[kw / 8] |= 1 << (kw % 8);
	return (1);
}

static void
set_string(char **dst, const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("%s", __func__);
	free(*dst);
	*dst = p;
}

/* A string for the parser, freed with the others by parse_config(). */
static char *
keep(const char *s)
{
	struct word	*w;
	size_t		 len = strlen(s);

	if ((w = malloc(sizeof(*w) + len + 1)) == NULL)
		fatal("%s", __func__);
	memcpy(w->text, s, len + 1);
	w->next = words;
	words = w;
	return (w->text);
}

#define MAXPUSHBACK	128

static char	 pushback_buffer[MAXPUSHBACK];
static int	 pushback_index;

static int
lgetc(int quotec)
{
	int	 c, next;

	if (pushback_index)
		return ((unsigned char)pushback_buffer[--pushback_index]);

	if (quotec) {
		if ((c = getc(file->stream)) == EOF) {
			yyerror("reached end of file while parsing "
			    "quoted string");
			return (EOF);
		}
		return (c);
	}

	while ((c = getc(file->stream)) == '\\') {
		next = getc(file->stream);
		if (next != '\n') {
			c = next;
			break;
		}
		yylval.lineno = file->lineno;
		file->lineno++;
	}
	return (c);
}

static int
lungetc(int c)
{
	if (c == EOF)
		return (EOF);
	if (pushback_index < MAXPUSHBACK - 1)
		return (pushback_buffer[pushback_index++] = (char)c);
	return (EOF);
}

static int
findeol(void)
{
	int	 c;

	pushback_index = 0;
	for (;;) {
		c = lgetc(0);
		if (c == '\n') {
			file->lineno++;
			break;
		}
		if (c == EOF)
			break;
	}
	return (ERROR);
}

#define allowed_in_string(x) \
	(isalnum(x) || (ispunct(x) && x != '(' && x != ')' && \
	x != '{' && x != '}' && x != '<' && x != '>' && \
	x != '!' && x != '=' && x != '#' && x != ',' && x != '"'))

static int
yylex(void)
{
	char		 buf[8096];
	char		*p;
	int		 quotec, next, c, token;
	const char	*errstr;

	p = buf;
	while ((c = lgetc(0)) == ' ' || c == '\t')
		; /* nothing */

	yylval.lineno = file->lineno;
	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			; /* nothing */

	switch (c) {
	case '\'':
	case '"':
		quotec = c;
		for (;;) {
			if ((c = lgetc(quotec)) == EOF)
				return (0);
			if (c == '\n') {
				file->lineno++;
				yyerror("newline inside quoted string");
				continue;
			} else if (c == '\\') {
				if ((next = lgetc(quotec)) == EOF)
					return (0);
				if (next == quotec || next == '\\')
					c = next;
				else if (next == '\n') {
					file->lineno++;
					continue;
				} else
					lungetc(next);
			} else if (c == quotec) {
				*p = '\0';
				break;
			} else if (c == '\0') {
				yyerror("NUL byte in quoted string");
				return (findeol());
			}
			if (p + 1 >= buf + sizeof(buf) - 1) {
				yyerror("string too long");
				return (findeol());
			}
			*p++ = (char)c;
		}
		yylval.v.string = keep(buf);
		return (STRING);
	}

#define allowed_to_end_number(x) \
	(isspace(x) || x == ')' || x == ',' || x == '/' || x == '}' || \
	x == '=')

	if (c == '-' || isdigit(c)) {
		do {
			*p++ = (char)c;
			if ((size_t)(p - buf) >= sizeof(buf)) {
				yyerror("string too long");
				return (findeol());
			}
		} while ((c = lgetc(0)) != EOF && isdigit(c));
		lungetc(c);
		if (p == buf + 1 && buf[0] == '-')
			goto nodigits;
		if (c == EOF || allowed_to_end_number(c)) {
			*p = '\0';
			yylval.v.number = strtonum(buf, LLONG_MIN,
			    LLONG_MAX, &errstr);
			if (errstr) {
				yyerror("\"%s\" invalid number: %s",
				    buf, errstr);
				return (findeol());
			}
			return (NUMBER);
		} else {
 nodigits:
			/*
			 * Digits and more (10M, 127.0.0.1) are a string: read
			 * on.  Pushing the digits back would keep only
			 * MAXPUSHBACK of them.
			 */
			if (buf[0] != '-')
				goto instring;
			while (p > buf + 1)
				lungetc((unsigned char)*--p);
			c = (unsigned char)*--p;
			if (c == '-')
				return (c);
		}
	}

	if (isalnum(c) || c == ':' || c == '_' || c == '*' || c == '/' ||
	    c == '.' || c == '-') {
		*p++ = (char)c;
 instring:
		while ((c = lgetc(0)) != EOF && allowed_in_string(c)) {
			if ((size_t)(p - buf) >= sizeof(buf) - 1) {
				yyerror("string too long");
				return (findeol());
			}
			*p++ = (char)c;
		}
		lungetc(c);
		*p = '\0';
		if ((token = lookup(buf)) == STRING)
			yylval.v.string = keep(buf);
		return (token);
	}
	if (c == '\n') {
		yylval.lineno = file->lineno;
		file->lineno++;
	}
	if (c == EOF)
		return (0);
	/* Token 0 would end the file here, silently. */
	if (c == '\0') {
		yyerror("NUL byte; is this a text file?");
		return (findeol());
	}
	return (c);
}

static int
parse_size(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 n, mult = 1;

	if (!isdigit((unsigned char)s[0]))
		return (-1);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return (-1);
	switch (*end) {
	case '\0':
		break;
	case 'K': case 'k':
		mult = 1024ULL;
		break;
	case 'M': case 'm':
		mult = 1024ULL * 1024;
		break;
	case 'G': case 'g':
		mult = 1024ULL * 1024 * 1024;
		break;
	case 'T': case 't':
		mult = 1024ULL * 1024 * 1024 * 1024;
		break;
	default:
		return (-1);
	}
	if (*end != '\0' && end[1] != '\0')
		return (-1);
	if (n > UINT64_MAX / mult)
		return (-1);
	*out = n * mult;
	return (0);
}

static int
parse_duration(const char *s, time_t *out)
{
	char			*end;
	unsigned long long	 n, mult = 1;

	if (!isdigit((unsigned char)s[0]))
		return (-1);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return (-1);
	switch (*end) {
	case '\0':
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
		return (-1);
	}
	if (*end != '\0' && end[1] != '\0')
		return (-1);
	if (n > (unsigned long long)INT32_MAX / mult)
		return (-1);
	*out = (time_t)(n * mult);
	return (0);
}

/* Missing files are caught here, with the line, not in the server. */
static void
check_file(const char *keyword, const char *path)
{
	struct stat	 st;

	if (path == NULL)
		return;
	if (stat(path, &st) == -1) {
		log_warnx("%s: %s %s: %s", file->name, keyword,
		    log_esc(path), strerror(errno));
		file->errors++;
	} else if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: %s %s: not a regular file", file->name,
		    keyword, log_esc(path));
		file->errors++;
	}
}

int
parse_config(const char *filename, struct receiver_conf *xconf, int flags)
{
	static const struct {
		const char	*keyword;
		size_t		 off;
	} required[] = {
		{ "ca", offsetof(struct receiver_conf, ca_file) },
		{ "certificate", offsetof(struct receiver_conf, cert_file) },
		{ "key", offsetof(struct receiver_conf, key_file) },
		{ "tokens-file", offsetof(struct receiver_conf, tokens_file) },
	};
	struct word	*w;
	size_t		 i;
	char		*v;

	conf = xconf;
	config_init(conf);
	memset(seen, 0, sizeof(seen));
	pushback_index = 0;

	memset(&topfile, 0, sizeof(topfile));
	file = &topfile;
	file->name = filename;
	file->lineno = 1;
	if ((file->stream = fopen(filename, "r")) == NULL) {
		log_warn("%s", filename);
		config_free(conf);
		return (-1);
	}
	yyparse();
	fclose(file->stream);
	while ((w = words) != NULL) {
		words = w->next;
		free(w);
	}

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		memcpy(&v, (char *)conf + required[i].off, sizeof(v));
		if (v == NULL) {
			log_warnx("%s: no %s given", filename,
			    required[i].keyword);
			file->errors++;
		}
	}
	if (conf->nlisten == 0) {
		log_warnx("%s: no listen address given (e.g. "
		    "\"listen 0.0.0.0 port %d\")", filename, RECEIVER_PORT);
		file->errors++;
	}
	if (flags & CONF_CHECK_FILES) {
		check_file("ca", conf->ca_file);
		check_file("certificate", conf->cert_file);
		check_file("key", conf->key_file);
		check_file("tokens-file", conf->tokens_file);
	}
	if (file->errors != 0) {
		config_free(conf);
		return (-1);
	}
	return (0);
}
