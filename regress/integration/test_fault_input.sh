# Bad input on the lab host, each with its defined outcome (DESIGN §3;
# a FIFO is test_ship_packfail.sh, 100,000 files test_fault_manyfiles.sh):
#  - names with newlines, control characters, backslashes and bytes that
#    are not UTF-8: shipped, archived exactly (GNU tar and bsdtar);
#  - symlinks pointing outside the episode: archived as symlinks with
#    their targets, never followed;
#  - a file that cannot be read (mode 000) and a file that keeps
#    growing: retried, then quarantined as pack-failed with a reason
#    naming the file, escaped in the log; the others still ship, and a
#    requeue after the writer stopped ships it;
#  - a file removed after the scanner opened it: archived as it was when
#    opened (packing works on open files);
#  - a file removed before it was opened, and one grown after: the pack
#    fails, is retried, and ships the episode as it is then.
# Never a crash: the daemon stays up throughout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"
. "$(dirname "$0")/fault_lib.sh"

command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"
ship_setup >/dev/null 2>&1 || fail "setup"

# GNU tar 1.34 does not know POSIX's hdrcharset keyword, which says a
# pax name is not UTF-8; it says so, and extracts the name exactly.
HDRCHARSET="Ignoring unknown extended header keyword .hdrcharset."

# 1. Odd names and symlinks out of the episode, with `once`.
E=$DATA/episodes/ep-names
mkdir -p "$E"
long=$(printf 'L%.0s' $(seq 120))
for n in $'new\nline' $'tab\there' $'ctl\001\002\033[31m' $'cr\rname' \
    'back\slash' $'bad\xff\xfe' "$long"$'\n'"tail" "$long"$'\xff' \
    ' lead and trail ' '-dash' $'\x7f'; do
	printf '%s\n' "content of $n" >"$E/$n" || fail "cannot create $n"
done
mkdir "$E/"$'dir\nx'
echo inside >"$E/"$'dir\nx/in\nside'
ln -s $'tar\nget' "$E/"$'sym\nlink'
[ "$(find "$E" -mindepth 1 -printf x | wc -c)" = 14 ] ||
    fail "odd names: $(ls -b "$E")"
E=$DATA/episodes/ep-links
mkdir -p "$E/sub"
echo data >"$E/data.txt"
ln -s /etc/passwd "$E/abs-out"
ln -s ../../../../../../../etc/shadow "$E/sub/rel-out"
ln -s ../ep-names "$E/sibling"
ln -s / "$E/root"
ln -s .. "$E/dotdot"
ln -s loop-b "$E/loop-a"
ln -s loop-a "$E/loop-b"
for id in ep-names ep-links; do
	mark_ready "$id"
	cp -a "$DATA/episodes/$id" "$T/orig-$id"
done
ship_once names
[ "$ONCE_RC" = 0 ] || fail "once: exit $ONCE_RC"
is_shipped ep-names && is_shipped ep-links || fail "not shipped: $(cat "$LOG")"
GNU_TAR_TOLERATE=$HDRCHARSET archive_is_tree "$STORE/lab-a/ep-names.tar.zst" "$T/orig-ep-names" ep-names
ok "newline, CR, tab, ESC, DEL, backslash, non-UTF-8 (short and long) names: shipped, both tars extract them exactly"
archive_is_tree "$STORE/lab-a/ep-links.tar.zst" "$T/orig-ep-links" ep-links
tar --zstd -tvf "$STORE/lab-a/ep-links.tar.zst" >"$T/links.tv" || fail "tar -tv"
for l in 'abs-out -> /etc/passwd' 'sub/rel-out -> ../../../../../../../etc/shadow' \
    'sibling -> ../ep-names' 'root -> /' 'dotdot -> ..' 'loop-a -> loop-b'; do
	grep -q "^l.* ep-links/$l\$" "$T/links.tv" || fail "no symlink $l: $(cat "$T/links.tv")"
done
zstd -q -d -c "$STORE/lab-a/ep-links.tar.zst" | grep -a -q "$(head -1 /etc/passwd)" &&
    fail "/etc/passwd's content is in the archive"
ok "symlinks out of the episode (absolute, ../.., a sibling, /, .., a loop): archived as symlinks, not followed"

# 2. Unreadable and ever-growing files: quarantined after pack-retries.
NOREAD=$'no\nread\001'
new_episode ep-noread
echo secret >"$DATA/episodes/ep-noread/$NOREAD"
mark_ready ep-noread -d '-3 minutes'
new_episode ep-grow
# Large enough that appends land while the packer reads it.
head -c 16777216 /dev/urandom >"$DATA/episodes/ep-grow/live.log"
mark_ready ep-grow -d '-2 minutes'
new_episode ep-fine
mark_ready ep-fine -d '-1 minute'
chmod 000 "$DATA/episodes/ep-noread/$NOREAD"
# A recorder that goes on writing after its marker: a line every 2 ms.
python3 - "$DATA/episodes/ep-grow/live.log" "$T/stop-writer" <<'PY' &
import os, sys, time
with open(sys.argv[1], "ab") as f:
    while not os.path.exists(sys.argv[2]):
        f.write(b"more %d\n" % time.time_ns())
        f.flush()
        time.sleep(0.002)
PY
writer=$!
STARTED_PIDS="$STARTED_PIDS $writer"
wait_until 10 eval '[ "$(stat -c %s "$DATA/episodes/ep-grow/live.log")" -gt 16777216 ]' ||
    fail "the writer does not write"
ship_conf "scan-interval 1s" "pack-retries 2" "backoff base 1s" \
    "backoff cap 2s"
