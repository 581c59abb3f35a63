/*
 * classify: every row of DESIGN §6, the choices for answers the table
 * does not name, and the reply fields the uploader reads (Retry-After,
 * Repr-Digest, the JSON error and ping bodies, RFC 3339 times).
 */
#include <string.h>
#include <time.h>

#include <check.h>
#include <curl/curl.h>

#include "unit.h"
#include "uploader/classify.h"

static void
expect(long status, int code, enum answer_action action,
    enum answer_class class)
{
	struct answer	 a = classify_answer(status, code);

	ck_assert_msg(a.action == action && a.class == class,
	    "status %ld code %d: got %s/%s, want %s/%s", status, code,
	    answer_action_name(a.action), answer_class_name(a.class),
	    answer_action_name(action), answer_class_name(class));
}

START_TEST(table_rows)
{
	long	 s;

	expect(200, CURLE_OK, ACTION_RETIRE, CLASS_STORED);
	expect(201, CURLE_OK, ACTION_RETIRE, CLASS_STORED);
	expect(409, CURLE_OK, ACTION_QUARANTINE, CLASS_CONFLICT);
	expect(412, CURLE_OK, ACTION_QUARANTINE, CLASS_OUT_OF_WINDOW);
	expect(400, CURLE_OK, ACTION_QUARANTINE, CLASS_BAD_REQUEST);
	expect(411, CURLE_OK, ACTION_QUARANTINE, CLASS_BAD_REQUEST);
	expect(413, CURLE_OK, ACTION_QUARANTINE, CLASS_TOO_LARGE);
	expect(401, CURLE_OK, ACTION_PAUSE, CLASS_AUTH);
	expect(403, CURLE_OK, ACTION_PAUSE, CLASS_AUTH);
	expect(408, CURLE_OK, ACTION_RETRY, CLASS_TRANSIENT);
	expect(429, CURLE_OK, ACTION_RETRY, CLASS_TRANSIENT);
	for (s = 500; s <= 599; s++)
		expect(s, CURLE_OK, ACTION_RETRY, CLASS_TRANSIENT);
}
END_TEST

START_TEST(transport_errors)
{
	expect(0, CURLE_COULDNT_RESOLVE_HOST, ACTION_RETRY, CLASS_TRANSIENT);
	expect(0, CURLE_COULDNT_CONNECT, ACTION_RETRY, CLASS_TRANSIENT);
	expect(0, CURLE_OPERATION_TIMEDOUT, ACTION_RETRY, CLASS_TRANSIENT);
	expect(0, CURLE_SSL_CONNECT_ERROR, ACTION_RETRY, CLASS_TRANSIENT);
	expect(0, CURLE_PEER_FAILED_VERIFICATION, ACTION_RETRY,
	    CLASS_TRANSIENT);
	expect(0, CURLE_RECV_ERROR, ACTION_RETRY, CLASS_TRANSIENT);
	expect(0, CURLE_SEND_ERROR, ACTION_RETRY, CLASS_TRANSIENT);
	expect(0, CURLE_GOT_NOTHING, ACTION_RETRY, CLASS_TRANSIENT);
	expect(0, CURLE_ABORTED_BY_CALLBACK, ACTION_RETRY, CLASS_TRANSIENT);
	expect(0, CURLE_READ_ERROR, ACTION_RETRY, CLASS_TRANSIENT);
	/* Our own certificate or key unusable: no retry fixes that. */
	expect(0, CURLE_SSL_CERTPROBLEM, ACTION_PAUSE, CLASS_AUTH);
	/* No status and no error is no answer at all. */
	expect(0, CURLE_OK, ACTION_RETRY, CLASS_TRANSIENT);
}
END_TEST

START_TEST(status_beats_transport_error)
{
	/* The receiver answered 413 early and closed: the status counts. */
	expect(413, CURLE_SEND_ERROR, ACTION_QUARANTINE, CLASS_TOO_LARGE);
	expect(201, CURLE_RECV_ERROR, ACTION_RETIRE, CLASS_STORED);
	expect(503, CURLE_SSL_CERTPROBLEM, ACTION_RETRY, CLASS_TRANSIENT);
}
END_TEST

