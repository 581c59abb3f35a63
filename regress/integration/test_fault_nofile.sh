# The scanner runs out of descriptors (EMFILE) while it hands an
# episode's files to the packer: the host's trouble, not the episode's.
# The episode is retried, never counted against pack-retries nor
# quarantined, the daemon stays up; once the limit is raised it ships,
# byte-identical.  The scanner's soft limit is lowered from outside
# after it started (prlimit --pid, run as the scanner's own account:
# root here may lack CAP_SYS_RESOURCE); its hard limit stays.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"
. "$(dirname "$0")/fault_lib.sh"

command -v prlimit >/dev/null 2>&1 || fail "prlimit is not installed (util-linux)"
command -v setpriv >/dev/null 2>&1 || fail "setpriv is not installed (util-linux)"
[ "$(id -u)" = 0 ] || fail "needs root: the scanner runs as daemon"

# scanner_nofile SOFT: set the scanner's soft RLIMIT_NOFILE.
scanner_nofile() {
	setpriv --reuid daemon --regid "$(id -g daemon)" --clear-groups \
	    prlimit --pid "$sc" --nofile="$1":"$hard"
}

ship_setup >/dev/null 2>&1 || fail "setup"
ship_conf "scan-interval 1s" "backoff base 1s" "backoff cap 2s" \
    "pack-retries 2"
fix_owner
ship_daemon nofile
wait_until 10 children_up || fail "children not up: $(tail -5 "$SLOG")"
sc=$(child_pid scanner)
base=$(ls "/proc/$sc/fd" | wc -l)
# Room for the episode directory, its walk and the spool file, and
# about one member file: the walk keeps up to PACK_WINDOW open.
hard=$(awk '/^Max open files/ { print $5 }' "/proc/$sc/limits")
[ -n "$hard" ] || fail "cannot read the scanner's limit"
scanner_nofile $((base + 4)) || fail "prlimit on the scanner ($sc)"

new_episode many
for i in $(seq 1 40); do
	echo "file $i $RANDOM" >"$DATA/episodes/many/f$i.txt"
done
mark_ready many
# The scanner only reads while it cannot pack: copy the tree as it is
# ready, its directory's mtime after DONE included.
mkdir "$T/orig"
cp -a "$DATA/episodes/many" "$T/orig/many" || fail "copy"

wait_until 20 eval '[ "$(grep -c "many: not packed: .*Too many open files.*not counted" "$SLOG")" -ge 3 ]' ||
    fail "not 3 failed packs with EMFILE, said as not counted: $(grep 'many' "$SLOG" | tail -5)"
gone "$DAEMON_PID" && fail "the daemon stopped"
[ -d "$DATA/episodes/many" ] && [ ! -e "$DATA/quarantine/many" ] ||
    fail "many moved: $(ls "$DATA"/*)"
grep -q 'many: quarantined\|many: pack attempt' "$SLOG" &&
    fail "EMFILE counted against many: $(grep 'many: ' "$SLOG" | head -5)"
grep -q 'answer pack-failed: many' "$SLOG" &&
    fail "EMFILE recorded as many's pack failure"
ok "EMFILE in the scanner: retried, not counted ($(grep -c 'many: not packed' "$SLOG") tries)"

scanner_nofile "$hard" || fail "prlimit back to $hard"
wait_until 20 is_shipped many || fail "many not shipped after the limit was raised"
end_shipped_intact many
ok "limit raised: many shipped byte-identical, nothing left in spool/"