ship_daemon input
wait_until 30 eval 'is_quarantined ep-noread && is_quarantined ep-grow' ||
    fail "not quarantined: $(ls "$DATA"/*)"
wait_until 10 is_shipped ep-fine || fail "ep-fine not shipped"
gone "$DAEMON_PID" && fail "the daemon stopped"
for id in ep-noread ep-grow; do
	[ "$(reason_of "$id")" = pack-failed ] ||
	    fail "$id: $(cat "$DATA/quarantine/$id.reason.json")"
	[ "$(grep -c "$id: pack attempt 1 of 2 failed" "$SLOG")" = 1 ] &&
	    grep -q "$id: quarantined after 2 failed packs" "$SLOG" ||
	    fail "$id: not retried once, then quarantined: $(grep "$id" "$SLOG")"
done
jq -r .detail "$DATA/quarantine/ep-noread.reason.json" |
    grep -q -F 'episodes/ep-noread/no\nread\001: cannot open: Permission denied' ||
    fail "reason: $(cat "$DATA/quarantine/ep-noread.reason.json")"
grep -q -F 'ep-noread: quarantined after 2 failed packs: episodes/ep-noread/no\nread\001: cannot open: Permission denied' \
    "$SLOG" || fail "the log does not name the file, escaped"
grep -q '^read' "$SLOG" && fail "a raw newline from a file name in the log"
jq -r .detail "$DATA/quarantine/ep-grow.reason.json" |
    grep -q 'ep-grow/live.log: \(changed\|grew\|shrank\) ' ||
    fail "reason: $(cat "$DATA/quarantine/ep-grow.reason.json")"
[ -f "$DATA/quarantine/ep-noread/$NOREAD" ] || fail "the unreadable file was not kept"
ok "unreadable file and a file that keeps growing: retried, quarantined as pack-failed, named (escaped); others ship"

touch "$T/stop-writer"
wait_until 5 gone "$writer" || fail "writer still running"
out=$("$SHIPPER" -f "$CONF" requeue ep-grow 2>&1) || fail "requeue: $out"
wait_until 20 is_shipped ep-grow || fail "ep-grow not shipped after requeue"
archive_is_tree "$STORE/lab-a/ep-grow.tar.zst" "$DATA/shipped/ep-grow" ep-grow
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "daemon exit $EXIT_STATUS after SIGTERM"
ok "the writer stopped, requeued: ep-grow ships with all it wrote"

# 3. Files removed or grown while the packer works.  The packer stops
# itself after its first file (CIS490_CRASHPOINT=pack); by then the
# scanner has opened the first entries (its window, PACK_WINDOW 32),
# not the later ones.
ship_conf "scan-interval 1s" "pack-retries 3" "backoff base 1s" \
    "backoff cap 2s"
# many ID N: an episode of N files f000..
many() {
	local i
	new_episode "$1"
	for i in $(seq -w 0 $(( $2 - 1 ))); do
		echo "file $i of $1" >"$DATA/episodes/$1/f$i"
	done
	rm -f "$DATA/episodes/$1/data.txt"
	mark_ready "$1"
}
packer_stopped() {
	[ -n "$(child_pid packer)" ] &&
	    case "$(ps -o stat= -p "$(child_pid packer)")" in T*) ;; *) false ;; esac
}
many ep-gone 40
cp -a "$DATA/episodes/ep-gone" "$T/orig-ep-gone"
start_daemon "$T/gone.log" CIS490_CRASHPOINT=pack
SLOG=$T/gone.log
wait_until 20 packer_stopped || fail "the packer did not stop at its first file"
rm "$DATA/episodes/ep-gone/f05"
kill -CONT "$(child_pid packer)"
wait_until 20 is_shipped ep-gone || fail "ep-gone not shipped"
stop_daemon
[ ! -e "$DATA/shipped/ep-gone/f05" ] || fail "f05 is back"
archive_is_tree "$STORE/lab-a/ep-gone.tar.zst" "$T/orig-ep-gone" ep-gone
grep -q 'ep-gone: pack attempt' "$SLOG" && fail "ep-gone: a pack failed"
ok "a file removed after it was opened: archived as it was opened (the episode as packing began)"

many ep-late 60
start_daemon "$T/late.log" CIS490_CRASHPOINT=pack
SLOG=$T/late.log
wait_until 20 packer_stopped || fail "the packer did not stop at its first file"
rm "$DATA/episodes/ep-late/f50"
echo "grown" >>"$DATA/episodes/ep-late/f07"
kill -CONT "$(child_pid packer)"
wait_until 20 is_shipped ep-late || fail "ep-late not shipped"
gone "$DAEMON_PID" && fail "the daemon stopped"
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "daemon exit $EXIT_STATUS after SIGTERM"
grep -q 'ep-late: pack attempt 1 of 3 failed: ep-late/f07: changed before packing' "$SLOG" ||
    fail "growth of an opened file not caught: $(grep 'ep-late' "$SLOG")"
archive_is_tree "$STORE/lab-a/ep-late.tar.zst" "$DATA/shipped/ep-late" ep-late
grep -q grown "$DATA/shipped/ep-late/f07" && [ ! -e "$DATA/shipped/ep-late/f50" ] ||
    fail "ep-late shipped not as it was at the end"
ok "a file grown after it was opened, one removed before: retried, shipped as the episode is then"
grep -l -E 'lost child|fatal' "$T"/*.log && fail "a process failed: $(grep -h -E 'lost child|fatal' "$T"/*.log)"
ok "no process died"
