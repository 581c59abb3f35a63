# cis490-receiver's HTTP/1.1 parser on malformed request heads: each is
# refused with its 4xx (or 505) and the connection closed, and the
# receiver goes on serving.  Then the timeouts between requests: an idle
# kept-alive connection goes after idle-timeout, and the start of a
# pipelined request already buffered runs under header-timeout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

pki_setup
receiver_conf "max-header-size 2K" "header-timeout 1s" "idle-timeout 5s"
start_receiver "$T/log"

TOK=$(cat "$PKI/lab-a.token")
CRLF=$(printf '\r\n')

health_ok() {
	s=$(rcurl lab-a "$URL/v1/health")
	[ "$s" = 200 ] || fail "after $1: health $s"
}

# bad STATUS WHAT REQUEST-HEAD (printf format, \r\n written out)
bad() {
	local want=$1 what=$2 s
	shift 2
	s=$(printf "$@" | rraw lab-a)
	[ "$s" = "$want" ] || fail "$what: $s, expected $want: $(head -c 300 "$T/raw.out")"
	grep -qi '^Connection: close' "$T/raw.out" ||
	    fail "$what: connection kept open after a refused head"
	health_ok "$what"
}

put_head() {
	echo "PUT /v1/episodes/lab-a/ep-1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK\r\nRepr-Digest: sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:\r\nEpisode-Time: $(now_rfc3339)\r\n"
}

# A good raw request first, so a refusal below is the head's fault.
s=$(printf "POST /v1/ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK\r\nConnection: close\r\n\r\n" | rraw lab-a)
[ "$s" = 200 ] || fail "raw ping: $s $(cat "$T/raw.out")"
ok "a well-formed raw request: 200"

# RFC 9112 2.2 and RFC 9110 6.2: an empty line before the request line
# is skipped, HTTP/1.2 is taken as 1.1, HTTP/1.0 needs no Host.
good() {
	s=$(printf "$2" | rraw lab-a)
	[ "$s" = 200 ] || fail "$1: $s, expected 200: $(head -c 300 "$T/raw.out")"
}
good "an empty line first" "\r\nGET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
good "HTTP/1.2" "GET /v1/health HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n"
good "HTTP/1.0 without Host" "GET /v1/health HTTP/1.0\r\n\r\n"
ok "an empty line before the request line, HTTP/1.2, HTTP/1.0 without Host: 200"

n0=$(grep -c 'server: access ' "$LOG")
bad 400 "Content-Length of 19 digits" "$(put_head)Content-Length: 1000000000000000000\r\n\r\n"
bad 400 "Content-Length -1" "$(put_head)Content-Length: -1\r\n\r\n"
bad 400 "Content-Length +5" "$(put_head)Content-Length: +5\r\n\r\n"
bad 400 "two different Content-Lengths" "$(put_head)Content-Length: 5\r\nContent-Length: 6\r\n\r\n"
bad 400 "Content-Length 5, 5" "$(put_head)Content-Length: 5, 5\r\n\r\n"
bad 400 "Transfer-Encoding and Content-Length" "$(put_head)Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
bad 400 "Authorization twice" "POST /v1/ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK\r\nAuthorization: Bearer $TOK\r\n\r\n"
ok "Content-Length too long, negative, +5, two different, a list; TE with CL; Authorization twice: 400"

bad 400 "bare CR in a value" "POST /v1/ping HTTP/1.1\r\nHost: x\rX-Evil: 1\r\nAuthorization: Bearer $TOK\r\n\r\n"
bad 400 "CR before CRLF" "POST /v1/ping HTTP/1.1\r\nHost: x\r\r\nAuthorization: Bearer $TOK\r\n\r\n"
bad 400 "control character in a value" "POST /v1/ping HTTP/1.1\r\nHost: x\001y\r\nAuthorization: Bearer $TOK\r\n\r\n"
bad 400 "DEL in a value" "POST /v1/ping HTTP/1.1\r\nHost: x\177y\r\nAuthorization: Bearer $TOK\r\n\r\n"
s=$(printf "POST /v1/ping HTTP/1.1\r\nHost: x\r\nX-Tab: a\tb\r\nAuthorization: Bearer $TOK\r\nConnection: close\r\n\r\n" | rraw lab-a)
[ "$s" = 200 ] || fail "HTAB inside a value refused: $s"
ok "bare CR, CR CR LF, \\001 and DEL in a header value: 400; HTAB is fine"

