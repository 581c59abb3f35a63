# cis490-receiver under load: 20 concurrent clients x 10 PUTs of 1 MiB
# all stored intact while a slowloris (request head never finished) and
# a slow body stay connected the whole time, both served afterwards;
# then, with a short header-timeout, a slowloris is dropped after it,
# and a client beyond max-connections gets 503 with Retry-After.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

pki_setup
# Timeouts far beyond the load phase: the slow clients are not to be
# dropped by design while it runs.
receiver_conf "header-timeout 300s" "body-timeout 300s" "max-connections 40"
start_receiver "$T/log"

tmp_empty() {
	[ -z "$(ls -A "$STORE/.tmp")" ]
}
access_lines() {
	grep -c 'server: access ' "$LOG"
}

# slowconn.py head|body PORT PKI STOPFILE READYFILE [FILE DIGEST NOW]:
# dribble a request head (head) or a PUT body (body) until STOPFILE
# appears, checking all along that the receiver has not closed; then
# finish the request and print "alive STATUS", or "dropped SECONDS".
cat >"$T/slowconn.py" <<'PY'
import os, select, socket, ssl, sys, time
mode, port, pki, stop, ready = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=pki + "/ca.pem")
ctx.load_cert_chain(pki + "/lab-b.crt", pki + "/lab-b.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
    server_hostname="127.0.0.1")
tok = open(pki + "/lab-b.token").read().strip()
start = time.monotonic()
if mode == "head":
    s.sendall(b"POST /v1/ping HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    rest = ("\r\nAuthorization: Bearer %s\r\n\r\n" % tok).encode()
else:
    f, digest, now = sys.argv[6:9]
    body = open(f, "rb").read()
    s.sendall(("PUT /v1/episodes/lab-b/slowbody HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer %s\r\nRepr-Digest: %s\r\n"
        "Content-Length: %d\r\nEpisode-Time: %s\r\n\r\n"
        % (tok, digest, len(body), now)).encode())
open(ready, "w").close()
sent = 0
try:
    while not os.path.exists(stop):
        if time.monotonic() - start > 200:
            raise OSError("never told to stop")
        if select.select([s], [], [], 0)[0]:
            # Readable may be a TLS 1.3 session ticket, not data.
            s.setblocking(False)
            try:
                d = s.recv(1)
                raise OSError("the receiver answered" if d else
                    "the receiver closed")
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            s.setblocking(True)
        if mode == "head":
            s.sendall(b"a")
        else:
            # 100 bytes a step: 200 KB would take over 5 minutes.
            s.sendall(body[sent:sent + 100])
            sent += 100
        time.sleep(0.2)
    s.sendall(rest if mode == "head" else body[sent:])
    data = b""
    s.settimeout(20)
    while b"\r\n" not in data:
        b = s.recv(4096)
        if not b:
            break
        data += b
    print("alive", data.split(b" ")[1].decode() if data else "none")
except (OSError, ssl.SSLError) as e:
    print("dropped %.1f %s" % (time.monotonic() - start, e))
PY
zst_file "$T/slowbody.zst" 200000
python3 "$T/slowconn.py" head "$PORT" "$PKI" "$T/stop" "$T/head.up" \
    >"$T/head.out" 2>&1 &
headpid=$!
python3 "$T/slowconn.py" body "$PORT" "$PKI" "$T/stop" "$T/body.up" \
    "$T/slowbody.zst" "$(digest_of "$T/slowbody.zst")" "$(now_rfc3339)" \
    >"$T/body.out" 2>&1 &
bodypid=$!
STARTED_PIDS="$STARTED_PIDS $headpid $bodypid"
wait_until 5 test -e "$T/head.up" -a -e "$T/body.up" ||
    fail "slow clients did not connect"

for c in $(seq 1 20); do
	head -c 1048576 /dev/urandom >"$T/raw$c"
	zstd -q -1 -c "$T/raw$c" >"$T/f$c.zst"
done
mark=$(access_lines)
start=$(date +%s)
cpids=""
for c in $(seq 1 20); do
	(
		for i in $(seq 1 10); do
			s=$(curl -sS -o /dev/null -w '%{http_code}' \
			    --max-time 60 --cacert "$PKI/ca.pem" \
			    --cert "$PKI/lab-a.crt" --key "$PKI/lab-a.key" \
			    -H "Authorization: Bearer $(cat "$PKI/lab-a.token")" \
			    -H "Repr-Digest: $(digest_of "$T/f$c.zst")" \
			    -H "Episode-Time: $(now_rfc3339)" \
			    -T "$T/f$c.zst" "$URL/v1/episodes/lab-a/c$c-$i")
			echo "c$c-$i $s"
		done
	) >"$T/client$c.out" 2>&1 &
	cpids="$cpids $!"
done
# The whole phase is bounded.
wait_until 150 all_gone $cpids || fail "the load phase took over 150 s"
for p in $cpids; do
	wait "$p"
done
took=$(( $(date +%s) - start ))
# The slow clients are still connected now that the last PUT is done.
gone "$headpid" && fail "slowloris gone during the load: $(cat "$T/head.out")"
gone "$bodypid" && fail "slow body gone during the load: $(cat "$T/body.out")"
n=$(cat "$T"/client*.out | grep -c ' 201$')
[ "$n" = 200 ] || fail "$n of 200 PUTs got 201: $(cat "$T"/client*.out | grep -v ' 201$' | head -5)"
for c in $(seq 1 20); do
	for i in $(seq 1 10); do
		cmp -s "$T/f$c.zst" "$STORE/lab-a/c$c-$i.tar.zst" ||
		    fail "c$c-$i stored differently"
	done
done
wait_until 5 sh -c "[ \$(grep -c 'server: access ' '$LOG') -ge $((mark + 200)) ]"
n=$(( $(access_lines) - mark ))
[ "$n" = 200 ] || fail "$n access lines for 200 PUTs"
[ "$(grep -c 'server: access .* lab-a PUT "/v1/episodes/lab-a/c[0-9]*-[0-9]*" 201 in=[1-9]' "$LOG")" = 200 ] ||
    fail "not 200 access lines of stored PUTs"
ok "20 clients x 10 PUTs of 1 MiB: 200 x 201, all intact, 200 access lines (${took}s)"

# Now the slow ones finish, on the connections they held all along.
touch "$T/stop"
wait_until 20 all_gone "$headpid" "$bodypid" || fail "slow clients did not finish"
wait "$headpid" "$bodypid"
[ "$(cat "$T/head.out")" = "alive 200" ] || fail "slowloris: $(cat "$T/head.out")"
[ "$(cat "$T/body.out")" = "alive 201" ] || fail "slow body: $(cat "$T/body.out")"
cmp -s "$T/slowbody.zst" "$STORE/lab-b/slowbody.tar.zst" || fail "slow body stored differently"
tmp_empty || fail "temp files left"
ok "a slowloris and a slow body held through the load, then served: 200 and 201"

stop_receiver
[ "$EXIT_STATUS" = 0 ] || fail "exit status $EXIT_STATUS after SIGTERM"

# With header-timeout 3s a slowloris is dropped after it.
receiver_conf "header-timeout 3s" "max-connections 40"
start_receiver "$T/log2"

# slowloris HOLD-SECONDS: one header byte every 0.2 s; prints how long
# the receiver kept the connection.
cat >"$T/slow.py" <<'PY'
import socket, ssl, sys, time
port, pki, hold, mark = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=pki + "/ca.pem")
ctx.load_cert_chain(pki + "/lab-b.crt", pki + "/lab-b.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
    server_hostname="127.0.0.1")
