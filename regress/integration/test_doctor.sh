# `status` and `doctor` against the real daemon and receiver (DESIGN §8):
# all green when healthy; the receiver down is a yellow transient row
# (exit 1); 412s from a narrow accept window are red with their count
# and fix, listed before 400s (exit 2); a certificate 5 days from expiry
# is not green; `-j` says what the rows say; the control socket is 0660
# with the data owner's group and refuses other users.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"

SOCK=$T/control.sock
ship_setup "accept-window past 1m future 1m"
ship_conf "scan-interval 1s" "backoff base 1s" "backoff cap 2s"

# doctor NAME [ARGS...]: rows in $T/NAME.out, JSON in $T/NAME.json,
# exit statuses in DOC_RC and JSON_RC.  The two are separate runs: a
# daemon state that changed between them (an upload retried just then,
# so the receiver row quotes the last ping) gets up to two more tries;
# rows and -j that keep disagreeing fail.
doctor() {
	local name=$1 try
	shift
	for try in 1 2 3; do
		doctor_once "$name" "$@" && return 0
		sleep 0.5
	done
	fail "$name: rows and -j differ: $(diff "$T/$name.rows" \
	    "$T/$name.jrows")"
}

# doctor_once NAME [ARGS...]: one pair of runs; 1 if the rows differ.
doctor_once() {
	local name=$1
	shift
	NO_COLOR= "$SHIPPER" -f "$CONF" -s "$SOCK" doctor "$@" \
	    >"$T/$name.out" 2>"$T/$name.err"
	DOC_RC=$?
	"$SHIPPER" -f "$CONF" -s "$SOCK" doctor -j "$@" >"$T/$name.json" \
	    2>>"$T/$name.err"
	JSON_RC=$?
	jq -e . "$T/$name.json" >/dev/null ||
	    fail "$name: -j is not JSON: $(cat "$T/$name.json")"
	# The rows and the JSON agree: same checks, levels and findings
	# (numbers aside: free inodes and ages move between the two runs).
	awk '/^(green|yellow|red) / { lvl = $1; chk = $2;
		sub(/^[a-z]+ +[^ ]+ +/, ""); print lvl "|" chk "|" $0 }' \
	    "$T/$name.out" | sed 's/[0-9.]\{1,\}/N/g' >"$T/$name.rows"
	jq -r '.rows[] | "\(.level)|\(.check)|\(.finding)"' \
	    "$T/$name.json" | sed 's/[0-9.]\{1,\}/N/g' >"$T/$name.jrows"
	[ -s "$T/$name.rows" ] || fail "$name: no rows: $(cat "$T/$name.out")"
	cmp -s "$T/$name.rows" "$T/$name.jrows" || return 1
	[ "$DOC_RC" = "$JSON_RC" ] ||
	    fail "$name: exit $DOC_RC, with -j $JSON_RC"
	jq -e --argjson rc "$DOC_RC" '.exit == $rc' "$T/$name.json" \
	    >/dev/null || fail "$name: JSON exit is not $DOC_RC"
}

# level NAME CHECK: the level of CHECK's row ("" when there is none).
level() {
	jq -r --arg c "$2" '[.rows[] | select(.check == $c) | .level][0] //
	    ""' "$T/$1.json"
}

# --- healthy: one episode shipped, every row green, exit 0
ship_daemon daemon
new_episode ep-1
mark_ready ep-1
wait_until 30 is_shipped ep-1 || fail "ep-1 not shipped"
[ "$(stat -c '%a %g' "$SOCK")" = "660 $(id -g daemon)" ] ||
    fail "control socket: $(stat -c '%a %U:%G' "$SOCK"), want 660 and the group of daemon"
# The counts are the last scan pass's: wait for the one after the ship.
wait_until 10 sh -c "\"$SHIPPER\" -f \"$CONF\" -s \"$SOCK\" status \
    >\"$T/status.out\" 2>&1 && grep -q 'last ship  ep-1' \"$T/status.out\" &&
    grep -q ' 0 ready' \"$T/status.out\"" ||
    fail "status: $(cat "$T/status.out")"
grep -Eq '^ +stored +1 +1$' "$T/status.out" ||
    fail "status: no 'stored 1 1' count: $(cat "$T/status.out")"
grep -q '^episodes   0 waiting, 0 ready, 0 packed, 0 quarantined' \
    "$T/status.out" || fail "status: episodes line: $(cat "$T/status.out")"
