# Bad input on the receiver, beyond test_receiver_http.sh: Content-Length
# past 2^64, in hex or with an exponent, empty or "-0"; duplicated
# headers that carry the request's meaning; thousands of headers, a
# huge header name, a huge request target; request lines of binary
# garbage, NUL, tabs, an absolute or asterisk form; raw bytes that are
# not UTF-8, percent-encoded invalid or overlong UTF-8, NUL, "/" and ".."
# in paths.  Each is answered with its 4xx (and "Connection: close" when
# the request could not be parsed), the server process stays the same,
# and it serves the next client.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

pki_setup
receiver_conf "max-header-size 8K" "header-timeout 3s"
start_receiver "$T/log"
SERVER=$(server_pid)
[ -n "$SERVER" ] || fail "no server process"
TOK=$(cat "$PKI/lab-a.token")
n=0
CLOSE=1

# bad STATUS WHAT REQUEST (a printf format)
bad() {
	local want=$1 what=$2 s
	shift 2
	s=$(printf "$@" | rraw lab-a)
	[ "$s" = "$want" ] ||
	    fail "$what: $s, expected $want: $(head -c 300 "$T/raw.out")"
	# A head that cannot be parsed leaves the connection unusable
	# (CLOSE=1); a well-formed request that is refused need not.
	if [ "$CLOSE" = 1 ] && [ "$want" != 405 ]; then
		grep -qi '^Connection: close' "$T/raw.out" ||
		    fail "$what: connection kept open after a malformed request"
	fi
	[ "$(server_pid)" = "$SERVER" ] || fail "$what: the server process changed"
	n=$((n + 1))
}
serving() {
	local s
	s=$(rcurl lab-a -X POST "$URL/v1/ping")
	[ "$s" = 200 ] || fail "after $1: ping answered $s"
}

put_head() {
	echo "PUT /v1/episodes/lab-a/ep-1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK\r\nRepr-Digest: sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:\r\nEpisode-Time: $(now_rfc3339)\r\n"
}
# An empty PUT to /v1/episodes/PATH: a HEAD's answer would announce a
# body it does not have, and the client would wait for it.
put_to() {
	echo "PUT /v1/episodes/$1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK\r\nContent-Length: 0\r\n\r\n"
}

# Content-Length the parser must not believe.
bad 400 "Content-Length 2^64" "$(put_head)Content-Length: 18446744073709551616\r\n\r\n"
bad 400 "Content-Length of 30 digits" "$(put_head)Content-Length: 999999999999999999999999999999\r\n\r\n"
bad 400 "Content-Length 2^64-1" "$(put_head)Content-Length: 18446744073709551615\r\n\r\n"
bad 400 "empty Content-Length" "$(put_head)Content-Length: \r\n\r\n"
bad 400 "Content-Length 0x10" "$(put_head)Content-Length: 0x10\r\n\r\n"
bad 400 "Content-Length 1e3" "$(put_head)Content-Length: 1e3\r\n\r\n"
bad 400 "Content-Length -0" "$(put_head)Content-Length: -0\r\n\r\n"
bad 411 "Transfer-Encoding: chunked, no Content-Length" "$(put_head)Transfer-Encoding: chunked\r\n\r\n"
serving "Content-Length"
ok "Content-Length 2^64, 30 digits, 2^64-1, empty, hex, 1e3, -0: 400; chunked: 411"

# Duplicated headers that say what to store.
bad 400 "Repr-Digest twice" "$(put_head)Repr-Digest: sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:\r\nContent-Length: 5\r\n\r\n"
bad 400 "Episode-Time twice" "$(put_head)Episode-Time: $(now_rfc3339)\r\nContent-Length: 5\r\n\r\n"
serving "duplicated headers"
ok "Repr-Digest twice, Episode-Time twice: 400"

