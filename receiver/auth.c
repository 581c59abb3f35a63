/*
 * Who is calling: the client certificate's identity (its CN and its DNS
 * subjectAltNames), and the per-host bearer tokens of the tokens file.
 * Tokens are kept only as SHA-256 hashes and compared in constant time,
 * so neither a token's bytes nor its length leak through timing.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <tls.h>

#include "log.h"
#include "receiver.h"
#include "util.h"

/* Shorter tokens are guessable; the man page says how to make one. */
#define TOKEN_MINLEN	16

static void
token_hash(const char *s, size_t len, unsigned char *out)
{
	unsigned int	 n = 32;

	if (EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) != 1)
		fatalx("SHA-256 failed");
}

int
tokens_load(const char *path, struct tokenlist *list)
{
	FILE		*fp;
	struct token	*t;
	char		 err[512], *line = NULL, *p, *host, *secret, *extra;
	size_t		 cap = 0;
	ssize_t		 n;
	int		 lineno = 0, errors = 0;

	TAILQ_INIT(list);
	if (check_secret_file(path, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return (-1);
	}
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return (-1);
	}
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		host = strsep(&p, " \t");
		while (p != NULL && (*p == ' ' || *p == '\t'))
			p++;
		secret = p == NULL ? NULL : strsep(&p, " \t");
		while (p != NULL && isspace((unsigned char)*p))
			p++;
		extra = p;
		if (secret == NULL || *secret == '\0') {
			log_warnx("%s:%d: expected \"HOST TOKEN\"", path,
			    lineno);
			errors++;
			continue;
		}
		if (extra != NULL && *extra != '\0' && *extra != '#') {
			log_warnx("%s:%d: unexpected text after the token "
			    "of %s", path, lineno, log_esc(host));
			errors++;
			continue;
		}
		if (!valid_id(host)) {
			log_warnx("%s:%d: %s is not a valid host name "
			    "([A-Za-z0-9][A-Za-z0-9._-]{0,127})", path, lineno,
			    log_esc(host));
			errors++;
			continue;
		}
		if (strlen(secret) < TOKEN_MINLEN) {
			log_warnx("%s:%d: the token of %s is shorter than %d "
			    "characters; make one with \"openssl rand -hex "
			    "32\"", path, lineno, host, TOKEN_MINLEN);
			errors++;
			continue;
		}
		if (tokens_find(list, host) != NULL) {
			log_warnx("%s:%d: host %s listed twice", path, lineno,
			    host);
			errors++;
			continue;
		}
		if ((t = calloc(1, sizeof(*t))) == NULL)
			fatal("%s", __func__);
		strlcpy(t->host, host, sizeof(t->host));
		token_hash(secret, strlen(secret), t->hash);
		TAILQ_INSERT_TAIL(list, t, entry);
	}
	if (ferror(fp)) {
		log_warn("%s", path);
		errors++;
	}
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(fp);
	if (errors != 0) {
		tokens_free(list);
		return (-1);
	}
	return (0);
}

void
tokens_free(struct tokenlist *list)
{
	struct token	*t;

	while ((t = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, t, entry);
		explicit_bzero(t, sizeof(*t));
		free(t);
	}
}

const struct token *
tokens_find(const struct tokenlist *list, const char *host)
{
	const struct token	*t;

	TAILQ_FOREACH(t, list, entry)
		if (strcmp(t->host, host) == 0)
			return (t);
	return (NULL);
}

int
token_matches(const struct token *t, const char *given, size_t len)
{
	unsigned char	 h[32];
	int		 r;

	token_hash(given, len, h);
	r = CRYPTO_memcmp(h, t->hash, sizeof(h)) == 0;
	explicit_bzero(h, sizeof(h));
	return (r);
}

/* An ASN.1 string that is a plain host id, without embedded NULs. */
static char *
asn1_id(const ASN1_STRING *a)
{
	const unsigned char	*d = ASN1_STRING_get0_data(a);
	int			 len = ASN1_STRING_length(a);
	char			*s;

	if (d == NULL || len <= 0 || len > ID_MAXLEN ||
	    memchr(d, '\0', (size_t)len) != NULL)
		return (NULL);
	if ((s = strndup((const char *)d, (size_t)len)) == NULL)
		fatal("%s", __func__);
	if (!valid_id(s)) {
		free(s);
		return (NULL);
	}
	return (s);
}

static void
add_name(char ***names, size_t *n, char *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < *n; i++)
		if (strcmp((*names)[i], s) == 0) {
			free(s);
			return;
		}
	if ((*names = reallocarray(*names, *n + 1, sizeof(char *))) == NULL)
		fatal("%s", __func__);
	(*names)[(*n)++] = s;
}

/*
 * The identities a verified client certificate speaks for: its subject
 * CN first, then its DNS subjectAltNames; only names that are valid host
 * ids can ever match a URL, so others are left out.  Returns 0 with
 * names set (possibly none), -1 when the certificate cannot be read.
 */
int
auth_identity(struct tls *ctx, char ***names, size_t *n)
{
	const uint8_t		*pem;
	size_t			 pemlen;
	BIO			*bio;
	X509			*x;
	X509_NAME		*subj;
	X509_NAME_ENTRY		*e;
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	int			 i, idx;

	*names = NULL;
	*n = 0;
	if ((pem = tls_peer_cert_chain_pem(ctx, &pemlen)) == NULL)
		return (-1);
	if ((bio = BIO_new_mem_buf(pem, (int)pemlen)) == NULL)
		return (-1);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL)
		return (-1);

	if ((subj = X509_get_subject_name(x)) != NULL) {
		idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
		if (idx >= 0 && (e = X509_NAME_get_entry(subj, idx)) != NULL)
			add_name(names, n,
			    asn1_id(X509_NAME_ENTRY_get_data(e)));
	}
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (gens != NULL) {
		for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
			g = sk_GENERAL_NAME_value(gens, i);
			if (g->type == GEN_DNS)
				add_name(names, n, asn1_id(g->d.dNSName));
		}
		GENERAL_NAMES_free(gens);
	}
	X509_free(x);
	return (0);
}

void
auth_identity_free(char **names, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
