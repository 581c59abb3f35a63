# cis490-receiver's HTTP API (DESIGN §5) with real curl over mutual TLS:
# status codes, JSON error bodies, byte-identical storage, what is
# refused and that a refusal stores nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"

pki_setup
# Identities (DESIGN 5: "CN, or a DNS SAN"): CN only, SAN only, and a
# certificate whose CN and SAN name two hosts, which speaks for both.
pki_host_cn_only ca lab-c
pki_host_san_only ca lab-d
pki_host_cn_san ca mixed lab-e lab-f
for h in lab-c lab-d lab-e lab-f; do
	pki_token "$h" >/dev/null
done
receiver_conf "max-body-size 1M" "accept-window past 1d future 10m"
start_receiver "$T/log"

tmp_empty() {
	[ -z "$(ls -A "$STORE/.tmp")" ]
}

# Phases: the access log has exactly one line per request made.
access_lines() {
	grep -c 'server: access ' "$LOG"
}
phase_start() {
	PHASE_MARK=$(access_lines)
}
phase_lines() {
	[ $(( $(access_lines) - PHASE_MARK )) -ge "$1" ]
}
# phase_end N WHAT: N requests were made since phase_start.
phase_end() {
	wait_until 5 phase_lines "$1"
	n=$(( $(access_lines) - PHASE_MARK ))
	[ "$n" = "$1" ] || fail "$2: $n access lines for $1 requests"
}

# eput HOST ID FILE [CURLARGS...]: PUT with "Expect: 100-continue";
# prints "STATUS BYTES-OF-BODY-SENT".  EHOST=... puts it under another
# host's URL, RTOKEN and EPTIME as for put.  curl waits up to 10 s for
# the 100, so a receiver that neither refuses nor continues shows.
eput() {
	local h=$1 id=$2 f=$3
	shift 3
	curl -sS -o "$T/body" -D "$T/headers" \
	    -w '%{http_code} %{size_upload}' --max-time 30 \
	    --expect100-timeout 10 --cacert "$PKI/ca.pem" \
	    --cert "$PKI/$h.crt" --key "$PKI/$h.key" \
	    -H "Authorization: Bearer ${RTOKEN:-$(cat "$PKI/$h.token")}" \
	    -X PUT -T "$f" -H "Content-Type: application/zstd" \
	    -H "Repr-Digest: $(digest_of "$f")" \
	    -H "Episode-Time: ${EPTIME:-$(now_rfc3339)}" \
	    -H "Expect: 100-continue" "$@" \
	    "$URL/v1/episodes/${EHOST:-$h}/$id"
}

