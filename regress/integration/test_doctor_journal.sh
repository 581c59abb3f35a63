# `doctor` without the daemon (DESIGN §8): the shipping errors of the
# last 10 minutes come from the unit's journal; a user who may neither
# use the control socket nor read the journal gets yellow rows with the
# commands that grant access.
#
# The journal is a real systemd-journald, started in a private mount
# namespace with its own /run/systemd and /run/log (never the host's),
# and the daemon logs into it as under systemd: its stderr is a journal
# stream (systemd-cat) with the identifier cis490-shipper.
if [ -z "${CIS490_JOURNAL_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "FAIL: needs root for a mount namespace"; exit 1; }
	command -v unshare >/dev/null || { echo "FAIL: no unshare"; exit 1; }
	CIS490_JOURNAL_NS=1 exec unshare -m --propagation private bash "$0"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"
command -v systemd-cat >/dev/null 2>&1 || fail "systemd-cat missing (systemd)"
JOURNALD=/lib/systemd/systemd-journald
[ -x "$JOURNALD" ] || fail "$JOURNALD missing (systemd)"

for d in /run/systemd /run/log /var/log/journal; do
	[ -d "$d" ] || continue
	mount -t tmpfs -o mode=0755 tmpfs "$d" || fail "mount tmpfs on $d"
done
mkdir -p /run/systemd/journal
"$JOURNALD" 2>"$T/journald.log" &
STARTED_PIDS="$STARTED_PIDS $!"
wait_until 10 test -S /run/systemd/journal/stdout || fail "journald did not start"

SOCK=$T/control.sock
ship_setup "accept-window past 1m future 1m"
ship_conf "scan-interval 1s"

# Made before the daemon starts: it must not see a marker between its
# creation and the touch that dates it back.
for i in 1 2; do
	new_episode "ep-old-$i"
	mark_ready "ep-old-$i" -d '2 days ago'
done
# Under systemd: stderr is a journal stream, "<N>" prefixes kept.
systemd-cat -t cis490-shipper "$SHIPPER" -v -f "$CONF" -s "$SOCK" &
DAEMON_PID=$!
STARTED_PIDS="$STARTED_PIDS $DAEMON_PID"
for i in 1 2; do
	wait_until 30 is_quarantined "ep-old-$i" ||
	    fail "ep-old-$i not quarantined: $(journalctl -t cis490-shipper \
	    --no-pager | tail -n 20)"
done
wait_until 10 sh -c "journalctl -t cis490-shipper --no-pager |
    grep -c 'parent: answer out-of-window' | grep -qx 2" ||
    fail "journal: $(journalctl -t cis490-shipper --no-pager | tail -n 20)"

# --- a user outside the group, the daemon up: neither the socket nor
# the journal is his.  His configuration copy names files he may stat.
PUB=$T/pub
mkdir -p "$PUB"
chmod 0755 "$PUB"
cp "$PKI/ca.pem" "$PKI/lab-a.crt" "$PKI/lab-a.key" "$PKI/lab-a.token" "$PUB/"
chmod 0600 "$PUB/lab-a.key" "$PUB/lab-a.token"
chmod 0644 "$PUB/ca.pem" "$PUB/lab-a.crt"
sed "s|$PKI/|$PUB/|g" "$CONF" >"$T/pub.conf"
chmod 0644 "$T/pub.conf"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$SHIPPER" -f "$T/pub.conf" -s "$SOCK" doctor -j >"$T/nobody.json" \
    2>"$T/nobody.err"
rc=$?
jq -e . "$T/nobody.json" >/dev/null || fail "nobody: $(cat "$T/nobody.err")"
jq -e '[.rows[] | select(.check == "journal")][0] | .level == "yellow"
    and .fix == "usermod -a -G systemd-journal nobody"
    and (.finding | test("not readable"))' "$T/nobody.json" >/dev/null ||
    fail "nobody: journal row: $(cat "$T/nobody.json")"
jq -e '[.rows[] | select(.check == "daemon")][0] | .level == "yellow"
    and (.fix | startswith("usermod -a -G "))
    and (.finding | test("Permission denied"))' "$T/nobody.json" \
    >/dev/null || fail "nobody: daemon row: $(cat "$T/nobody.json")"
jq -e '[.rows[] | select(.level == "red")] | length == 0' \
    "$T/nobody.json" >/dev/null || fail "nobody: red rows: $(cat "$T/nobody.json")"
[ "$rc" = 1 ] || fail "nobody: exit $rc"
ok "a user without access: yellow daemon and journal rows with their fixes, exit 1"

# --- the daemon down: the 412s are classified from the journal
kill -TERM "$DAEMON_PID"
wait_until 10 gone "$DAEMON_PID" || fail "daemon did not stop"
"$SHIPPER" -f "$CONF" -s "$SOCK" doctor -j >"$T/down.json" 2>"$T/down.err"
rc=$?
"$SHIPPER" -f "$CONF" -s "$SOCK" doctor >"$T/down.out" 2>>"$T/down.err"
[ "$rc" = 2 ] || fail "daemon down: exit $rc: $(cat "$T/down.out")"
jq -e '[.rows[] | select(.check == "daemon")][0].level == "red"' \
    "$T/down.json" >/dev/null || fail "daemon down: $(cat "$T/down.out")"
jq -e '[.rows[] | select(.check == "out-of-window")][0] |
    .level == "red" and
    (.finding | startswith("2 ship(s) rejected as out-of-window")) and
    (.finding | test("from the journal")) and
    .fix == "cis490-shipper requeue --reason out-of-window"' \
    "$T/down.json" >/dev/null ||
    fail "daemon down: no 412 row from the journal: $(cat "$T/down.out")"
jq -e '[.rows[] | select(.check == "journal")] | length == 0' \
    "$T/down.json" >/dev/null || fail "root: journal row: $(cat "$T/down.out")"
ok "daemon down: 2 out-of-window ships classified from the journal, exit 2"
