# cis490-receiver's HTTP API (DESIGN §5) with real curl over mutual TLS:
# status codes, JSON error bodies, byte-identical storage, what is
# refused and that a refusal stores nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"

pki_setup
receiver_conf "max-body-size 1M" "accept-window past 1d future 10m"
start_receiver "$T/log"

tmp_empty() {
	[ -z "$(ls -A "$STORE/.tmp")" ]
}

# expect WANT ERROR-CODE WHAT: check the last rcurl's status and body.
expect_err() {
	[ "$1" = "$2" ] || fail "$4: status $1, expected $2 ($(cat "$T/body"))"
	jq -e --arg e "$3" '.error == $e and (.detail | length > 0)' \
	    "$T/body" >/dev/null || fail "$4: body $(cat "$T/body")"
}

# 1. ping and health.
s=$(rcurl lab-a -X POST "$URL/v1/ping")
[ "$s" = 200 ] || fail "ping: $s"
jq -e '.ok == true and .host == "lab-a" and (.time | test("^[0-9-]+T[0-9:]+Z$"))' \
    "$T/body" >/dev/null || fail "ping body: $(cat "$T/body")"
s=$(curl -sS -o "$T/body" -w '%{http_code}' --cacert "$PKI/ca.pem" \
    --cert "$PKI/lab-b.crt" --key "$PKI/lab-b.key" "$URL/v1/health")
[ "$s" = 200 ] || fail "health without a token: $s"
[ "$(cat "$T/body")" = '{"ok":true}' ] || fail "health body: $(cat "$T/body")"
ok "ping 200 with host and time; health 200 without a token"

# 2. Store, duplicate, conflict, HEAD.
zst_file "$T/ep1.zst" 300000
zst_file "$T/other.zst" 1000
s=$(put lab-a ep-1 "$T/ep1.zst")
[ "$s" = 201 ] || fail "new PUT: $s $(cat "$T/body")"
cmp "$T/ep1.zst" "$STORE/lab-a/ep-1.tar.zst" || fail "stored bytes differ"
grep -qi "^Repr-Digest: $(digest_of "$T/ep1.zst")" "$T/headers" ||
    fail "201 without the digest"
ok "new PUT: 201, stored byte-identical"
s=$(put lab-a ep-1 "$T/ep1.zst")
[ "$s" = 200 ] || fail "same PUT again: $s"
jq -e '.duplicate == true' "$T/body" >/dev/null || fail "duplicate body"
s=$(put lab-a ep-1 "$T/other.zst")
expect_err "$s" 409 conflict "other bytes under a stored id"
cmp "$T/ep1.zst" "$STORE/lab-a/ep-1.tar.zst" || fail "409 replaced the file"
ok "same PUT again: 200; other bytes: 409 and the archive unchanged"

s=$(rcurl lab-a -I "$URL/v1/episodes/lab-a/ep-1")
[ "$s" = 200 ] || fail "HEAD stored: $s"
grep -qi "^Repr-Digest: $(digest_of "$T/ep1.zst")" "$T/headers" ||
    fail "HEAD digest: $(cat "$T/headers")"
s=$(rcurl lab-a -I "$URL/v1/episodes/lab-a/ep-nope")
[ "$s" = 404 ] || fail "HEAD unknown: $s"
ok "HEAD: 200 with the digest, 404 for an unknown id"

# 3. Certificates and tokens.
curl -sS -o /dev/null --max-time 10 --cacert "$PKI/ca.pem" -X POST \
    -H "Authorization: Bearer $(cat "$PKI/lab-a.token")" \
    "$URL/v1/ping" 2>"$T/err" && fail "no client certificate: accepted"
curl -sS -o /dev/null --max-time 10 --cacert "$PKI/ca.pem" \
    --cert "$PKI/intruder.crt" --key "$PKI/intruder.key" -X POST \
    -H "Authorization: Bearer $(cat "$PKI/intruder.token")" \
    "$URL/v1/ping" 2>"$T/err" && fail "other CA: accepted"
wait_until 5 grep -q "TLS handshake failed" "$LOG" ||
    fail "failed handshakes not logged"