# expect_early WANT ERROR-CODE WHAT: the last eput was refused from its
# head: that status, no 100 Continue, not one body byte sent.
expect_early() {
	local st=${1% *} sent=${1#* }
	expect_err "$st" "$2" "$3" "$4 (Expect)"
	[ "$sent" = 0 ] || fail "$4 (Expect): $sent body bytes sent"
	grep -qi '^HTTP/1\.1 100' "$T/headers" &&
	    fail "$4 (Expect): 100 Continue before the refusal"
	return 0
}

# expect WANT ERROR-CODE WHAT: check the last rcurl's status and body.
expect_err() {
	[ "$1" = "$2" ] || fail "$4: status $1, expected $2 ($(cat "$T/body"))"
	jq -e --arg e "$3" '.error == $e and (.detail | length > 0)' \
	    "$T/body" >/dev/null || fail "$4: body $(cat "$T/body")"
}

# 1. ping and health.
phase_start
s=$(rcurl lab-a -X POST "$URL/v1/ping")
[ "$s" = 200 ] || fail "ping: $s"
jq -e '.ok == true and .host == "lab-a" and (.time | test("^[0-9-]+T[0-9:]+Z$"))' \
    "$T/body" >/dev/null || fail "ping body: $(cat "$T/body")"
s=$(curl -sS -o "$T/body" -w '%{http_code}' --cacert "$PKI/ca.pem" \
    --cert "$PKI/lab-b.crt" --key "$PKI/lab-b.key" "$URL/v1/health")
[ "$s" = 200 ] || fail "health without a token: $s"
[ "$(cat "$T/body")" = '{"ok":true}' ] || fail "health body: $(cat "$T/body")"
phase_end 2 "ping and health"
ok "ping 200 with host and time; health 200 without a token"

# 2. Store, duplicate, conflict, HEAD.
phase_start
zst_file "$T/ep1.zst" 300000
zst_file "$T/other.zst" 1000
s=$(put lab-a ep-1 "$T/ep1.zst")
[ "$s" = 201 ] || fail "new PUT: $s $(cat "$T/body")"
cmp "$T/ep1.zst" "$STORE/lab-a/ep-1.tar.zst" || fail "stored bytes differ"
grep -qi "^Repr-Digest: $(digest_of "$T/ep1.zst")" "$T/headers" ||
    fail "201 without the digest"
[ -s "$STORE/lab-a/ep-1.tar.zst.sha256" ] || fail "201 without a digest file"
[ "$(cat "$STORE/lab-a/ep-1.tar.zst.sha256")" = "$(digest_of "$T/ep1.zst")" ] ||
    fail "digest file holds $(cat "$STORE/lab-a/ep-1.tar.zst.sha256")"
ok "new PUT: 201, stored byte-identical, digest file beside it is right"
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
phase_end 5 "store, duplicate, conflict, HEAD"
ok "HEAD: 200 with the digest, 404 for an unknown id"

# 2b. Expect: 100-continue: every refusal the head decides comes before
# the body, which curl then never sends.  A real body of ~300 KiB each.
phase_start
s=$(eput lab-a ep-c "$T/ep1.zst")
[ "$s" = "201 $(stat -c %s "$T/ep1.zst")" ] || fail "Expect, new id: $s"
grep -qi '^HTTP/1\.1 100 Continue' "$T/headers" ||
    fail "Expect, new id: no 100 Continue"
cmp "$T/ep1.zst" "$STORE/lab-a/ep-c.tar.zst" || fail "Expect: bytes differ"
s=$(RTOKEN=x$(cat "$PKI/lab-a.token") eput lab-a ep-e1 "$T/ep1.zst")
expect_early "$s" 401 unauthorized "wrong token"
s=$(EHOST=lab-b eput lab-a ep-e2 "$T/ep1.zst")
expect_early "$s" 403 forbidden "other host's URL"
zst_file "$T/other2.zst" 300000
s=$(eput lab-a ep-1 "$T/other2.zst")
expect_early "$s" 409 conflict "other bytes under a stored id"
s=$(eput lab-a ep-e4 "$T/ep1.zst" -H "Transfer-Encoding: chunked")
expect_early "$s" 411 length-required "chunked"
s=$(EPTIME=$(date -u -d '-2 days' +%Y-%m-%dT%H:%M:%SZ) \
    eput lab-a ep-e5 "$T/ep1.zst")
expect_early "$s" 412 out-of-window "old Episode-Time"
head -c 3000000 /dev/urandom >"$T/big.raw"
zstd -q -1 -c "$T/big.raw" >"$T/big.zst"
s=$(eput lab-a ep-e6 "$T/big.zst")
expect_early "$s" 413 too-large "over max-body-size"
for i in 1 2 4 5 6; do
	[ ! -e "$STORE/lab-a/ep-e$i.tar.zst" ] || fail "ep-e$i stored"
done
[ ! -e "$STORE/lab-b" ] && tmp_empty || fail "refusals left files"
phase_end 7 "Expect: 100-continue"
ok "Expect: 100-continue: 201 after a 100; 401 403 409 411 412 413 before it, 0 body bytes sent"
# 3. Certificates and tokens.
phase_start
curl -sS -o /dev/null --max-time 10 --cacert "$PKI/ca.pem" -X POST \
    -H "Authorization: Bearer $(cat "$PKI/lab-a.token")" \
    "$URL/v1/ping" 2>"$T/err" && fail "no client certificate: accepted"
curl -sS -o /dev/null --max-time 10 --cacert "$PKI/ca.pem" \
    --cert "$PKI/intruder.crt" --key "$PKI/intruder.key" -X POST \
    -H "Authorization: Bearer $(cat "$PKI/intruder.token")" \
    "$URL/v1/ping" 2>"$T/err" && fail "other CA: accepted"
wait_until 5 grep -q "TLS handshake failed" "$LOG" ||
    fail "failed handshakes not logged"
phase_end 0 "failed handshakes"
ok "no client certificate, or one from another CA: handshake fails"

phase_start

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

# The token is checked on PUT and HEAD as on ping.
s=$(curl -sS -o "$T/body" -w '%{http_code}' --cacert "$PKI/ca.pem" \
    --cert "$PKI/lab-a.crt" --key "$PKI/lab-a.key" -X PUT -T "$T/ep1.zst" \
    -H "Repr-Digest: $(digest_of "$T/ep1.zst")" \
    -H "Episode-Time: $(now_rfc3339)" "$URL/v1/episodes/lab-a/ep-t")
expect_err "$s" 401 unauthorized "PUT without a token"
s=$(RTOKEN=x$(cat "$PKI/lab-a.token") put lab-a ep-t "$T/ep1.zst")
expect_err "$s" 401 unauthorized "PUT with a wrong token"
s=$(RTOKEN=$(cat "$PKI/lab-b.token") put lab-a ep-t "$T/ep1.zst")
expect_err "$s" 401 unauthorized "PUT with another host's token"
[ ! -e "$STORE/lab-a/ep-t.tar.zst" ] || fail "PUT without a valid token stored"
s=$(curl -sS -o "$T/body" -D "$T/headers" -w '%{http_code}' -I \
    --cacert "$PKI/ca.pem" --cert "$PKI/lab-a.crt" --key "$PKI/lab-a.key" \
    "$URL/v1/episodes/lab-a/ep-1")
[ "$s" = 401 ] || fail "HEAD without a token: $s"
s=$(RTOKEN=x$(cat "$PKI/lab-a.token") rcurl lab-a -I "$URL/v1/episodes/lab-a/ep-1")
[ "$s" = 401 ] || fail "HEAD with a wrong token: $s"
grep -qi '^Repr-Digest' "$T/headers" && fail "HEAD with a wrong token: digest shown"
phase_end 9 "certificates and tokens"
ok "PUT and HEAD without a token or with a wrong one: 401"

# 3b. Identities: the CN, or a DNS SAN.
phase_start
for h in lab-c lab-d; do
	s=$(rcurl "$h" -X POST "$URL/v1/ping")
	[ "$s" = 200 ] || fail "$h ping: $s"
	jq -e --arg h "$h" '.host == $h' "$T/body" >/dev/null ||
	    fail "$h ping body: $(cat "$T/body")"
	s=$(put "$h" ep-1 "$T/ep1.zst")
	[ "$s" = 201 ] || fail "$h PUT: $s $(cat "$T/body")"
	cmp -s "$T/ep1.zst" "$STORE/$h/ep-1.tar.zst" || fail "$h: bytes differ"
	s=$(rcurl "$h" -I "$URL/v1/episodes/$h/ep-1")
	[ "$s" = 200 ] || fail "$h HEAD: $s"
	s=$(put "$h" ep-1 "$T/ep1.zst" --request-target /v1/episodes/lab-a/ep-9)
	expect_err "$s" 403 forbidden "$h's certificate on lab-a's URL"
done
ok "CN-only certificate (lab-c) and SAN-only certificate (lab-d): ping, PUT, HEAD; 403 elsewhere"
# CN lab-e, SAN lab-f: both are its identities, each with its own token.
for h in lab-e lab-f; do
	s=$(RTOKEN=$(cat "$PKI/$h.token") rcurl mixed -X PUT -T "$T/ep1.zst" \
	    -H "Repr-Digest: $(digest_of "$T/ep1.zst")" \
	    -H "Episode-Time: $(now_rfc3339)" "$URL/v1/episodes/$h/ep-1")
	[ "$s" = 201 ] || fail "CN lab-e SAN lab-f, PUT as $h: $s $(cat "$T/body")"
	cmp -s "$T/ep1.zst" "$STORE/$h/ep-1.tar.zst" || fail "$h: bytes differ"
	s=$(RTOKEN=$(cat "$PKI/$h.token") rcurl mixed -X POST "$URL/v1/ping")
	[ "$s" = 200 ] || fail "CN lab-e SAN lab-f, ping with $h's token: $s"
	jq -e --arg h "$h" '.host == $h' "$T/body" >/dev/null ||
	    fail "mixed ping as $h: $(cat "$T/body")"
done
s=$(RTOKEN=$(cat "$PKI/lab-e.token") rcurl mixed -I "$URL/v1/episodes/lab-f/ep-1")
[ "$s" = 401 ] || fail "lab-e's token on lab-f's URL: $s"
s=$(RTOKEN=$(cat "$PKI/lab-a.token") rcurl mixed -X POST "$URL/v1/ping")
expect_err "$s" 401 unauthorized "lab-a's token with the lab-e/lab-f certificate"
s=$(RTOKEN=$(cat "$PKI/lab-e.token") rcurl mixed -I "$URL/v1/episodes/lab-a/ep-1")
[ "$s" = 403 ] || fail "lab-e/lab-f certificate on lab-a's URL: $s"
phase_end 15 "identities"
ok "CN lab-e + SAN lab-f: both hosts, each with its own token; a token of one on the other's URL: 401"

phase_start

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

# With Expect (2b above) curl sent no body byte; without it the 413 is
# still logged before any body byte was read: one log line each.
s=$(put lab-a ep-3a "$T/big.zst" -H "Expect:")
expect_err "$s" 413 too-large "over max-body-size (no Expect)"
s=$(eput lab-a ep-3b "$T/big.zst")
expect_early "$s" 413 too-large "over max-body-size"
wait_until 5 grep -q 'PUT "/v1/episodes/lab-a/ep-3b" ' "$LOG" || fail "no log line for ep-3b"
for id in ep-3a ep-3b; do
	[ "$(grep -c "PUT \"/v1/episodes/lab-a/$id\" " "$LOG")" = 1 ] ||
	    fail "$id: not exactly one access line"
	grep -q "PUT \"/v1/episodes/lab-a/$id\" 413 in=0 .* too-large\$" "$LOG" ||
	    fail "$id: 413 read the body: $(grep "/$id\"" "$LOG")"
	[ ! -e "$STORE/lab-a/$id.tar.zst" ] || fail "413 stored $id"
done
ok "chunked: 411; over the limit: 413 before any body byte is read (0 sent with Expect)"

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
phase_end 15 "malformed uploads"
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
rm "$STORE/lab-a/ep-1.tar.zst.sha256" || fail "no digest file to remove"
s=$(rcurl lab-a -I "$URL/v1/episodes/lab-a/ep-1")
[ "$s" = 200 ] || fail "HEAD without a digest file: $s"
grep -qi "^Repr-Digest: $(digest_of "$T/ep1.zst")" "$T/headers" ||
    fail "recomputed digest wrong"
[ "$(cat "$STORE/lab-a/ep-1.tar.zst.sha256")" = "$(digest_of "$T/ep1.zst")" ] ||
    fail "digest file not rewritten right"
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
ok "access-log line format; one line per request in every phase above"

stop_receiver
[ "$EXIT_STATUS" = 0 ] || fail "exit status $EXIT_STATUS after SIGTERM"
ok "SIGTERM: exit 0"
