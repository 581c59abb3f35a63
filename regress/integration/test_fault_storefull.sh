# The receiver's storage is full (a 4 MiB tmpfs as its storage root).
# An upload that cannot fit is refused with 503 and Retry-After before
# its body is sent ("Expect: 100-continue"), and one that runs out of
# space half way gets a 503 too; neither leaves a temp file.  The
# shipper backs off as told, keeps the episode, and ships it once space
# is freed: stored once, byte-identical.  The receiver keeps serving.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"
. "$(dirname "$0")/fault_lib.sh"

fault_mount "$T/store" 4m
ship_setup >/dev/null 2>&1 || fail "setup"
ship_conf "scan-interval 1s" "backoff base 1s" "backoff cap 10s"
tmp_empty() {
	[ -z "$(ls -A "$STORE/.tmp")" ]
}
free_bytes() {
	echo $(( $(stat -f -c '%a * %S' "$STORE") ))
}

# 1. Two uploads that each fit, but not both: the one that runs out of
# space mid-body is answered 503 storage-full.
head -c $(( $(free_bytes) - 2 * 1048576 )) /dev/zero >"$STORE/filler" ||
    fail "filler"
for i in 1 2; do
	zst_file "$T/half$i.zst" 1300000
done
for i in 1 2; do
	put lab-b "half$i" "$T/half$i.zst" --limit-rate 400k >"$T/half$i.status" &
	STARTED_PIDS="$STARTED_PIDS $!"
done
wait_until 30 eval '[ -s "$T/half1.status" ] && [ -s "$T/half2.status" ]' ||
    fail "concurrent uploads did not finish"
st="$(cat "$T/half1.status") $(cat "$T/half2.status")"
case "$st" in
"201 503"|"503 201"|"503 503") ;;
*) fail "two uploads into 2 MiB answered $st, expected a 503" ;;
esac
access_lines 'lab-b PUT "/v1/episodes/lab-b/half[12]" 503 in=[1-9][0-9]* .*storage-full$' \
    >/dev/null || fail "no 503 storage-full after part of a body: $(access_lines half)"
grep -q 'No space left on device' "$RLOG" || fail "ENOSPC not logged"
wait_until 5 tmp_empty || fail "temp files left: $(ls -A "$STORE/.tmp")"
for i in 1 2; do
	if [ "$(cat "$T/half$i.status")" = 201 ]; then
		cmp -s "$T/half$i.zst" "$STORE/lab-b/half$i.tar.zst" ||
		    fail "half$i stored differently"
	else
		[ ! -e "$STORE/lab-b/half$i.tar.zst" ] || fail "half$i stored"
	fi
done
ok "storage filled during two uploads: $st, no temp file left"

# 2. The shipper against a full storage: 503 before the body, backs off
# as told (Retry-After 5), ships once space is freed.
rm -f "$STORE/filler" "$STORE"/lab-b/*
head -c $(( $(free_bytes) - 262144 )) /dev/zero >"$STORE/filler" ||
    fail "filler"
new_episode ep-full
head -c 1048576 /dev/urandom >"$DATA/episodes/ep-full/raw.bin"
mark_ready ep-full
fix_owner
ship_daemon full
n503() {
	access_lines 'PUT "/v1/episodes/lab-a/ep-full" 503 ' | wc -l
}
wait_until 20 eval '[ "$(n503)" -ge 1 ]' || fail "no 503: $(access_lines ep-full)"
t503=$(date +%s%N)
access_lines 'PUT "/v1/episodes/lab-a/ep-full" 503 in=0 .*storage-full$' >/dev/null ||
    fail "503 not decided before the body: $(access_lines ep-full)"
grep -q 'storage full: .* lab-a/ep-full .* refused for now' "$RLOG" ||
    fail "the receiver did not log the full storage"
[ -d "$DATA/episodes/ep-full" ] || fail "ep-full moved"
tmp_empty || fail "temp files left: $(ls -A "$STORE/.tmp")"
# Room again at once: the next try still waits for Retry-After (5 s).
rm -f "$STORE/filler"
wait_until 20 is_shipped ep-full || fail "ep-full not shipped after space was freed"
ms=$(( ($(date +%s%N) - t503) / 1000000 ))
[ "$ms" -ge 4800 ] || fail "shipped ${ms} ms after the 503: Retry-After 5 not waited out"
grep -q 'ep-full: not shipped: HTTP 503 storage-full.*next try in [5-9]\.' "$SLOG" ||
    fail "shipper did not wait out Retry-After 5: $(grep 'ep-full: not' "$SLOG")"
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "daemon exit $EXIT_STATUS after SIGTERM"
[ "$(access_lines 'PUT "/v1/episodes/lab-a/ep-full" 201 ' | wc -l)" = 1 ] ||
    fail "not stored once: $(access_lines ep-full)"
archive_is_tree "$STORE/lab-a/ep-full.tar.zst" "$DATA/shipped/ep-full" ep-full
ok "shipper: 503 storage-full before the body, waited ${ms} ms as told (Retry-After 5), shipped once there was room"

s=$(rcurl lab-a "$URL/v1/health")
[ "$s" = 200 ] || fail "health after the full storage: $s"
stop_receiver
[ "$EXIT_STATUS" = 0 ] || fail "receiver exit $EXIT_STATUS after SIGTERM"
ok "the receiver kept serving"
