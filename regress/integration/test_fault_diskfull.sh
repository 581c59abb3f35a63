# The data root runs out of space while packing (a 16 MiB tmpfs): the
# pack fails with ENOSPC, its temp file goes, the episode stays in
# episodes/ untouched and is neither quarantined nor counted against
# pack-retries, other episodes still ship, and the daemon stays up.
# Once the disk is below min-free, packing pauses; freeing space
# resumes it and the episode ships, byte-identical.  doctor's disk row
# is red (exit 2) while the disk is below min-free, and green after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"
. "$(dirname "$0")/fault_lib.sh"

command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"

# disk_row NAME: doctor -j into $T/NAME.json; its exit in DOC_RC, the
# disk row's level in DISK.
disk_row() {
	"$SHIPPER" -f "$CONF" -s "$T/control.sock" doctor -j \
	    >"$T/$1.json" 2>"$T/$1.err"
	DOC_RC=$?
	DISK=$(jq -r '[.rows[] | select(.check == "disk") | .level][0] // ""' \
	    "$T/$1.json") || fail "$1: doctor -j is not JSON: $(cat "$T/$1.json" "$T/$1.err")"
}

fault_mount "$DATA" 16m
ship_setup >/dev/null 2>&1 || fail "setup"
ship_conf "scan-interval 1s" "backoff base 1s" "backoff cap 2s" \
    "pack-retries 2" "min-free space 1M" "min-free inodes 16"
fix_owner

new_episode big
head -c 6291456 /dev/urandom >"$DATA/episodes/big/raw.bin" || fail "big"
mark_ready big -d '-2 minutes'
new_episode small
mark_ready small -d '-1 minute'
mkdir "$T/orig"
cp -a "$DATA/episodes/big" "$T/orig/big" || fail "copy of big"
# 3 MiB free: above min-free, below what big's archive needs.
avail=$(( $(stat -f -c '%a * %S' "$DATA") ))
head -c $(( avail - 3 * 1048576 )) /dev/zero >"$DATA/filler" ||
    fail "filler"

ship_daemon full
wait_until 20 eval '[ "$(grep -c "big: not packed: .*No space left on device" "$SLOG")" -ge 3 ]' ||
    fail "big: not 3 failed packs with ENOSPC"
wait_until 10 is_shipped small || fail "small not shipped while big cannot be packed"
gone "$DAEMON_PID" && fail "the daemon stopped"
[ -d "$DATA/episodes/big" ] && [ ! -e "$DATA/quarantine/big" ] ||
    fail "big moved: $(ls "$DATA"/*)"
grep -q 'big: quarantined\|big: pack attempt' "$SLOG" &&
    fail "a full disk counted against big: $(grep 'big: ' "$SLOG" | head -5)"
grep -q 'answer pack-failed: big' "$SLOG" &&
    fail "a full disk recorded as big's pack failure"
ok "ENOSPC while packing: retried, not counted ($(grep -c 'big: not packed' "$SLOG") tries), small shipped meanwhile"

# Below min-free: packing pauses, said once.
rm -f "$DATA/filler"
fill_fs "$DATA" "$DATA/filler"
truncate -s -524288 "$DATA/filler"
wait_until 10 grep -q 'packing paused: .* below min-free' "$SLOG" ||
    fail "no 'packing paused' line"
sleep 1.5	# a pack attempt that had begun ends
n=$(grep -c 'big: packing' "$SLOG")
sleep 3
[ "$(grep -c 'big: packing' "$SLOG")" = "$n" ] ||
    fail "packing went on below min-free"
gone "$DAEMON_PID" && fail "the daemon stopped"
disk_row paused
[ "$DISK" = red ] && [ "$DOC_RC" = 2 ] ||
    fail "below min-free: doctor's disk row '$DISK', exit $DOC_RC: $(cat "$T/paused.json")"
jq -e '.rows[] | select(.check == "disk") | .finding |
    test("packing paused")' "$T/paused.json" >/dev/null ||
    fail "doctor's disk row does not say packing is paused: $(cat "$T/paused.json")"
ok "below min-free: packing paused, doctor's disk row red, exit 2"

# Free space: packing resumes and big ships.
rm -f "$DATA/filler"
wait_until 10 grep -q 'packing resumed' "$SLOG" || fail "no 'packing resumed'"
wait_until 20 is_shipped big || fail "big not shipped after space was freed"
disk_row freed
[ "$DISK" = green ] || fail "space freed: doctor's disk row '$DISK': $(cat "$T/freed.json")"
end_shipped_intact big
[ -z "$(ls -A "$DATA/quarantine")" ] || fail "something quarantined"
ok "space freed: packing resumed, big shipped byte-identical, nothing left in spool/"