START_TEST(unlisted_never_quarantine)
{
	static const long	 other[] = { 100, 101, 199, 202, 204, 206,
				    299, 301, 302, 304, 307, 308, 402, 404,
				    405, 406, 407, 410, 414, 415, 416, 421,
				    422, 425, 428, 431, 451, 499, 600, 999,
				    -1 };
	size_t			 i;

	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		expect(other[i], CURLE_OK, ACTION_RETRY, CLASS_TRANSIENT);
}
END_TEST

START_TEST(names)
{
	ck_assert_str_eq(answer_class_name(CLASS_OUT_OF_WINDOW),
	    "out-of-window");
	ck_assert_str_eq(answer_class_name(CLASS_BAD_REQUEST),
	    "bad-request");
	ck_assert_str_eq(answer_class_name(CLASS_TOO_LARGE), "too-large");
	ck_assert_str_eq(answer_class_name(CLASS_CONFLICT), "conflict");
	ck_assert_str_eq(answer_class_name(CLASS_TRANSIENT), "transient");
	ck_assert_str_eq(answer_action_name(ACTION_PAUSE), "pause");
}
END_TEST

START_TEST(retry_after)
{
	time_t	 now = 784111777;	/* Sun, 06 Nov 1994 08:49:37 GMT */

	ck_assert_int_eq(parse_retry_after("120", now), 120);
	ck_assert_int_eq(parse_retry_after(" 5 ", now), 5);
	ck_assert_int_eq(parse_retry_after("0", now), 0);
	ck_assert_int_eq(parse_retry_after("99999999999999999999999", now),
	    RETRY_AFTER_MAX);
	ck_assert_int_eq(parse_retry_after("12a", now), 0);
	ck_assert_int_eq(parse_retry_after("-5", now), 0);
	ck_assert_int_eq(parse_retry_after("", now), 0);
	ck_assert_int_eq(parse_retry_after(NULL, now), 0);
	ck_assert_int_eq(parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT",
	    now), 120);
	/* A date in the past means now. */
	ck_assert_int_eq(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT",
	    now), 0);
	ck_assert_int_eq(parse_retry_after("Sun, 06 Nov 2094 08:00:00 GMT",
	    now), RETRY_AFTER_MAX);
	ck_assert_int_eq(parse_retry_after("soon", now), 0);
}
END_TEST

START_TEST(repr_digest)
{
	char	 b[64];

	ck_assert_int_eq(repr_digest_sha256("sha-256=:q83v:", b, sizeof(b)),
	    0);
	ck_assert_str_eq(b, "q83v");
	ck_assert_int_eq(repr_digest_sha256("sha-512=:AAAA:, sha-256=:Zm9v:",
	    b, sizeof(b)), 0);
	ck_assert_str_eq(b, "Zm9v");
	ck_assert_int_eq(repr_digest_sha256("sha-512=:AAAA:", b, sizeof(b)),
	    -1);
	ck_assert_int_eq(repr_digest_sha256("sha-256=:unterminated", b,
	    sizeof(b)), -1);
	ck_assert_int_eq(repr_digest_sha256("sha-256=::", b, sizeof(b)), -1);
	ck_assert_int_eq(repr_digest_sha256("sha-256=:toolongforthis:", b,
	    8), -1);
}
END_TEST

