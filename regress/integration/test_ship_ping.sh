# `cis490-shipper ping` against the real receiver: one line on stdout
# that names the step that failed (name resolution, TCP connection,
# TLS, HTTP) and why, exit 1; "OK: ..." and exit 0 when all is well.
# A ping starts only the uploader, leaves the data tree alone and
# stores nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

ship_setup

# A ready episode that no ping may touch.
new_episode ep-ping
mark_ready ep-ping
(cd "$DATA" && find . -printf '%p %y %m %s %T@\n' | LC_ALL=C sort) >"$T/tree.before"

# expect_ping NAME RC REGEX: run ping with the current shipper.conf.
expect_ping() {
	ship_ping "$1" 30
	[ "$PING_RC" = "$2" ] ||
	    fail "$1: exit $PING_RC, expected $2: $(cat "$T/$1.out")"
	[ "$(wc -l <"$T/$1.out")" = 1 ] ||
	    fail "$1: not one line: $(cat "$T/$1.out")"
	grep -q -E "$3" "$T/$1.out" ||
	    fail "$1: printed '$(cat "$T/$1.out")', expected /$3/"
}

ship_conf
expect_ping ok 0 "^OK: https://127\.0\.0\.1:$PORT answers as lab-a, receiver time [0-9-]+T[0-9:]+Z"
ok "good setup: OK, exit 0"

SHIP_URL=https://localhost:$PORT ship_conf
expect_ping localhost 0 "^OK: https://localhost:$PORT answers as lab-a"
ok "by name (localhost): OK, exit 0"

# Wrong CA: we cannot verify the receiver.
SHIP_CA=$PKI/other.pem ship_conf
expect_ping wrong-ca 1 \
    "^FAILED at TLS: https://127\.0\.0\.1:$PORT: .*certificate (problem|verif)"
ok "wrong CA: FAILED at TLS, certificate verification, exit 1"

# A host certificate from another CA: the receiver refuses it.
n0=$(grep -c 'TLS handshake failed' "$RLOG")
SHIP_CERT=$PKI/intruder.crt SHIP_KEY=$PKI/intruder.key ship_conf
expect_ping other-ca-cert 1 "^FAILED at TLS: https://127\.0\.0\.1:$PORT: ."
wait_until 5 eval '[ "$(grep -c "TLS handshake failed" "$RLOG")" -gt "$n0" ]' ||
    fail "other CA's certificate: the receiver logged no failed handshake"
ok "certificate from another CA: FAILED at TLS, refused in the handshake, exit 1"

# Right CA, wrong host's certificate for lab-a's token: HTTP 401.
SHIP_CERT=$PKI/lab-b.crt SHIP_KEY=$PKI/lab-b.key ship_conf
expect_ping other-host 1 "^FAILED at HTTP: https://127\.0\.0\.1:$PORT: .*401"
ok "lab-b's certificate with lab-a's token: FAILED at HTTP (401), exit 1"

# Nobody listening.
p=$(free_port)
SHIP_URL=https://127.0.0.1:$p ship_conf
expect_ping down 1 "^FAILED at TCP connection: https://127\.0\.0\.1:$p: ."
ok "nobody listening: FAILED at TCP connection, exit 1"

# A name that cannot resolve (RFC 6761 .invalid).
SHIP_URL=https://no-such-host.invalid:1 ship_conf
expect_ping resolve 1 "^FAILED at name resolution: https://no-such-host\.invalid:1: ."
ok "unknown host name: FAILED at name resolution, exit 1"

[ -d "$DATA/episodes/ep-ping" ] || fail "a ping moved the episode"
(cd "$DATA" && find . -printf '%p %y %m %s %T@\n' | LC_ALL=C sort) >"$T/tree.after"
diff "$T/tree.before" "$T/tree.after" >"$T/tree.diff" ||
    fail "a ping changed the data tree: $(head "$T/tree.diff")"
for f in "$T"/*.log; do
	case $f in */receiver*) continue ;; esac
	grep -q -E '^(scanner|packer): started' "$f" &&
	    fail "$(basename "$f" .log): ping started more than the uploader"
done
spool_empty || fail "a ping packed: $(ls -A "$DATA/spool")"
[ ! -e "$STORE/lab-a" ] || [ -z "$(ls -A "$STORE/lab-a")" ] ||
    fail "a ping stored: $(ls "$STORE/lab-a")"
access_lines 'PUT ' && fail "a ping uploaded"
n=$(access_lines 'POST "/v1/ping" 200' | wc -l)
[ "$n" = 2 ] || fail "$n successful pings in the access log, expected 2"
ok "pings started only the uploader, left the data tree as it was, stored nothing"
