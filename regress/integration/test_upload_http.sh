# uploader/http.c against the real receiver, through the upload-tool
# test driver: ping steps and clocks, PUT/HEAD outcomes and their
# classification (DESIGN §6), rate limit, and no file opened during a
# transfer (strace).
. "$(dirname "$0")/lib.sh"
: "${UPLOADTOOL:?set UPLOADTOOL to the upload-tool test driver}"
TOOL=$UPLOADTOOL
. "$(dirname "$0")/pki.sh"
pki_setup
receiver_conf "max-body-size 3M"
start_receiver "$T/receiver.log"

tool() { # tool HOST [CA] args...
	local h=$1 ca=$2; shift 2
	"$TOOL" -u "${TURL:-$URL}" -H "$h" -a "$PKI/$ca.pem" -c "$PKI/$h.crt" -k "$PKI/$h.key" \
	    -t "${TTOKEN:-$PKI/$h.token}" "$@" 2>>"$T/tool.err"
}
expect() { # expect "pattern" output what
	case "$2" in *$1*) ok "$3: $2";; *) fail "$3: want $1, got: $2";; esac
}
zst_file "$T/small.zst" 10000
zst_file "$T/small2.zst" 10000
zst_file "$T/big.zst" 2500000
zst_file "$T/big2.zst" 2500000
zst_file "$T/huge.zst" 3500000
head -c 5000 /dev/urandom >"$T/notzstd"

out=$(tool lab-a ca ping); expect "step=ok status=200" "$out" "ping"
now=$(date +%s); rt=$(echo "$out" | sed 's/.*time=\([0-9]*\).*/\1/'); dt=$(echo "$out" | sed 's/.*date=\([0-9]*\).*/\1/')
[ $((now - rt)) -le 2 ] && [ $((rt - now)) -le 2 ] || fail "receiver time $rt vs $now"
[ $((now - dt)) -le 2 ] && [ $((dt - now)) -le 2 ] || fail "date header $dt vs $now"
ok "ping clocks parsed: time=$rt date=$dt now=$now"

out=$(tool lab-a ca put ep-1 "$T/small.zst"); expect "status=201 action=retire class=stored" "$out" "PUT new"
out=$(tool lab-a ca put ep-1 "$T/small.zst"); expect "status=200 action=retire class=stored" "$out" "PUT again"
out=$(tool lab-a ca put ep-1 "$T/small2.zst"); expect "status=409 action=quarantine class=conflict" "$out" "PUT other bytes"
out=$(tool lab-a ca put ep-big "$T/big.zst"); expect "status=201 action=retire class=stored" "$out" "HEAD 404 then PUT"
echo "$out" | grep -q 'progress=0 ' && fail "no progress callbacks"
out=$(tool lab-a ca put ep-big "$T/big.zst"); expect "status=200 action=retire class=stored retry_after=0 progress=*detail=already stored (HEAD)" "$out" "HEAD match"
out=$(tool lab-a ca put ep-big "$T/big2.zst"); expect "status=200 action=quarantine class=conflict" "$out" "HEAD other digest"
out=$(tool lab-a ca -T 100 put ep-small-head "$T/small.zst"); expect "status=201" "$out" "HEAD path small threshold"
out=$(tool lab-a ca put ep-old "$T/small.zst" 1000000000); expect "status=412 action=quarantine class=out-of-window" "$out" "old Episode-Time"
out=$(tool lab-a ca put ep-junk "$T/notzstd"); expect "status=400 action=quarantine class=bad-request" "$out" "not zstd"
out=$(tool lab-a ca put ep-huge "$T/huge.zst"); expect "status=413 action=quarantine class=too-large" "$out" "too large"
echo bad >"$T/bad.token"
out=$(TTOKEN=$T/bad.token tool lab-a ca put ep-2 "$T/small.zst"); expect "status=401 action=pause class=auth" "$out" "bad token PUT"
out=$(TTOKEN=$T/bad.token tool lab-a ca -T 100 put ep-2 "$T/small.zst"); expect "status=401 action=pause class=auth" "$out" "bad token HEAD"
out=$(TTOKEN=$T/bad.token tool lab-a ca ping); expect "step=http status=401" "$out" "bad token ping"
out=$(TTOKEN=$PKI/lab-b.token tool lab-a ca ping); expect "step=http status=40" "$out" "other host's token ping"
out=$(tool lab-a other ping); expect "step=tls status=0" "$out" "wrong CA ping"
expect "certificate problem: self-signed certificate in certificate chain" "$out" "verify reason"
out=$(tool lab-a other put ep-3 "$T/small.zst"); expect "status=0 action=retry class=transient" "$out" "wrong CA PUT"
out=$(tool intruder ca ping); expect "step=tls status=0" "$out" "client cert from another CA"
cp "$PKI/lab-b.key" "$T/wrongkey"; out=$("$TOOL" -u "$URL" -H lab-a -a "$PKI/ca.pem" -c "$PKI/lab-a.crt" -k "$T/wrongkey" -t "$PKI/lab-a.token" put ep-4 "$T/small.zst" 2>&1)
expect "status=0 action=pause class=auth" "$out" "key does not match certificate"
CPORT=$(free_port)
out=$(TURL=https://127.0.0.1:$CPORT tool lab-a ca ping); expect "step=connect status=0" "$out" "connection refused"
expect "127.0.0.1" "$out" "address named"
out=$(TURL=https://127.0.0.1:$CPORT tool lab-a ca put ep-5 "$T/small.zst"); expect "status=0 action=retry class=transient" "$out" "refused PUT"
out=$(TURL=https://no-such-host.invalid:1 tool lab-a ca ping); expect "step=resolve" "$out" "name resolution"
s=$(date +%s.%N); out=$(tool lab-a ca -r 1000000 put ep-rate "$T/big.zst"); e=$(date +%s.%N)
expect "status=201" "$out" "rate-limited PUT"
awk -v s=$s -v e=$e 'BEGIN { exit !(e - s >= 2.0) }' || fail "rate limit ignored: $(awk -v s=$s -v e=$e 'BEGIN{print e-s}') s"
ok "rate limit: 2.5 MB at 1 MB/s took $(awk -v s=$s -v e=$e 'BEGIN{print e-s}') s"

# strace: after "network:" no open, stat or access on any path.
ASAN_OPTIONS=detect_leaks=0 strace -f -o "$T/strace" -e trace=open,openat,openat2,stat,newfstatat,access,faccessat,faccessat2,readlink,execve,write \
    "$TOOL" -u "$URL" -H lab-a -a "$PKI/ca.pem" -c "$PKI/lab-a.crt" -k "$PKI/lab-a.key" -t "$PKI/lab-a.token" put ep-strace "$T/big.zst" >"$T/strace.out" 2>/dev/null
expect "status=201" "$(cat $T/strace.out)" "PUT under strace"
awk '/write\(2, "network:/ { n = 1; next } n && /open|stat\(|access|readlink|execve/ && !/resumed/' "$T/strace" >"$T/strace.after"
grep -q 'write(2, "network:' "$T/strace" || fail "no marker in strace"
[ -s "$T/strace.after" ] && { cat "$T/strace.after"; fail "files touched during the upload"; }
ok "strace: no open/stat/access after the first request ($(grep -c . "$T/strace") lines traced)"
echo ALL PASSED