START_TEST(json_fields)
{
	const char	*body;
	char		 b[32];

	body = "{\"error\":\"out-of-window\",\"detail\":\"Episode-Time "
	    "2001-01-01T00:00:00Z is \\\"old\\\"\\n\"}";
	ck_assert_int_eq(json_get_string(body, strlen(body), "error", b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "out-of-window");
	ck_assert_int_eq(json_get_string(body, strlen(body), "detail", b,
	    sizeof(b)), 0);
	/* Cut to fit, still terminated. */
	ck_assert_str_eq(b, "Episode-Time 2001-01-01T00:00:0");

	body = " { \"ok\" : true , \"n\": -1.5e3, \"o\": {\"a\":[1,\"]\"]},"
	    " \"host\":\"lab-a\", \"time\" : \"2024-05-01T10:00:00Z\" } ";
	ck_assert_int_eq(json_get_string(body, strlen(body), "time", b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "2024-05-01T10:00:00Z");
	ck_assert_int_eq(json_get_string(body, strlen(body), "host", b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "lab-a");
	ck_assert_int_eq(json_get_string(body, strlen(body), "ok", b,
	    sizeof(b)), -1);
	ck_assert_int_eq(json_get_string(body, strlen(body), "missing", b,
	    sizeof(b)), -1);

	body = "{\"u\":\"A\\u0042\\u00e9\"}";
	ck_assert_int_eq(json_get_string(body, strlen(body), "u", b,
	    sizeof(b)), 0);
	ck_assert_str_eq(b, "AB?");

	/* Malformed bodies give nothing, and never read past the end. */
	ck_assert_int_eq(json_get_string("[\"error\"]", 9, "error", b,
	    sizeof(b)), -1);
	ck_assert_int_eq(json_get_string("{\"error\":\"x", 11, "error", b,
	    sizeof(b)), -1);
	ck_assert_int_eq(json_get_string("{\"error\":\"x\"}", 10, "error", b,
	    sizeof(b)), -1);
	ck_assert_int_eq(json_get_string("{\"e\":\"\\u0000\"}", 14, "e", b,
	    sizeof(b)), -1);
	ck_assert_int_eq(json_get_string("{\"e\":\"a\nb\"}", 11, "e", b,
	    sizeof(b)), -1);
	ck_assert_int_eq(json_get_string("{\"a\" 1}", 7, "a", b,
	    sizeof(b)), -1);
	ck_assert_int_eq(json_get_string("", 0, "a", b, sizeof(b)), -1);
	ck_assert_int_eq(json_get_string("<html>", 6, "a", b, sizeof(b)),
	    -1);
	/* Nesting is bounded. */
	body = "{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]],"
	    "\"e\":\"y\"}";
	ck_assert_int_eq(json_get_string(body, strlen(body), "e", b,
	    sizeof(b)), -1);
}
END_TEST

START_TEST(rfc3339)
{
	time_t	 t;

	ck_assert_int_eq(parse_rfc3339("1994-11-06T08:49:37Z", &t), 0);
	ck_assert_int_eq(t, 784111777);
	ck_assert_int_eq(parse_rfc3339("1994-11-06t08:49:37.123456z", &t), 0);
	ck_assert_int_eq(t, 784111777);
	ck_assert_int_eq(parse_rfc3339("1994-11-06T10:49:37+02:00", &t), 0);
	ck_assert_int_eq(t, 784111777);
	ck_assert_int_eq(parse_rfc3339("1994-11-06T03:19:37-05:30", &t), 0);
	ck_assert_int_eq(t, 784111777);
	ck_assert_int_eq(parse_rfc3339("1994-11-06T08:49:37", &t), -1);
	ck_assert_int_eq(parse_rfc3339("1994-02-30T08:49:37Z", &t), -1);
	ck_assert_int_eq(parse_rfc3339("1994-13-06T08:49:37Z", &t), -1);
	ck_assert_int_eq(parse_rfc3339("1994-11-06T24:49:37Z", &t), -1);
	ck_assert_int_eq(parse_rfc3339("1994-11-06 08:49:37Z", &t), -1);
	ck_assert_int_eq(parse_rfc3339("1994-11-06T08:49:37.Z", &t), -1);
	ck_assert_int_eq(parse_rfc3339("1994-11-06T08:49:37Zjunk", &t), -1);
	ck_assert_int_eq(parse_rfc3339("1994-11-06T08:49:37+0200", &t), -1);
	ck_assert_int_eq(parse_rfc3339("x", &t), -1);
}
END_TEST

Suite *
classify_suite(void)
{
	Suite	*s = suite_create("classify");
	TCase	*tc = tcase_create("answers");

	tcase_add_test(tc, table_rows);
	tcase_add_test(tc, transport_errors);
	tcase_add_test(tc, status_beats_transport_error);
	tcase_add_test(tc, unlisted_never_quarantine);
	tcase_add_test(tc, names);
	tcase_add_test(tc, retry_after);
	tcase_add_test(tc, repr_digest);
	tcase_add_test(tc, json_fields);
	tcase_add_test(tc, rfc3339);
	suite_add_tcase(s, tc);
	return (s);
}
