# The daemon: with scan-interval 60s only inotify can make it fast, so
# an episode that becomes ready is shipped within 5 s; names in
# episodes/ that are not episodes are logged once each, however many
# passes see them, and left alone; SIGTERM stops it with status 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

ship_setup
ship_conf "scan-interval 60s"

# Not episodes: a hidden directory, a name with a space, a plain file
# with an id-like name.
mkdir -p "$DATA/episodes/.hidden" "$DATA/episodes/bad name"
echo hidden >"$DATA/episodes/.hidden/DONE"
echo bad >"$DATA/episodes/bad name/DONE"
echo text >"$DATA/episodes/x.txt"
# An episode waiting for its marker when the daemon starts.
new_episode ep-1
fix_owner
odd_state() {
	(cd "$DATA/episodes" && stat -c '%n %i %s %Y %a' .hidden .hidden/DONE \
	    "bad name" "bad name/DONE" x.txt && cat x.txt .hidden/DONE \
	    "bad name/DONE")
}
odd_state >"$T/odd.before" || fail "stat"

ship_daemon daemon
wait_until 10 children_up || fail "children not up within 10 s"
wait_until 10 grep -q 'first scan: 0 ready, 0 packed, 1 waiting' "$SLOG" ||
    fail "first scan did not see ep-1 waiting"

# ship_within ID: wait at most 5 s for it to be shipped.
ship_within() {
	local t0 ms
	t0=$(date +%s%N)
	wait_until 5 is_shipped "$1" ||
	    fail "$1 not shipped within 5 s of its marker (scan-interval 60s)"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	ok "$1 shipped ${ms} ms after its marker: $2"
}

# 1. The marker of an episode the daemon already knows (its watch).
mark_ready ep-1
ship_within ep-1 "known waiting episode"

# 2. A new directory, filled, then marked (the episodes/ watch).
new_episode ep-2
echo more >"$DATA/episodes/ep-2/more.txt"
fix_owner
mark_ready ep-2
ship_within ep-2 "new episode"

# 3. Created ready in one rename, as some recorders do.
mkdir -p "$DATA/incoming/ep-3"
echo three >"$DATA/incoming/ep-3/data.txt"
touch "$DATA/incoming/ep-3/DONE"
fix_owner
mv "$DATA/incoming/ep-3" "$DATA/episodes/ep-3" || fail "mv"
ship_within ep-3 "renamed into episodes/"

# 4. The odd names: logged once each over all these passes, untouched.
for name in .hidden "bad name" x.txt; do
	n=$(grep -c -F "episodes/$name: " "$SLOG")
	[ "$n" = 1 ] || fail "'$name' logged $n times, expected once:
$(grep -F "episodes/$name" "$SLOG")"
done
grep -q -F 'episodes/x.txt: not a directory' "$SLOG" || fail "x.txt: why"
grep -q -F 'episodes/bad name: not an episode id' "$SLOG" ||
    fail "bad name: why"
odd_state >"$T/odd.after" || fail "odd names gone"
diff "$T/odd.before" "$T/odd.after" >"$T/odd.diff" ||
    fail "odd names touched: $(cat "$T/odd.diff")"
[ -z "$(ls -A "$DATA/quarantine")" ] ||
    fail "quarantine/: $(ls -A "$DATA/quarantine")"
ok "odd names logged once each and left alone"

# 5. SIGTERM.
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "exit $EXIT_STATUS after SIGTERM"
grep -q 'parent: exiting with status 0' "$SLOG" || fail "no exit line"
ok "SIGTERM: exit 0"

# 6. Many timed passes (scan-interval 1s): still once each.
ship_conf "scan-interval 1s"
ship_daemon daemon2
wait_until 10 children_up || fail "children not up within 10 s"
wait_until 10 grep -q 'first scan:' "$SLOG" || fail "no first scan"
sleep 4		# four timed passes; nothing to wait for but time
new_episode ep-4
mark_ready ep-4
wait_until 5 is_shipped ep-4 || fail "ep-4 not shipped"
for name in .hidden "bad name" x.txt; do
	n=$(grep -c -F "episodes/$name: " "$SLOG")
	[ "$n" = 1 ] || fail "'$name' logged $n times in 4 s of 1 s passes"
done
odd_state >"$T/odd.after2" || fail "odd names gone"
diff "$T/odd.before" "$T/odd.after2" >/dev/null || fail "odd names touched"
stop_daemon
[ "$EXIT_STATUS" = 0 ] || fail "exit $EXIT_STATUS after SIGTERM"
ok "scan-interval 1s, 4 s of passes: odd names still logged once each"