start = time.monotonic()
open(mark, "w").close()
head = b"PUT /v1/episodes/lab-b/slow HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
try:
    for b in head:
        s.send(bytes([b]))
        time.sleep(0.2)
        if time.monotonic() - start > hold:
            break
    s.settimeout(hold)
    r = s.recv(1)
    print("closed %.1f" % (time.monotonic() - start))
except (OSError, ssl.SSLError):
    print("closed %.1f" % (time.monotonic() - start))
PY
python3 "$T/slow.py" "$PORT" "$PKI" 30 "$T/slow.up" >"$T/slow.out" 2>&1 &
slowpid=$!
wait_until 5 test -e "$T/slow.up" || fail "slowloris did not connect"
wait_until 15 gone "$slowpid" || fail "slowloris held over 15 s"
wait "$slowpid"
read -r what secs <"$T/slow.out" || fail "slowloris: no result"
[ "$what" = closed ] || fail "slowloris: $(cat "$T/slow.out")"
awk -v s="$secs" 'BEGIN { exit !(s >= 2.5 && s <= 7) }' ||
    fail "slowloris held for ${secs}s, header-timeout is 3s"
grep -q 'lab-b - "-" - in=0 .* header-timeout' "$LOG" ||
    fail "slowloris drop not logged"
ok "slowloris dropped after ${secs}s (header-timeout 3s)"

# Beyond max-connections: 503 with Retry-After.
cat >"$T/hold.py" <<'PY'
import socket, ssl, sys, time
port, pki, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=pki + "/ca.pem")
ctx.load_cert_chain(pki + "/lab-b.crt", pki + "/lab-b.key")
conns = []
for i in range(n):
    conns.append(ctx.wrap_socket(socket.create_connection(("127.0.0.1",
        int(port))), server_hostname="127.0.0.1"))
print("held", flush=True)
time.sleep(3)
PY
python3 "$T/hold.py" "$PORT" "$PKI" 40 >"$T/hold.out" 2>&1 &
holdpid=$!
wait_until 10 grep -q held "$T/hold.out" || fail "could not open 40 connections"
s=$(rcurl lab-a -X POST "$URL/v1/ping")
[ "$s" = 503 ] || fail "connection 41: $s"
grep -qi '^Retry-After: [0-9]' "$T/headers" || fail "503 without Retry-After"
wait "$holdpid"
wait_until 5 sh -c "[ \"\$(curl -sS -o /dev/null -w '%{http_code}' \
    --cacert '$PKI/ca.pem' --cert '$PKI/lab-a.crt' --key '$PKI/lab-a.key' \
    -H 'Authorization: Bearer $(cat "$PKI/lab-a.token")' -X POST \
    '$URL/v1/ping')\" = 200 ]" || fail "not serving again after the flood"
ok "connection beyond max-connections: 503 with Retry-After"
