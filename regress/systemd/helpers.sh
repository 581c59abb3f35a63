# Steps and checks of regress/systemd/run.sh, sourced after container.sh.
# Paths below $R are the container's root as the host sees it (the
# overlay); commands inside go through ct.
#
#   make_pki                    CA, lab-a client, server certificate and
#                               lab-a's token (regress/integration/pki.sh),
#                               copied to /etc/cis490-*/ as installed
#   configure                   shipper.conf and receiver.conf made from
#                               the installed examples
#   prop UNIT PROPERTY          systemctl show's value
#   start_unit UNIT             systemctl start, which for Type=notify
#                               returns once the unit is active
#   check_ready UNIT STATUS     active only after READY=1 from its main
#                               pid, no notification from another pid,
#                               StatusText has STATUS
#   check_hardening UNIT        the unit's sandbox is on the running
#                               daemon; exposure of the live unit
#   new_episode ID MIB          an episode of MIB MiB of random bytes
#   big_episode ID              a few hundred MiB, slow to pack
#   is_shipped ID               in shipped/ and stored by the receiver
#   settled ID                  shipped or quarantined
#   check_stored ID             the stored archive holds the same files
#   check_once ID               stored once, shipped once, no quarantine
#   stop_pid WHAT PID           SIGSTOP to PID in the container, if it
#                               is one process's pid (never 0 or 1)
#   count UNIT REGEX            lines of its journal that match
#   watchdog_restart WHAT MAIN RESTARTS TIMEOUTS [DAEMON-LINE]
#                               one more "Watchdog timeout" than
#                               TIMEOUTS, a restart and a new main pid
#                               that is active again

DATA=/var/lib/cis490-shipper
STORE=/var/lib/cis490-receiver

make_pki() {
	local s=$R/etc/cis490-shipper r=$R/etc/cis490-receiver
	RECEIVER=$top/$BUILD/cis490-receiver
	# pki.sh's own prerequisites (openssl, curl, python3) are checked
	# there; its fail counts here.
	. "$top/regress/integration/pki.sh"
	pki_ca ca
	pki_host ca lab-a
	pki_server ca
	: >"$PKI/tokens"
	pki_token lab-a >/dev/null
	install -m 0644 "$PKI/ca.pem" "$s/ca.pem"
	install -m 0644 "$PKI/lab-a.crt" "$s/host.crt"
	install -m 0600 "$PKI/lab-a.key" "$s/host.key"
	install -m 0600 "$PKI/lab-a.token" "$s/token"
	install -m 0644 "$PKI/ca.pem" "$r/ca.pem"
	install -m 0644 "$PKI/server.crt" "$r/receiver.crt"
	install -m 0600 "$PKI/server.key" "$r/receiver.key"
	install -m 0600 "$PKI/tokens" "$r/tokens"
	ok "certificates and lab-a's token made and installed"
}

# The examples as installed, edited as README's operations section
# says; the test adds a fast scan, a short stall-timeout and the
# slowest compression (so a pack takes long enough to stop it midway).
configure() {
	local s=$R/etc/cis490-shipper r=$R/etc/cis490-receiver
	sed -e 's/^host .*/host lab-a/' \
	    -e "s|^receiver url .*|receiver url https://127.0.0.1:$PORT|" \
	    "$s/shipper.conf.example" >"$s/shipper.conf"
	printf '%s\n' "scan-interval 1s" "stall-timeout 3s" \
	    "compression level 19" "backoff base 1s" >>"$s/shipper.conf"
	# Loopback only: the container's private network has just lo.
	{
		echo "listen 127.0.0.1 port $PORT"
		sed '/^listen /d' "$r/receiver.conf.example"
	} >"$r/receiver.conf"
}

prop() {
	ct systemctl show -p "$2" --value "$1"
}

journal() {
	ct journalctl -u "$1" -o cat --no-pager
}

# "kill -STOP 0" would stop the test's own process group, and a list
# of pids more than the one process meant.
stop_pid() {
	case $2 in
	''|*[!0-9]*|0|1)
		fail "$1 is one process" "pid: \"$2\""
		return 1 ;;
	esac
	ct kill -STOP "$2"
}

count() {
	journal "$1" | grep -c -- "$2"
}

# journal_has UNIT REGEX
journal_has() {
	journal "$1" | grep -q -- "$2"
}

tail_journals() {
	local u
	for u in cis490-shipper cis490-receiver; do
		echo "--- journalctl -u $u (last lines)"
		journal $u | grep -v -e 'Got notification message' \
		    -e 'Child [0-9]* belongs' | tail -n 20
	done
	echo "--- spool/ shipped/ quarantine/"
	ls -l "$R$DATA/spool" "$R$DATA/shipped" "$R$DATA/quarantine" 2>&1
	for f in "$R$DATA"/quarantine/*.json; do
		[ -f "$f" ] && echo "${f##*/}: $(cat "$f")"
	done
}