ok "no client certificate, or one from another CA: handshake fails"

s=$(rcurl lab-a -X PUT -T "$T/ep1.zst" -H "Repr-Digest: $(digest_of "$T/ep1.zst")" \
    -H "Episode-Time: $(now_rfc3339)" "$URL/v1/episodes/lab-b/ep-x")
expect_err "$s" 403 forbidden "lab-a's certificate on lab-b's URL"
s=$(curl -sS -o "$T/body" -w '%{http_code}' --cacert "$PKI/ca.pem" \
    --cert "$PKI/lab-a.crt" --key "$PKI/lab-a.key" -X POST "$URL/v1/ping")
expect_err "$s" 401 unauthorized "no token"
s=$(RTOKEN=$(cat "$PKI/lab-b.token") rcurl lab-a -X POST "$URL/v1/ping")
expect_err "$s" 401 unauthorized "lab-b's token with lab-a's certificate"
s=$(RTOKEN=x$(cat "$PKI/lab-a.token") rcurl lab-a -X POST "$URL/v1/ping")
expect_err "$s" 401 unauthorized "wrong token"
[ ! -e "$STORE/lab-b" ] || fail "403 stored something"
ok "other host's URL: 403; missing or wrong token: 401"

# 4. Malformed uploads store nothing.
long=$(printf 'a%.0s' $(seq 200))
for id in .. a/b .hidden "$long" 'a%2Fb'; do
	s=$(put lab-a x "$T/ep1.zst" --request-target "/v1/episodes/lab-a/$id")
	expect_err "$s" 400 bad-id "id $id"
done
ok "ids .., a/b, .hidden, 200 characters, %2F: 400"

s=$(rcurl lab-a -X PUT -T "$T/ep1.zst" \
    -H "Repr-Digest: $(digest_of "$T/other.zst")" \
    -H "Episode-Time: $(now_rfc3339)" "$URL/v1/episodes/lab-a/ep-2")
expect_err "$s" 400 digest-mismatch "digest mismatch"
s=$(rcurl lab-a -X PUT -T "$T/ep1.zst" -H "Episode-Time: $(now_rfc3339)" \
    "$URL/v1/episodes/lab-a/ep-2")
expect_err "$s" 400 bad-digest "no Repr-Digest"
head -c 5000 /dev/urandom >"$T/plain"
s=$(put lab-a ep-2 "$T/plain")
expect_err "$s" 400 not-zstd "not zstd"
[ ! -e "$STORE/lab-a/ep-2.tar.zst" ] || fail "a refused upload was stored"
tmp_empty || fail "temp files left: $(ls -A "$STORE/.tmp")"
ok "digest mismatch, missing digest, not zstd: 400, nothing stored"

s=$(put lab-a ep-3 "$T/ep1.zst" -H "Transfer-Encoding: chunked")
expect_err "$s" 411 length-required "chunked without Content-Length"

head -c 3000000 /dev/urandom >"$T/big.raw"
zstd -q -1 -c "$T/big.raw" >"$T/big.zst"
for expect in "Expect: 100-continue" "Expect:"; do
	s=$(put lab-a ep-3 "$T/big.zst" -H "$expect")
	expect_err "$s" 413 too-large "over max-body-size ($expect)"
done
grep 'PUT "/v1/episodes/lab-a/ep-3" 413 in=0 ' "$LOG" >/dev/null ||
    fail "413 read the body"
[ ! -e "$STORE/lab-a/ep-3.tar.zst" ] || fail "413 stored"
ok "chunked: 411; over the limit: 413 before any body byte is read"

old=$(date -u -d '-2 days' +%Y-%m-%dT%H:%M:%SZ)
new=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%S+00:00)
for t in "$old" "$new"; do
	s=$(EPTIME=$t put lab-a ep-4 "$T/ep1.zst")
	expect_err "$s" 412 out-of-window "Episode-Time $t"
done
s=$(EPTIME=yesterday put lab-a ep-4 "$T/ep1.zst")
expect_err "$s" 400 bad-episode-time "Episode-Time yesterday"
s=$(EPTIME=$(date -u -d '-22 hours' +%Y-%m-%dT%H:%M:%S.25-02:00) \
    put lab-a ep-4 "$T/ep1.zst")
