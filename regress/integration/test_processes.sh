# The privsep skeleton: four processes with their titles and accounts,
# children without systemd's variables, a lost child ends the daemon,
# SIGTERM and SIGINT stop it cleanly, a dead parent takes the children.
. "$(dirname "$0")/lib.sh"

make_conf

# 1. Titles, accounts, environment.
start_daemon "$T/log1" NOTIFY_SOCKET=/nonexistent/notify \
    WATCHDOG_USEC=180000000 WATCHDOG_PID=1
wait_until 5 children_up || fail "children not up within 5 s"
[ "$(ps -o comm= -p "$DAEMON_PID")" = cis490-shipper ] ||
    fail "parent: $(ps -o comm=,args= -p "$DAEMON_PID")"
n=$(ps -o pid= --ppid "$DAEMON_PID" | wc -l)
[ "$n" -eq 3 ] || fail "expected 3 children, found $n"
ok "four processes: parent and children titled scanner, packer, uploader"

for name in scanner packer uploader; do
	pid=$(child_pid "$name")
	user=$(ps -o user= -p "$pid" | tr -d ' ')
	group=$(ps -o group= -p "$pid" | tr -d ' ')
	if [ "$(id -u)" = 0 ]; then
		case $name in
		scanner) want=daemon ;;
		*) want=nobody ;;
		esac
		[ "$user" = "$want" ] || fail "$name runs as $user, not $want"
		[ "$(id -gn "$want")" = "$group" ] ||
		    fail "$name has group $group, not $(id -gn "$want")"
		groups=$(awk '/^Groups:/ { $1 = ""; print }' \
		    "/proc/$pid/status" | tr -d ' ')
		[ "$groups" = "$(id -g "$want")" ] ||
		    fail "$name keeps supplementary groups: $groups"
	else
		[ "$user" = "$(id -un)" ] || fail "$name runs as $user"
	fi
	env=$(tr '\0' '\n' <"/proc/$pid/environ" |
	    grep -E '^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=')
	[ -z "$env" ] || fail "$name inherited: $env"
done
# The check above can fail: the parent does have the variables.
tr '\0' '\n' <"/proc/$DAEMON_PID/environ" | grep -q '^NOTIFY_SOCKET=' ||
    fail "parent environment lacks NOTIFY_SOCKET: test is broken"
ok "accounts ($(id -un)) and no NOTIFY_SOCKET/WATCHDOG_* in children"

# 2. SIGTERM and SIGINT: everything gone within 5 s, status 0.
for sig in TERM INT; do
	kids=$(ps -o pid= --ppid "$DAEMON_PID")
	kill -"$sig" "$DAEMON_PID"
	wait_exit "$DAEMON_PID" 5 || fail "SIG$sig: parent still up after 5 s"
	[ "$EXIT_STATUS" -eq 0 ] || fail "SIG$sig: exit status $EXIT_STATUS"
	# shellcheck disable=SC2086
	all_gone $kids || fail "SIG$sig: children outlived the parent"
	grep -q "lost child" "$LOG" && fail "SIG$sig logged a lost child"
	ok "SIG$sig: all four exit within 5 s, status 0"
	start_daemon "$T/log-$sig"
	wait_until 5 children_up || fail "restart after SIG$sig"
done
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 5 || fail "stop"

# 3. A child killed: the parent logs it, stops the rest, exits non-zero.
for name in scanner packer uploader; do
	start_daemon "$T/log-kill-$name"
	wait_until 5 children_up || fail "children not up ($name run)"
	kids=$(ps -o pid= --ppid "$DAEMON_PID")
	kill -KILL "$(child_pid "$name")"
	wait_exit "$DAEMON_PID" 5 ||
	    fail "$name killed: parent still up after 5 s"
	[ "$EXIT_STATUS" -ne 0 ] ||
	    fail "$name killed: parent exited with status 0"
	# shellcheck disable=SC2086
	wait_until 1 all_gone $kids || fail "$name killed: other children live"
	grep -q "lost child: $name (killed by signal 9)" "$LOG" ||
	    fail "$name killed: no 'lost child: $name' line"
	ok "$name SIGKILLed: whole tree gone, exit $EXIT_STATUS, logged"
done

# 4. The parent killed: its children see EOF and exit.
start_daemon "$T/log-parent"
wait_until 5 children_up || fail "children not up (parent run)"
kids=$(ps -o pid= --ppid "$DAEMON_PID")
kill -KILL "$DAEMON_PID"
{ wait "$DAEMON_PID"; } 2>/dev/null
# shellcheck disable=SC2086
wait_until 5 all_gone $kids || fail "children outlived a killed parent"
ok "parent SIGKILLed: children exit within 5 s"