start_unit() {
	local v
	if v=$(ct timeout 30 systemctl start "$1" 2>&1) &&
	    [ "$(prop "$1" ActiveState)" = active ]; then
		ok "$1: systemctl start, active"
	else
		fail "$1: systemctl start, active" \
		    "$v$(echo; ct systemctl status --no-pager "$1"; journal "$1" | tail -n 30)"
	fi
}

# systemd 252 logs (at debug level) each notification it accepts as
# "Got notification message from PID N (READY=1, STATUS=...)", and
# the change of the unit from "start" to "running", which is when it
# becomes active.
check_ready() {
	local u=$1 main j rl al others st
	main=$(prop "$u" MainPID)
	j=$(journal "$u")
	rl=$(printf '%s\n' "$j" | grep -n -m 1 \
	    "Got notification message from PID $main (READY=1" | cut -d: -f1)
	al=$(printf '%s\n' "$j" | grep -n -m 1 'Changed start -> running' |
	    cut -d: -f1)
	if [ -n "$rl" ] && [ -n "$al" ] && [ "$rl" -lt "$al" ] &&
	    [ "$(prop "$u" Type)" = notify ]; then
		ok "$u: active only after READY=1 from its main pid $main"
	else
		fail "$u: active only after READY=1 from its main pid $main" \
		    "READY=1 at line ${rl:-none}, running at line ${al:-none}
$(printf '%s\n' "$j" | tail -n 30)"
	fi
	others=$(printf '%s\n' "$j" | grep -e 'Got notification message' \
	    -e 'reception only permitted' | grep -v "from PID $main ")
	[ -z "$others" ] && ok "$u: notifications only from the main pid" ||
	    fail "$u: notifications only from the main pid" "$others"
	st=$(prop "$u" StatusText)
	case "$st" in
	*"$2"*) ok "$u: StatusText=$st" ;;
	*) fail "$u: StatusText has \"$2\"" "StatusText=$st" ;;
	esac
}

# The capability bits a unit's CapabilityBoundingSet= names.
capmask() {
	local m=0 c
	for c in $(sed -n 's/^CapabilityBoundingSet=//p' "$1"); do
		case $c in
		CAP_CHOWN) m=$((m | 1 << 0)) ;;
		CAP_DAC_OVERRIDE) m=$((m | 1 << 1)) ;;
		CAP_DAC_READ_SEARCH) m=$((m | 1 << 2)) ;;
		CAP_SETGID) m=$((m | 1 << 6)) ;;
		CAP_SETUID) m=$((m | 1 << 7)) ;;
		CAP_NET_BIND_SERVICE) m=$((m | 1 << 10)) ;;
		CAP_SYS_CHROOT) m=$((m | 1 << 18)) ;;
		*) echo "capmask: add $c" >&2; m=-1 ;;
		esac
	done
	printf '%016x\n' "$m"
}

check_hardening() {
	local u=$1 main st want got ns1 ns lvl out
	main=$(prop "$u" MainPID)
	st=$(ct cat "/proc/$main/status")
	want=$(capmask "$top/etc/$u.service")
	got=$(printf '%s\n' "$st" | sed -n 's/^CapBnd:[[:space:]]*//p')
	ns1=$(ct readlink /proc/1/ns/mnt)
	ns=$(ct readlink "/proc/$main/ns/mnt")
	if [ "$got" = "$want" ] &&
	    printf '%s\n' "$st" | grep -q '^NoNewPrivs:[[:space:]]*1$' &&
	    printf '%s\n' "$st" | grep -q '^Seccomp:[[:space:]]*2$' &&
	    [ -n "$ns" ] && [ "$ns" != "$ns1" ]; then
		ok "$u: running with the unit's capabilities, NoNewPrivs, seccomp, own mounts"
	else
		fail "$u: running with the unit's capabilities, NoNewPrivs, seccomp, own mounts" \
		    "CapBnd $got (want $want), mnt $ns (PID 1: $ns1)
$(printf '%s\n' "$st" | grep -e NoNewPrivs -e Seccomp)"
	fi
	# The live unit as systemd loaded it, drop-in included.
	out=$(ct systemd-analyze security --no-pager "$u.service" 2>&1)
	lvl=$(printf '%s\n' "$out" |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -n "$lvl" ] && awk -v l="$lvl" 'BEGIN { exit !(l + 0 <= 2.5) }'
	then
		ok "$u: exposure $lvl <= 2.5 as loaded by systemd"
	else
		fail "$u: exposure ${lvl:-?} <= 2.5 as loaded by systemd" \
		    "$(printf '%s\n' "$out" | grep -e '✗' -e 'exposure')"
	fi
}

# ep_ready ID: files in place, owned by the data owner; then the marker
# (the recorder's last step).
ep_ready() {
	ct chown -R cis490:cis490 "$DATA/episodes/$1" &&
	    ct setpriv --reuid=cis490 --regid=cis490 --init-groups \
	    touch "$DATA/episodes/$1/DONE" || fail "episode $1: chown, DONE"
}