doctor healthy
[ "$DOC_RC" = 0 ] || fail "healthy: exit $DOC_RC: $(cat "$T/healthy.out")"
for c in daemon config certificate receiver clock errors backlog \
    quarantine disk watchdog; do
	[ "$(level healthy $c)" = green ] ||
	    fail "healthy: $c is '$(level healthy $c)': $(cat "$T/healthy.out")"
done
jq -e '.status == "green" and ([.rows[] | select(.fix != null)] | length)
    == 0' "$T/healthy.json" >/dev/null ||
    fail "healthy: $(cat "$T/healthy.json")"
# Colours on a terminal only, and never with NO_COLOR set.
esc=$(printf '\033')
script -qec "\"$SHIPPER\" -f \"$CONF\" -s \"$SOCK\" doctor" /dev/null \
    >"$T/tty.out" </dev/null
grep -q "$esc\[32mgreen" "$T/tty.out" || fail "no colours on a terminal: $(cat -v "$T/tty.out")"
NO_COLOR=1 script -qec "\"$SHIPPER\" -f \"$CONF\" -s \"$SOCK\" doctor" \
    /dev/null >"$T/nocolor.out" </dev/null
grep -q "$esc" "$T/nocolor.out" && fail "colours with NO_COLOR: $(cat -v "$T/nocolor.out")"
grep -q "$esc" "$T/healthy.out" && fail "colours into a file: $(cat -v "$T/healthy.out")"
grep -q '^green' "$T/nocolor.out" || fail "NO_COLOR: $(cat -v "$T/nocolor.out")"
ok "healthy: status counts the shipment, doctor all green, exit 0, -j agrees"
ok "colours on a terminal only, none with NO_COLOR"

# --- a user outside the data owner's group is refused by the socket
if [ "$(id -u)" = 0 ]; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$SHIPPER" -f "$CONF" -s "$SOCK" status >"$T/nobody.out" 2>&1 &&
	    fail "status as nobody succeeded: $(cat "$T/nobody.out")"
	grep -q 'Permission denied' "$T/nobody.out" ||
	    fail "status as nobody: $(cat "$T/nobody.out")"
	ok "the control socket refuses a user outside its group"
fi

# --- receiver down: a transient failure is yellow, exit 1
stop_receiver
new_episode ep-2
mark_ready ep-2
LOG=$SLOG
wait_until 30 grep -q 'answer transient: ep-2' "$SLOG" ||
    fail "no transient answer for ep-2"
doctor down
[ "$DOC_RC" = 1 ] || fail "receiver down: exit $DOC_RC: $(cat "$T/down.out")"
[ "$(level down transient)" = yellow ] ||
    fail "receiver down: transient row: $(cat "$T/down.out")"
[ "$(level down receiver)" = yellow ] ||
    fail "receiver down: receiver row: $(cat "$T/down.out")"
grep -q '^ *fix: cis490-shipper ping$' "$T/down.out" ||
    fail "receiver down: no fix line: $(cat "$T/down.out")"
jq -e '[.rows[] | select(.level == "red")] | length == 0' "$T/down.json" \
    >/dev/null || fail "receiver down: a red row: $(cat "$T/down.out")"
ok "receiver down: transient and receiver rows yellow with their fix, exit 1"

# --- 3 episodes out of the window and one the receiver calls malformed:
# 412 red with its count before 400 red, exit 2.
ship_restart_receiver
LOG=$SLOG
wait_until 30 is_shipped ep-2 || fail "ep-2 not shipped after the restart: $(tail -n 5 "$RLOG")"
# A new daemon counts these alone.
stop_daemon
for i in 1 2 3; do
	new_episode "ep-old-$i"
	mark_ready "ep-old-$i" -d '2 days ago'
done
# A packed archive that is no zstd frame, with its digest: what a broken
# packer would leave.  The receiver answers 400.
new_episode ep-bad
mark_ready ep-bad
head -c 4096 /dev/urandom >"$DATA/spool/ep-bad.tar.zst"
echo "$(sha256sum <"$DATA/spool/ep-bad.tar.zst" | cut -d' ' -f1)  ep-bad.tar.zst" \
    >"$DATA/spool/ep-bad.sha256"