# Huge heads, over max-header-size (8K), in three shapes.
many=$(for i in $(seq 2000); do printf 'X-%d: y\\r\\n' "$i"; done)
a9k=$(head -c 9000 /dev/zero | tr '\0' a)
bad 431 "2000 headers" "GET /v1/health HTTP/1.1\r\nHost: x\r\n$many\r\n"
bad 431 "a 9000-byte header name" "GET /v1/health HTTP/1.1\r\nHost: x\r\n$a9k: y\r\n\r\n"
bad 431 "a 9000-byte request target" "GET /v1/$a9k HTTP/1.1\r\nHost: x\r\n\r\n"
# 1 MiB of header: refused when the limit is reached, not read to the end.
s=$( (printf 'GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: '
    head -c 1048576 /dev/zero | tr '\0' b) | rraw lab-a)
[ "$s" = 431 ] || fail "1 MiB header: $s"
serving "huge heads"
ok "2000 headers, a 9000-byte name, a 9000-byte target, a 1 MiB value: 431"

# Malformed request lines.
bad 400 "binary garbage" "\x16\x03\x01\x02\x00\xff\xfe\x01\r\n\r\n"
bad 400 "NUL in the request line" "GET /v1/he\000alth HTTP/1.1\r\nHost: x\r\n\r\n"
bad 400 "tabs for spaces" "GET\t/v1/health\tHTTP/1.1\r\nHost: x\r\n\r\n"
bad 400 "a method alone" "GET\r\nHost: x\r\n\r\n"
bad 400 "a space after the version" "GET /v1/health HTTP/1.1 \r\nHost: x\r\n\r\n"
bad 400 "absolute-form target" "GET https://127.0.0.1/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
bad 400 "asterisk-form target" "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"
bad 405 "a method in lower case" "get /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
bad 405 "an unknown method" "BREW /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
bad 400 "a header name with a space" "GET /v1/health HTTP/1.1\r\nHost : x\r\n\r\n"
bad 400 "an empty header name" "GET /v1/health HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n"
serving "malformed request lines"
ok "binary garbage, NUL, tabs, a lone method, trailing space, absolute and asterisk forms, bad names: 400; odd methods: 405"

# Paths: raw bytes that are not UTF-8, percent-encoded trouble.  The
# head parses; what is decoded is refused, on a connection that may
# stay open.
CLOSE=0
bad 400 "raw 0xFF in an id" "$(put_to 'lab-a/ep\xff')"
bad 400 "raw invalid UTF-8 in a path" "GET /v1/health\xc3\x28 HTTP/1.1\r\nHost: x\r\n\r\n"
bad 400 "%%C3%%28 (invalid UTF-8) in an id" "$(put_to 'lab-a/ep%%C3%%28')"
bad 400 "%%FF in an id" "$(put_to 'lab-a/ep%%FF')"
bad 400 "%%C0%%AF (overlong /) in an id" "$(put_to 'lab-a/%%C0%%AFx')"
bad 400 "%%00 in an id" "$(put_to 'lab-a/ep%%00x')"
bad 400 "%%2F in an id" "$(put_to 'lab-a/ep%%2Fx')"
bad 400 "%%2e%%2e as an id" "$(put_to 'lab-a/%%2e%%2e')"
bad 400 "../ in a path" "$(put_to 'lab-a/../lab-b/x')"
bad 400 "a lone %% in a path" "GET /v1/health%% HTTP/1.1\r\nHost: x\r\n\r\n"
bad 403 "%%C3%%A9 in a host" "$(put_to 'lab-%%C3%%A9/x')"
serving "paths"
ok "raw non-UTF-8 bytes, %C3%28, %FF, overlong %C0%AF, %00, %2F, %2e%2e, ../, a lone %: 400; an odd host: 403"

# The server never changed, and logged every refusal.
[ "$(server_pid)" = "$SERVER" ] || fail "the server process changed"
wait_until 5 eval '[ "$(grep -c "server: access .* 4[0-9][0-9] in=" "$LOG")" -ge $((n + 1)) ]' ||
    fail "$(grep -c 'server: access .* 4[0-9][0-9] in=' "$LOG") 4xx access lines for $((n + 1)) refusals"
grep -q -E 'fatal|lost' "$LOG" && fail "$(grep -E 'fatal|lost' "$LOG")"
stop_receiver
[ "$EXIT_STATUS" = 0 ] || fail "exit status $EXIT_STATUS after SIGTERM"
ok "$((n + 1)) refusals, one server process throughout, served after each group; SIGTERM: exit 0"