new_episode() {
	local d=$R$DATA/episodes/$1
	mkdir -p "$d/sub"
	head -c $(( $2 * 1048576 )) /dev/urandom >"$d/data.bin"
	echo "episode $1" >"$d/sub/notes.txt"
	ep_ready "$1"
}

# 12 MB of random bytes at zstd level 19 take several seconds to pack
# (the window in which the packer is stopped); the 300 MiB hole behind
# them is quick to read and compress, so a re-pack after the restart
# stays short.
big_episode() {
	local d=$R$DATA/episodes/$1
	mkdir -p "$d"
	head -c 12000000 /dev/urandom >"$d/a-noise.bin"
	truncate -s 300M "$d/b-sparse.bin"
	ep_ready "$1"
}

is_shipped() {
	[ -d "$R$DATA/shipped/$1" ] && [ ! -e "$R$DATA/episodes/$1" ] &&
	    [ -f "$R$STORE/lab-a/$1.tar.zst" ]
}

# settled ID: shipped, or given up on (quarantined); no more waiting.
settled() {
	is_shipped "$1" || [ -e "$R$DATA/quarantine/$1" ]
}

# spool_tmp_grows ID: the archive being packed has bytes in it.
spool_tmp_grows() {
	[ -s "$R$DATA/spool/$1.tar.zst.tmp" ]
}

# "PATH SHA256" of each regular file, from the stored archive and from
# the shipped directory.
check_stored() {
	local a=$R$STORE/lab-a/$1.tar.zst x y
	x=$(tar --zstd -xf "$a" --to-command='printf "%s %s\n" "$TAR_FILENAME" "$(sha256sum | cut -d" " -f1)"' |
	    sort)
	y=$(cd "$R$DATA/shipped" && find "$1" -type f | sort |
	    while read -r f; do
		printf '%s %s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"
	    done)
	if [ -n "$x" ] && [ "$x" = "$y" ]; then
		ok "$1: the receiver's archive holds the shipped files ($(printf '%s\n' "$x" | wc -l) files)"
	else
		fail "$1: the receiver's archive holds the shipped files" \
		    "archive:
$x
shipped/:
$y"
	fi
}

check_once() {
	local id=$1 n stored q tmp
	n=$(journal cis490-receiver | grep -c "stored lab-a/$id ")
	stored=$(cd "$R$STORE" && find . -name "$id.*" | sort | xargs)
	q=$(ls -A "$R$DATA/quarantine")
	tmp=$(ls -A "$R$DATA/spool"; ls -A "$R$STORE/.tmp" 2>/dev/null)
	if [ "$n" = 1 ] &&
	    [ "$stored" = "./lab-a/$id.tar.zst ./lab-a/$id.tar.zst.sha256" ] &&
	    [ -z "$q" ] && [ -z "$tmp" ] && [ -d "$R$DATA/shipped/$id" ] &&
	    [ ! -e "$R$DATA/episodes/$id" ]; then
		ok "$id: stored once, in shipped/, nothing in quarantine or spool"
	else
		fail "$id: stored once, in shipped/, nothing in quarantine or spool" \
		    "\"stored\" lines: $n; stored: $stored; quarantine: $q; spool and .tmp: $tmp"
	fi
}

# The restart after a watchdog timeout: a new main pid, active again,
# READY=1 from it.
restarted() {
	local m
	[ "$(prop cis490-shipper NRestarts)" -gt "$1" ] || return 1
	[ "$(prop cis490-shipper ActiveState)" = active ] || return 1
	m=$(prop cis490-shipper MainPID)
	[ "$m" != 0 ] && [ "$m" != "$2" ]
}

more_timeouts() {
	[ "$(count cis490-shipper 'Watchdog timeout')" -gt "$1" ]
}

watchdog_restart() {
	local what=$1 main=$2 restarts=$3 timeouts=$4 line=${5:-} new s
	s=$(date +%s)
	if wait_until $((WATCHDOG + 15)) more_timeouts "$timeouts"; then
		ok "$what: \"Watchdog timeout\" after $(( $(date +%s) - s )) s"
	else
		fail "$what: \"Watchdog timeout\"" "$(tail_journals)"
		return
	fi
	if [ -n "$line" ]; then
		journal_has cis490-shipper "$line" &&
		    ok "$what: the daemon said \"$line\"" ||
		    fail "$what: the daemon said \"$line\"" "$(tail_journals)"
	fi
	if wait_until 30 restarted "$restarts" "$main"; then
		new=$(prop cis490-shipper MainPID)
		[ "$(count cis490-shipper 'Scheduled restart job')" -ge \
		    "$(prop cis490-shipper NRestarts)" ] &&
		    journal_has cis490-shipper \
		    "Got notification message from PID $new (READY=1" &&
		    ok "$what: restarted (NRestarts $(prop cis490-shipper NRestarts)), new main pid $new sent READY=1" ||
		    fail "$what: restart in the journal, READY=1 from $new" \
		    "$(tail_journals)"
	else
		fail "$what: restarted by systemd" "$(tail_journals)"
	fi
}
