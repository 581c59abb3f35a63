/*
 * Interpreting the receiver's answers (DESIGN §5, §6): what an HTTP
 * status or a transport error means for the episode, and the few fields
 * read from replies.  Pure functions, no libcurl state, so they are unit
 * tested (regress/unit/test_classify.c).
 */
#ifndef CLASSIFY_H
#define CLASSIFY_H

#include <stddef.h>
#include <time.h>

#include "shipper.h"
#include "util.h"

struct answer {
	enum answer_action	 action;
	enum answer_class	 class;
};

/*
 * An HTTP status (0: none was received) and a CURLcode (0: CURLE_OK).
 * A received status decides; the transport error counts only without one.
 */
struct answer	 classify_answer(long, int);

const char	*answer_action_name(enum answer_action);
const char	*answer_class_name(enum answer_class);

/*
 * Retry-After (RFC 9110 10.2.3): delta-seconds or an HTTP-date, relative
 * to now.  Returns seconds to wait, 0 when absent, malformed or past;
 * at most RETRY_AFTER_MAX (backoff clamps further, to its cap).
 */
#define RETRY_AFTER_MAX		(7 * 24 * 3600)
time_t		 parse_retry_after(const char *, time_t);

/*
 * The sha-256 member of a Repr-Digest dictionary (RFC 9530), without
 * the colons, into buf.  Returns 0, or -1 when there is none.
 */
int		 repr_digest_sha256(const char *, char *, size_t);

/*
 * The string value of key in a one-level JSON object (other values are
 * skipped), unescaped into buf (cut to fit, always NUL-terminated;
 * \u escapes outside ASCII become '?').  Returns 0, or -1 when the body
 * is no JSON object, the key is missing or its value is no string.
 */
int		 json_get_string(const char *, size_t, const char *, char *,
		    size_t);


#endif /* CLASSIFY_H */