[ "$s" = 201 ] || fail "Episode-Time inside the window: $s"
[ ! -e "$STORE/lab-b" ] && tmp_empty || fail "leftovers"
ok "Episode-Time outside the window: 412; malformed: 400"

# 5. Two uploads of one id at once: exactly one stores.
zst_file "$T/race1.zst" 600000
zst_file "$T/race2.zst" 600000
race() {
	# race ID FILE1 FILE2: both bodies in flight together.
	put lab-a "$1" "$2" --limit-rate 400K >"$T/r1" 2>&1 &
	local p1=$!
	put lab-a "$1" "$3" --limit-rate 400K >"$T/r2" 2>&1 &
	local p2=$!
	wait "$p1" "$p2"
	sort "$T/r1" "$T/r2" | tr '\n' ' '
}
r=$(race ep-r1 "$T/race1.zst" "$T/race1.zst")
[ "$r" = "200 201 " ] || fail "same bytes raced: $r"
cmp "$T/race1.zst" "$STORE/lab-a/ep-r1.tar.zst" || fail "race: bytes differ"
r=$(race ep-r2 "$T/race1.zst" "$T/race2.zst")
[ "$r" = "201 409 " ] || fail "different bytes raced: $r"
cmp -s "$T/race1.zst" "$STORE/lab-a/ep-r2.tar.zst" ||
    cmp -s "$T/race2.zst" "$STORE/lab-a/ep-r2.tar.zst" ||
    fail "race: stored archive is neither upload"
# Both bodies were read: the loser lost at the link, not at the lookup.
grep -q 'PUT "/v1/episodes/lab-a/ep-r1" 200 in=[1-9]' "$LOG" &&
    grep -q 'PUT "/v1/episodes/lab-a/ep-r2" 409 in=[1-9]' "$LOG" ||
    fail "the racing uploads did not overlap"
tmp_empty || fail "race left temp files"
ok "two PUTs of one id at once: 201 + 200 (same bytes), 201 + 409 (other)"

# 6. A digest file lost in a crash is recomputed, not trusted blindly.
rm "$STORE/lab-a/ep-1.tar.zst.sha256"
s=$(rcurl lab-a -I "$URL/v1/episodes/lab-a/ep-1")
[ "$s" = 200 ] || fail "HEAD without a digest file: $s"
grep -qi "^Repr-Digest: $(digest_of "$T/ep1.zst")" "$T/headers" ||
    fail "recomputed digest wrong"
[ -s "$STORE/lab-a/ep-1.tar.zst.sha256" ] || fail "digest file not rewritten"
ok "missing digest file: recomputed once and written back"

# 7. Keep-alive: several requests on one connection.
curl -sS --cacert "$PKI/ca.pem" --cert "$PKI/lab-a.crt" \
    --key "$PKI/lab-a.key" -H "Authorization: Bearer $(cat "$PKI/lab-a.token")" \
    -o /dev/null -o /dev/null -o /dev/null -X POST \
    "$URL/v1/ping" "$URL/v1/ping" "$URL/v1/ping" -w '%{num_connects}\n' \
    >"$T/nc" || fail "keep-alive pings"
[ "$(tr -d '\n' <"$T/nc")" = 100 ] || fail "connections used: $(cat "$T/nc")"
ok "HTTP/1.1 keep-alive: three requests on one connection"

# 8. Access log: identity, method, escaped path, status, bytes, time.
grep -E 'server: access 127\.0\.0\.1:[0-9]+ lab-a PUT "/v1/episodes/lab-a/ep-1" 201 in=[0-9]+ out=[0-9]+ [0-9]+\.[0-9]{3}s$' \
    "$LOG" >/dev/null || fail "no access log line for the 201"
[ "$(grep -c 'server: access' "$LOG")" -ge 25 ] || fail "access lines missing"
ok "one access-log line per request"

stop_receiver
[ "$EXIT_STATUS" = 0 ] || fail "exit status $EXIT_STATUS after SIGTERM"
ok "SIGTERM: exit 0"