big=$(head -c 3000 /dev/zero | tr '\0' a)
bad 431 "head over max-header-size" "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: $big\r\n\r\n"
bad 505 "HTTP/2.0" "GET /v1/health HTTP/2.0\r\nHost: x\r\n\r\n"
bad 400 "HTTP/1.1x" "GET /v1/health HTTP/1.1x\r\nHost: x\r\n\r\n"
bad 400 "http/1.1" "GET /v1/health http/1.1\r\nHost: x\r\n\r\n"
bad 400 "HTTP/1.1 without Host" "GET /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n"
bad 400 "Host twice" "GET /v1/health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"
bad 400 "no version" "GET /v1/health\r\nHost: x\r\n\r\n"
bad 400 "two spaces" "GET  /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
bad 400 "no absolute path" "GET v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
bad 400 "obsolete line folding" "GET /v1/health HTTP/1.1\r\nHost: x\r\n y\r\n\r\n"
bad 400 "header without a colon" "GET /v1/health HTTP/1.1\r\nHost x\r\n\r\n"
ok "head over max-header-size: 431; HTTP/2.0: 505; malformed versions, request lines and fields, no Host or two: 400"

bad 400 "%zz in the path" "GET /v1/health%%zz HTTP/1.1\r\nHost: x\r\n\r\n"
bad 400 "%%4 at the end of the path" "HEAD /v1/episodes/lab-a/ep%%4 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK\r\n\r\n"
bad 400 "%%g1 in an id" "$(put_head | sed 's|ep-1|ep%%g1|')Content-Length: 5\r\n\r\n"
ok "invalid percent-encoding in the path: 400"

# One access line per refused head and per health check, nothing more.
wait_until 5 sh -c "[ \$(grep -c 'server: access ' '$LOG') -ge $((n0 + 2 * 25)) ]"
n=$(( $(grep -c 'server: access ' "$LOG") - n0 ))
[ "$n" = $((2 * 25 + 1)) ] || fail "$n access lines for $((2 * 25 + 1)) requests"
grep -q 'server: access .* lab-a - "-" 431 in=0 .* header-too-large$' "$LOG" ||
    fail "431 not logged"
ok "$n access lines for as many requests; the receiver kept serving"

# Idle kept-alive connection: closed after idle-timeout (5 s), not
# after header-timeout (1 s).
cat >"$T/ka.py" <<'PY'
import socket, ssl, sys, time
port, pki, tok, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=pki + "/ca.pem")
ctx.load_cert_chain(pki + "/lab-a.crt", pki + "/lab-a.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
    server_hostname="127.0.0.1")
req = ("POST /v1/ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
    % tok).encode()
# "partial": the start of a second request travels with the first.
s.sendall(req + (b"POST /v1/ping HTTP/1.1\r\nHost:" if mode == "partial"
    else b""))
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
head, _, body = data.partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.1 200"), head
assert b"onnection: close" not in head, head
t0 = time.monotonic()
s.settimeout(20)
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
except (OSError, ssl.SSLError):
    pass
print("%.1f" % (time.monotonic() - t0))
PY
secs=$(timeout 30 python3 "$T/ka.py" "$PORT" "$PKI" "$TOK" idle) ||
    fail "idle keep-alive client failed: $secs"
awk -v s="$secs" 'BEGIN { exit !(s >= 4.5 && s <= 8) }' ||
    fail "idle kept-alive connection closed after ${secs}s, idle-timeout is 5s"
ok "idle kept-alive connection closed after ${secs}s (idle-timeout 5s)"

secs=$(timeout 30 python3 "$T/ka.py" "$PORT" "$PKI" "$TOK" partial) ||
    fail "pipelining client failed: $secs"
awk -v s="$secs" 'BEGIN { exit !(s >= 0.7 && s <= 3.5) }' ||
    fail "partial pipelined head held ${secs}s, header-timeout is 1s"
wait_until 5 grep -q 'lab-a - "-" - in=0 .* header-timeout$' "$LOG" ||
    fail "the partial head's drop is not logged as header-timeout"
ok "a partial next request buffered after a keep-alive answer: dropped after ${secs}s (header-timeout 1s)"

health_ok "the timeouts"
stop_receiver
[ "$EXIT_STATUS" = 0 ] || fail "exit status $EXIT_STATUS after SIGTERM"
ok "SIGTERM: exit 0"