fix_owner
ship_daemon daemon2
LOG=$SLOG
for id in ep-old-1 ep-old-2 ep-old-3 ep-bad; do
	wait_until 30 is_quarantined "$id" || fail "$id not quarantined"
done
[ "$(reason_of ep-bad)" = bad-request ] ||
    fail "ep-bad: reason $(reason_of ep-bad)"
# The counts are the scan pass's after the last move to quarantine/.
wait_until 10 sh -c "\"$SHIPPER\" -f \"$CONF\" -s \"$SOCK\" status |
    grep -q '0 ready, 0 packed, 4 quarantined'" ||
    fail "status never showed 4 quarantined"
doctor rejected
[ "$DOC_RC" = 2 ] || fail "rejected: exit $DOC_RC: $(cat "$T/rejected.out")"
grep -q '^red +out-of-window +3 ship(s) rejected as out-of-window' \
    "$T/rejected.out" 2>/dev/null ||
    grep -Eq '^red +out-of-window +3 ship\(s\) rejected as out-of-window' \
    "$T/rejected.out" ||
    fail "rejected: no red 412 row with its count: $(cat "$T/rejected.out")"
grep -A1 'rejected as out-of-window' "$T/rejected.out" |
    grep -q 'fix: cis490-shipper requeue --reason out-of-window' ||
    fail "rejected: 412 fix: $(cat "$T/rejected.out")"
[ "$(level rejected bad-request)" = red ] ||
    fail "rejected: no red 400 row: $(cat "$T/rejected.out")"
order=$(jq -r '[.rows[].check | select(. == "out-of-window" or
    . == "bad-request")] | join(",")' "$T/rejected.json")
[ "$order" = "out-of-window,bad-request" ] ||
    fail "rejected: 412 and 400 rows in the order $order"
[ "$(level rejected quarantine)" = yellow ] ||
    fail "rejected: quarantine row: $(cat "$T/rejected.out")"
grep -q 'quarantine +4 episode(s)' "$T/rejected.out" 2>/dev/null ||
    grep -Eq 'quarantine +4 episode\(s\)' "$T/rejected.out" ||
    fail "rejected: quarantine count: $(cat "$T/rejected.out")"
ok "412 x3 and 400: out-of-window row (count, fix) before bad-request, exit 2"

# --- a certificate that expires in 5 days is not green
PKI_DAYS=5 pki_host ca lab-short
sed "s|$PKI/lab-a.crt|$PKI/lab-short.crt|; s|$PKI/lab-a.key|$PKI/lab-short.key|" \
    "$CONF" >"$T/short.conf"
"$SHIPPER" -f "$T/short.conf" -s "$SOCK" doctor -j >"$T/short.json"
jq -e '[.rows[] | select(.check == "certificate")][0] |
    .level != "green" and (.finding | test("expires in [0-9] day"))' \
    "$T/short.json" >/dev/null ||
    fail "5-day certificate: $(jq -c '.rows[] | select(.check ==
    "certificate")' "$T/short.json")"
# and a key that is not the certificate's is red
sed "s|$PKI/lab-a.key|$PKI/lab-b.key|" "$CONF" >"$T/mismatch.conf"
"$SHIPPER" -f "$T/mismatch.conf" -s "$SOCK" doctor -j >"$T/mismatch.json"
jq -e '[.rows[] | select(.check == "certificate")][0] | .level == "red"
    and (.finding | test("does not belong"))' "$T/mismatch.json" \
    >/dev/null || fail "key mismatch: $(cat "$T/mismatch.json")"
ok "certificate 5 days from expiry is not green; a foreign key is red"

# --- the daemon down, no journal to read here: red daemon row
stop_daemon
doctor stopped
[ "$DOC_RC" = 2 ] || fail "stopped: exit $DOC_RC"
[ "$(level stopped daemon)" = red ] ||
    fail "stopped: daemon row: $(cat "$T/stopped.out")"
grep -A1 '^red +daemon' "$T/stopped.out" 2>/dev/null |
    grep -q "fix: systemctl start cis490-shipper.service" ||
    grep -EA1 '^red +daemon' "$T/stopped.out" |
    grep -q "fix: systemctl start cis490-shipper.service" ||
    fail "stopped: fix: $(cat "$T/stopped.out")"
[ ! -e "$SOCK" ] || fail "the control socket outlived the daemon"
ok "daemon down: red daemon row with its fix; socket removed at exit"
