# cis490-receiver under load: 20 concurrent clients x 10 PUTs of 1 MiB
# all stored intact while a slowloris connection dribbles its request
# head; the slowloris is dropped after header-timeout, and a client
# beyond max-connections gets 503 with Retry-After.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

pki_setup
receiver_conf "header-timeout 4s" "max-connections 40"
start_receiver "$T/log"

tmp_empty() {
	[ -z "$(ls -A "$STORE/.tmp")" ]
}

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

for c in $(seq 1 20); do
	head -c 1048576 /dev/urandom >"$T/raw$c"
	zstd -q -1 -c "$T/raw$c" >"$T/f$c.zst"
done
start=$(date +%s)
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
	eval "cpid$c=$!"
done
for c in $(seq 1 20); do
	eval "wait \$cpid$c"
done
took=$(( $(date +%s) - start ))
n=$(cat "$T"/client*.out | grep -c ' 201$')
[ "$n" = 200 ] || fail "$n of 200 PUTs got 201: $(cat "$T"/client*.out | grep -v ' 201$' | head -5)"
for c in $(seq 1 20); do
	for i in $(seq 1 10); do
		cmp -s "$T/f$c.zst" "$STORE/lab-a/c$c-$i.tar.zst" ||
		    fail "c$c-$i stored differently"
	done
done
tmp_empty || fail "temp files left"
ok "20 clients x 10 PUTs of 1 MiB: 200 x 201, all intact (${took}s)"

wait "$slowpid"
read -r what secs <"$T/slow.out" || fail "slowloris: no result"
[ "$what" = closed ] || fail "slowloris: $(cat "$T/slow.out")"
awk -v s="$secs" 'BEGIN { exit !(s >= 3.5 && s <= 8) }' ||
    fail "slowloris held for ${secs}s, header-timeout is 4s"
grep -q 'lab-b - "-" - in=0 .* header-timeout' "$LOG" ||
    fail "slowloris drop not logged"
ok "slowloris dropped after ${secs}s (header-timeout 4s), others unharmed"

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
