# A throw-away PKI and a running cis490-receiver for the integration
# tests, made with openssl at test time.  Source it after lib.sh.
#
#   pki_ca NAME                 CA: $PKI/NAME.pem, $PKI/NAME.key
#   pki_host CA NAME            client cert signed by CA, CN=NAME and
#                               DNS SAN NAME: $PKI/NAME.crt, $PKI/NAME.key
#                               (a cert from another CA: pki_host other x)
#   pki_server CA               server cert for 127.0.0.1, ::1, localhost:
#                               $PKI/server.crt, $PKI/server.key
#   pki_token NAME              a fresh token for NAME in $PKI/tokens
#                               (mode 0600), echoed; $PKI/NAME.token too
#   pki_setup                   ca, other (an unrelated CA), hosts lab-a,
#                               lab-b (ca), intruder (other), server
#
#   free_port                   a free loopback TCP port
#   receiver_conf [EXTRA...]    $T/receiver.conf with storage in $T/store
#   start_receiver LOG          starts $RECEIVER -d, sets RECEIVER_PID,
#                               waits until it listens
#   rcurl HOST [CURLARGS...]    curl as HOST (certificate and token),
#                               prints the status code
#   zst_file PATH SIZE          SIZE random bytes compressed to PATH
#   digest_of PATH              its Repr-Digest value

: "${RECEIVER:?set RECEIVER to the cis490-receiver binary to test}"
[ -x "$RECEIVER" ] || { echo "FAIL: $RECEIVER is not an executable"; exit 1; }
for tool in openssl curl zstd python3; do
	command -v "$tool" >/dev/null 2>&1 ||
	    { echo "FAIL: $tool is not installed (make deps installs it)";
	      exit 1; }
done

PKI=$T/pki
mkdir -p "$PKI"
chmod 0700 "$PKI"

pki_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.pem" -days 365 \
	    -subj "/CN=cis490 test CA $1" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    2>/dev/null || fail "openssl: CA $1"
	chmod 0600 "$PKI/$1.key"
}

# pki_sign CA NAME EXTENSIONS
pki_sign() {
	pki_sign_cn "$1" "$2" "$2" "$3"
}

pki_host() {
	pki_sign "$1" "$2" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=DNS:$2"
}

pki_server() {
	pki_sign "$1" server "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"
}

pki_token() {
	local tok
	tok=$(openssl rand -hex 32) || fail "openssl rand"
	echo "$1 $tok" >>"$PKI/tokens"
	chmod 0600 "$PKI/tokens"
	echo "$tok" >"$PKI/$1.token"
	echo "$tok"
}

pki_setup() {
	pki_ca ca
	pki_ca other
	pki_host ca lab-a
	pki_host ca lab-b
	pki_host other intruder
	pki_server ca
	: >"$PKI/tokens"
	pki_token lab-a >/dev/null
	pki_token lab-b >/dev/null
	pki_token intruder >/dev/null
}

free_port() {
	python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

receiver_conf() {
	local l
	PORT=$(free_port)
	STORE=$T/store
	mkdir -p "$STORE"
	if [ "$(id -u)" = 0 ]; then
		chown daemon "$STORE"
	fi
	{
		echo "listen 127.0.0.1 port $PORT"
		echo "storage-root \"$STORE\""
		[ "$(id -u)" = 0 ] && echo "user daemon"
		echo "ca \"$PKI/ca.pem\""
		echo "certificate \"$PKI/server.crt\""
		echo "key \"$PKI/server.key\""
		echo "tokens-file \"$PKI/tokens\""
		for l in "$@"; do
			echo "$l"
		done
	} >"$T/receiver.conf"
	RCONF=$T/receiver.conf
	URL=https://127.0.0.1:$PORT
}

receiver_listening() {
	grep -q 'parent: listening on' "$LOG"
}

start_receiver() {
	LOG=$1
	shift
	"$RECEIVER" -d -f "$RCONF" "$@" 2>"$LOG" &
	RECEIVER_PID=$!
	STARTED_PIDS="$STARTED_PIDS $RECEIVER_PID"
	wait_until 10 receiver_listening || fail "receiver not listening"
}

# The receiver's server process (its only child).
server_pid() {
	ps -o pid= --ppid "$RECEIVER_PID" | tr -d ' '
}

stop_receiver() {
	kill -TERM "$RECEIVER_PID"
	wait_until 5 gone "$RECEIVER_PID" ||
	    fail "receiver still up 5 s after SIGTERM"
	wait "$RECEIVER_PID"
	EXIT_STATUS=$?
}

# rcurl HOST [CURLARGS...]: the status code on stdout, the body in
# $T/body, the headers in $T/headers.  RTOKEN=... overrides the token.
rcurl() {
	local h=$1
	shift
	curl -sS -o "$T/body" -D "$T/headers" -w '%{http_code}' \
	    --max-time 20 --cacert "$PKI/ca.pem" \
	    --cert "$PKI/$h.crt" --key "$PKI/$h.key" \
	    -H "Authorization: Bearer ${RTOKEN:-$(cat "$PKI/$h.token")}" "$@"
}

zst_file() {
	head -c "$2" /dev/urandom | zstd -q -c >"$1" || fail "zstd"
}

digest_of() {
	echo "sha-256=:$(openssl dgst -sha256 -binary "$1" | base64 -w0):"
}

now_rfc3339() {
	date -u +%Y-%m-%dT%H:%M:%SZ
}

# stalled_put ID FILE BYTES: in the background (PID in STALLED_PID), PUT
# FILE as lab-a's episode ID with its headers, send the zstd magic and
# BYTES more, then stall for 8 s without finishing the body.
stalled_put() {
	python3 - "$PORT" "$PKI" "$1" "$(digest_of "$2")" \
	    "$(stat -c %s "$2")" "$(now_rfc3339)" "$3" <<'PY' &
import socket, ssl, sys, time
port, pki, ep, digest, size, now, more = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=pki + "/ca.pem")
ctx.load_cert_chain(pki + "/lab-a.crt", pki + "/lab-a.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
    server_hostname="127.0.0.1")
tok = open(pki + "/lab-a.token").read().strip()
s.sendall(("PUT /v1/episodes/lab-a/%s HTTP/1.1\r\nHost: x\r\n"
    "Authorization: Bearer %s\r\nRepr-Digest: %s\r\nContent-Length: %s\r\n"
    "Episode-Time: %s\r\n\r\n" % (ep, tok, digest, size, now)).encode())
s.sendall(b"\x28\xb5\x2f\xfd" + b"x" * int(more))
time.sleep(8)
PY
	STALLED_PID=$!
	STARTED_PIDS="$STARTED_PIDS $STALLED_PID"
}

