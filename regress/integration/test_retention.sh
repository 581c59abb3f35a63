# Retention (DESIGN §9) and min-free.  Shipped episodes age out after
# shipped keep-days, quarantined ones after quarantine keep-days, each
# logged; keep-days 0 keeps them; cleanup runs at most once per
# cleanup-interval; episodes not yet shipped are never removed.  Below
# min-free packing pauses and resumes when there is room.  Ages are set
# with touch -d: no test waits for days.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"
ship_setup >/dev/null 2>&1 || fail "setup"
mkdir -p "$DATA/shipped" "$DATA/quarantine" "$DATA/spool"

# aged DIR ID DAYS: an episode DAYS old in shipped/ or quarantine/.
aged() {
	mkdir -p "$DATA/$1/$2/sub"
	echo "$2" >"$DATA/$1/$2/sub/f.txt"
	if [ "$1" = quarantine ]; then
		echo '{"reason":"conflict"}' >"$DATA/quarantine/$2.reason.json"
		touch -d "$3 days ago" "$DATA/quarantine/$2.reason.json"
	else
		date -u >"$DATA/shipped/$2.shipped"
		touch -d "$3 days ago" "$DATA/shipped/$2.shipped"
	fi
	fix_owner
}
removed_lines() { grep -c 'retention: removed' "$1"; }
passes() { grep -c 'scanner: pass ' "$SLOG"; }
passes_over() { [ "$(passes)" -gt "$1" ]; }

# 1. keep-days: defaults (shipped 7, quarantine 30).
aged shipped old-s 8
aged shipped new-s 6
aged quarantine old-q 31
aged quarantine new-q 29
new_episode ancient
touch -d '1000 days ago' "$DATA/episodes/ancient" "$DATA/episodes/ancient/data.txt"
fix_owner
ship_once keep 60
[ "$ONCE_RC" -eq 0 ] || fail "once exited $ONCE_RC"
[ ! -e "$DATA/shipped/old-s" ] && [ ! -e "$DATA/shipped/old-s.shipped" ] ||
    fail "shipped/old-s (8 days) kept"
[ -d "$DATA/shipped/new-s" ] || fail "shipped/new-s (6 days) removed"
[ ! -e "$DATA/quarantine/old-q" ] && [ ! -e "$DATA/quarantine/old-q.reason.json" ] ||
    fail "quarantine/old-q (31 days) kept"
[ -d "$DATA/quarantine/new-q" ] || fail "quarantine/new-q (29 days) removed"
[ -d "$DATA/episodes/ancient" ] || fail "an unshipped episode was removed"
grep -q 'retention: removed shipped/old-s, 8 days old' "$LOG" ||
    fail "no log line for shipped/old-s"
grep -q 'retention: removed quarantine/old-q, 31 days old' "$LOG" ||
    fail "no log line for quarantine/old-q"
[ "$(removed_lines "$LOG")" -eq 2 ] ||
    fail "$(removed_lines "$LOG") removals logged, not 2"
ok "keep-days: 8-day shipped and 31-day quarantined removed and logged; younger and unshipped kept"

# 2. keep-days 0: kept forever.
aged shipped old2-s 400
aged quarantine old2-q 400
ship_conf "shipped keep-days 0" "quarantine keep-days 0"
ship_once optout 60
[ -d "$DATA/shipped/old2-s" ] && [ -d "$DATA/quarantine/old2-q" ] ||
    fail "keep-days 0 removed something"
[ "$(removed_lines "$LOG")" -eq 0 ] || fail "keep-days 0 logged a removal"
ok "keep-days 0: 400-day-old episodes kept"

# 3. The interval gate: one cleanup per cleanup-interval, not per pass.
ship_conf "scan-interval 1s" "shipped cleanup-interval 1h"
ship_daemon gate
wait_until 10 grep -q 'retention: removed shipped/old2-s' "$SLOG" ||
    fail "first pass did not clean"
aged shipped old3-s 100
n=$(passes)
wait_until 15 passes_over $((n + 3)) || fail "no passes"
[ -d "$DATA/shipped/old3-s" ] || fail "cleaned again within cleanup-interval"
stop_daemon
ship_conf "scan-interval 1s" "shipped cleanup-interval 2s"
ship_daemon gate2
aged shipped old4-s 100
wait_until 10 test ! -e "$DATA/shipped/old4-s" ||
    fail "cleanup-interval 2s: old4-s not removed"
grep -q 'retention: removed shipped/old3-s' "$SLOG" || fail "old3-s not logged"
stop_daemon
ok "cleanup-interval: not repeated within 1h over passes; 2s: runs again"

# 4. min-free: packing pauses below it, and resumes.
new_episode roomy
mark_ready roomy
ship_conf "scan-interval 1s" "min-free space 1024T"
ship_daemon lowspace
wait_until 10 grep -q 'packing paused: .* below min-free' "$SLOG" ||
    fail "no 'packing paused' line"
n=$(passes)
wait_until 15 passes_over $((n + 2)) || fail "no passes"
[ -d "$DATA/episodes/roomy" ] && [ -z "$(ls -A "$DATA/spool")" ] ||
    fail "packed below min-free"
[ "$(grep -c 'packing paused' "$SLOG")" -eq 1 ] || fail "paused line repeated"
# doctor turns red on the disk row, status says what waits.
"$SHIPPER" -f "$CONF" -s "$T/control.sock" doctor -j >"$T/low.json"
rc=$?
[ "$rc" = 2 ] || fail "doctor below min-free exited $rc: $(cat "$T/low.json")"
jq -e '[.rows[] | select(.check == "disk")][0] | .level == "red" and
    (.finding | test("packing paused"))' "$T/low.json" >/dev/null ||
    fail "doctor disk row: $(cat "$T/low.json")"
"$SHIPPER" -f "$CONF" -s "$T/control.sock" status >"$T/low.status" ||
    fail "status below min-free"
{ grep -q '^held       1 ready episode(s) wait for free space' \
    "$T/low.status" && grep -q '^disk .*: packing paused$' "$T/low.status"; } ||
    fail "status below min-free: $(cat "$T/low.status")"
stop_daemon
ship_once lowonce 60
[ "$ONCE_RC" -eq 1 ] || fail "once below min-free exited $ONCE_RC, not 1"
grep -q 'once: 1 ready episode(s) not packed: the data root is below min-free' \
    "$LOG" || fail "once did not say what is pending"
ship_conf "scan-interval 1s"
ship_daemon roomy
wait_until 20 is_shipped roomy || fail "roomy not shipped with room"
stop_daemon
ok "min-free: packing pauses (said once), doctor red, status shows it held; once exits 1 naming it; ships with room"
