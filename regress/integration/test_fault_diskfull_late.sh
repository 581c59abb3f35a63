# The data root fills up at the two other writes of a pack (min-free 0,
# so nothing pauses first): the archive fits to the last page and the
# digest file beside it (spool/ID.sha256) finds no room; and no inode
# is left for the spool temp file.  Either way it is the disk's fault,
# not the episode's: not counted against pack-retries, never
# quarantined, retried, and shipped once there is room.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"
. "$(dirname "$0")/fault_lib.sh"

fault_mount "$DATA" 8m
ship_setup >/dev/null 2>&1 || fail "setup"
conf_full() {
	ship_conf "scan-interval 1s" "backoff base 1s" "backoff cap 2s" \
	    "pack-retries 2" "min-free space 0" "min-free inodes 0" "$@"
}
not_counted() {
	grep -q "$1: pack attempt\|$1: quarantined" "$SLOG" &&
	    fail "$1: the full disk counted against it: $(grep "$1: " "$SLOG" | head -5)"
	[ -d "$DATA/episodes/$1" ] && [ ! -e "$DATA/quarantine/$1" ] ||
	    fail "$1 moved"
	return 0
}

# 1. The digest file.  Its archive's size comes from a first pack with
# the receiver unreachable (it stays in spool/); that pack is then
# undone, and the file system left with exactly the archive's pages.
new_episode ep-digest
head -c 1000000 /dev/urandom >"$DATA/episodes/ep-digest/raw.bin"
mark_ready ep-digest
SHIP_URL=https://127.0.0.1:1 conf_full
ship_once measure 60
[ -f "$DATA/spool/ep-digest.tar.zst" ] || fail "no archive in spool/: $(cat "$LOG")"
size=$(stat -c %s "$DATA/spool/ep-digest.tar.zst")
rm -f "$DATA"/spool/ep-digest.*
fill_fs "$DATA" "$DATA/filler"
truncate -s -$(( (size + 4095) / 4096 * 4096 )) "$DATA/filler"
conf_full
ship_daemon digest
wait_until 20 eval '[ "$(grep -c "ep-digest: not packed: spool/ep-digest.sha256: No space left on device" "$SLOG")" -ge 3 ]' ||
    fail "not 3 packs failing at the digest file: $(grep ep-digest "$SLOG")"
not_counted ep-digest
rm -f "$DATA/filler"
wait_until 20 is_shipped ep-digest || fail "ep-digest not shipped after space was freed"
stop_daemon
ok "no room for the digest file: retried, not counted, shipped once there was room"

# 2. No inode for the spool temp file: a data root of 64 inodes.
DATA=$T/data2
fault_mount "$DATA" 8m nr_inodes=64
conf_full
new_episode ep-inode
mark_ready ep-inode
mkdir -p "$DATA/spool" "$DATA/shipped" "$DATA/quarantine" "$DATA/inodes"
fix_owner
i=0
while : >"$DATA/inodes/$i" 2>/dev/null; do
	i=$((i + 1))
done
[ "$(stat -f -c %d "$DATA")" = 0 ] || fail "inodes left: $(stat -f -c %d "$DATA")"
ship_daemon inode
wait_until 20 eval '[ "$(grep -c "ep-inode: not packed: spool/ep-inode.tar.zst.tmp: No space left on device" "$SLOG")" -ge 3 ]' ||
    fail "not 3 packs failing for want of an inode: $(grep ep-inode "$SLOG")"
not_counted ep-inode
rm -rf "$DATA/inodes"
wait_until 20 is_shipped ep-inode || fail "ep-inode not shipped after inodes were freed"
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "daemon exit $EXIT_STATUS after SIGTERM"
ok "no inode for the spool file: retried, not counted, shipped once there was one"