# put HOST ID FILE [CURLARGS...]: PUT an archive as HOST, status out.
# EPTIME=... overrides the Episode-Time (default: now).
put() {
	local h=$1 id=$2 f=$3
	shift 3
	rcurl "$h" -X PUT -T "$f" -H "Content-Type: application/zstd" \
	    -H "Repr-Digest: $(digest_of "$f")" \
	    -H "Episode-Time: ${EPTIME:-$(now_rfc3339)}" "$@" \
	    "$URL/v1/episodes/$h/$id"
}

# Identity variants (added; the functions above are unchanged).
#
#   pki_sign_cn CA FILE CN EXTENSIONS
#                               like pki_sign, but the subject CN is CN
#                               and the files are $PKI/FILE.{crt,key}
#   pki_host_cn_only CA NAME    client cert with CN=NAME and no SAN
#   pki_host_san_only CA NAME   client cert with DNS SAN NAME and a CN
#                               that is no host name at all
#   pki_host_cn_san CA FILE CN SAN
#                               client cert with CN=CN and DNS SAN SAN:
#                               $PKI/FILE.crt, $PKI/FILE.key
pki_sign_cn() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$PKI/$2.key" -out "$PKI/$2.csr" \
	    -subj "/CN=$3" 2>/dev/null || fail "openssl: key for $2"
	printf '%s\n' "$4" >"$PKI/$2.ext"
	openssl x509 -req -in "$PKI/$2.csr" -CA "$PKI/$1.pem" \
	    -CAkey "$PKI/$1.key" -CAcreateserial -days "${PKI_DAYS:-90}" \
	    -extfile "$PKI/$2.ext" -out "$PKI/$2.crt" 2>/dev/null ||
	    fail "openssl: certificate for $2"
	chmod 0600 "$PKI/$2.key"
}

pki_host_cn_only() {
	pki_sign_cn "$1" "$2" "$2" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
	openssl x509 -in "$PKI/$2.crt" -noout -ext subjectAltName 2>/dev/null |
	    grep -q DNS && fail "pki_host_cn_only: $2 has a SAN"
	return 0
}

pki_host_san_only() {
	pki_sign_cn "$1" "$2" "cis490 test client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=DNS:$2"
}

pki_host_cn_san() {
	pki_sign_cn "$1" "$2" "$3" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=DNS:$4"
}

#   rraw HOST                   send stdin's bytes as they are over TLS
#                               as HOST, read one final response (or
#                               until the receiver closes, at most
#                               RRAW_WAIT s, default 5); print
#                               the first final status ("none" if none
#                               came), all read bytes in $T/raw.out
rraw() {
	[ -f "$T/rraw.py" ] || cat >"$T/rraw.py" <<'PY'
import socket, ssl, sys, time
port, pki, host, wait, out = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=pki + "/ca.pem")
ctx.load_cert_chain(pki + "/" + host + ".crt", pki + "/" + host + ".key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
    server_hostname="127.0.0.1")
s.sendall(sys.stdin.buffer.read())
data = b""
end = time.monotonic() + float(wait)

def complete(d):
    # One final response, head and Content-Length body, is in.
    while True:
        head, sep, rest = d.partition(b"\r\n\r\n")
        if not sep:
            return False
        if not head.startswith(b"HTTP/1.1 1"):
            break
        d = rest
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    return len(rest) >= n

try:
    while time.monotonic() < end and not complete(data):
        s.settimeout(max(0.05, end - time.monotonic()))
        b = s.recv(65536)
        if not b:
            break
        data += b
except (OSError, ssl.SSLError):
    pass
open(out, "wb").write(data)
status = "none"
for line in data.split(b"\r\n"):
    if line.startswith(b"HTTP/1.1 ") and not line.startswith(b"HTTP/1.1 1"):
        status = line.split()[1].decode()
        break
print(status)
PY
	python3 "$T/rraw.py" "$PORT" "$PKI" "$1" "${RRAW_WAIT:-5}" "$T/raw.out"
}
