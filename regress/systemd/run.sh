#!/bin/bash
# The daemons under a real systemd (issue 5, DESIGN §7): Debian 12's
# systemd boots as PID 1 in a container (container.sh) on a cached
# root file system (rootfs.sh); `make install` puts the std build, the
# units as shipped (only WatchdogSec shortened by a drop-in), sysusers.d
# and tmpfiles.d into it, and then:
#   - both units start, each becoming active only after the daemon's
#     READY=1, with every hardening setting of etc/*.service in force;
#   - an episode ships from the shipper to the receiver through them;
#   - a SIGSTOPped shipper parent: "Watchdog timeout", a restart;
#   - a SIGSTOPped packer in the middle of a large episode: the same,
#     and after the restart that episode ships exactly once.
# Root only (nspawn, overlayfs, cgroups).  A missing prerequisite is a
# failure.  Usage: run.sh (from make check-systemd); ends with
# "N passed, N failed".

set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/regress/systemd
BUILD=build/std
CACHE=${CIS490_ROOTFS_CACHE:-/var/cache/cis490-regress}
WATCHDOG=5		# WatchdogSec of the drop-in, in seconds
PORT=8443
pass=0
failed=0
T=

ok() {
	pass=$((pass + 1))
	echo "PASS $1"
}

# fail MESSAGE [DETAIL]: counts, and the run goes on.
fail() {
	failed=$((failed + 1))
	echo "FAIL $1"
	if [ -n "${2:-}" ]; then
		printf '%s\n' "$2" | sed 's/^/    /'
	fi
}

finish() {
	trap - EXIT
	cleanup
	echo "$pass passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# die MESSAGE [DETAIL]: a failure after which nothing else can run.
die() {
	fail "$@"
	finish
}

cleanup() {
	[ -n "$T" ] || return 0
	ct_teardown
	if [ -n "${CT_ROOT:-}" ] && mountpoint -q "$CT_ROOT"; then
		echo "note: $CT_ROOT still mounted; left $T in place"
	else
		rm -rf --one-file-system "$T"
	fi
	T=
}
trap finish EXIT
trap 'exit 1' INT TERM HUP

# wait_until SECONDS COMMAND...: poll every 0.2 s.
wait_until() {
	local limit=$(( $1 * 5 )) i=0
	shift
	while ! "$@"; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.2
	done
	return 0
}

[ "$(id -u)" = 0 ] || die "run as root (systemd-nspawn, overlayfs, cgroups)"
for t in systemd-nspawn debootstrap nsenter mountpoint tar zstd openssl; do
	command -v $t >/dev/null 2>&1 ||
	    die "$t is installed" "make deps installs it"
done
ok "systemd-nspawn, debootstrap, nsenter and the test tools are here"

T=$(mktemp -d /tmp/cis490-systemd.XXXXXX)
chmod 0755 "$T"
. "$here/container.sh"
. "$here/helpers.sh"

# The cached root: built once (about 40 s), shared with concurrent runs,
# which must not see it replaced under their overlay.
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -x 9
start=$(date +%s)
lower=$(sh "$here/rootfs.sh" "$CACHE" 2>"$T/rootfs.log" | tail -n 1)
flock -s 9
[ -n "$lower" ] && [ -d "$lower" ] ||
    die "the Debian 12 root file system (rootfs.sh)" "$(cat "$T/rootfs.log")"
grep -q 'took' "$T/rootfs.log" && sed 's/^/    /' "$T/rootfs.log"
ok "root file system $lower ($(( $(date +%s) - start )) s)"

ct_boot "$lower" "cis490-regress-$$"
v=$(ct cat /proc/1/comm)
[ "$v" = systemd ] && ok "the container's PID 1 is systemd ($(ct systemctl --version | head -n 1))" ||
    die "the container's PID 1 is systemd" "$v"

# Install as an operator would, into the container's root.
R=$CT_ROOT
# Without the calling make's flags: a -n there must not leave the
# container without the daemons.
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top" \
    --no-print-directory install SANITIZE= DESTDIR="$R" PREFIX=/usr \
    >"$T/install.log" 2>&1; then
	ok "make install DESTDIR=<container> PREFIX=/usr"
else
	die "make install DESTDIR=<container> PREFIX=/usr" "$(tail -n 20 "$T/install.log")"
fi
for d in cis490-shipper cis490-receiver; do
	v=$(sed 's|@SBINDIR@|/usr/sbin|g' "$top/etc/$d.service" |
	    diff - "$R/lib/systemd/system/$d.service" 2>&1)
	[ -z "$v" ] && ok "$d.service installed as shipped" ||
	    fail "$d.service installed as shipped" "$v"
	v=$(ct ldd "/usr/sbin/$d" 2>&1 | grep -i 'not found')
	[ -z "$v" ] && ok "$d: every shared library is in the root" ||
	    fail "$d: every shared library is in the root (rootfs.sh PKGS)" "$v"
done

v=$(ct systemd-sysusers cis490-shipper.conf cis490-receiver.conf 2>&1) &&
    ct getent passwd cis490 >/dev/null && ct getent passwd _cis490 >/dev/null &&
    ok "systemd-sysusers: cis490 and _cis490" ||
    fail "systemd-sysusers cis490-shipper.conf cis490-receiver.conf" "$v"
v=$(ct systemd-tmpfiles --create cis490-shipper.conf cis490-receiver.conf 2>&1) &&
    [ "$(ct stat -c '%U %a' /var/lib/cis490-shipper/episodes)" = "cis490 770" ] &&
    [ "$(ct stat -c '%U %a' /var/lib/cis490-receiver)" = "cis490 750" ] &&
    ok "systemd-tmpfiles --create: the data tree and the storage root" ||
    fail "systemd-tmpfiles --create cis490-shipper.conf cis490-receiver.conf" "$v"

make_pki
configure
v=$(ct cis490-shipper -n 2>&1) && ok "cis490-shipper -n: $v" ||
    fail "cis490-shipper -n" "$v"
v=$(ct cis490-receiver -n 2>&1) && ok "cis490-receiver -n: $v" ||
    fail "cis490-receiver -n" "$v"

mkdir -p "$R/etc/systemd/system/cis490-shipper.service.d"
printf '# regress/systemd: a short watchdog, nothing else changed.\n[Service]\nWatchdogSec=%ss\n' \
    "$WATCHDOG" >"$R/etc/systemd/system/cis490-shipper.service.d/regress.conf"
# systemd's debug log shows each notification it receives and each
# state change of a unit, in order.
ct systemctl daemon-reload
ct systemctl log-level debug
v=$(ct systemctl enable cis490-receiver.service cis490-shipper.service 2>&1) &&
    [ "$(ct systemctl is-enabled cis490-shipper cis490-receiver | xargs)" = "enabled enabled" ] &&
    ok "systemctl enable both units" || fail "systemctl enable both units" "$v"

# 1. Each unit is active only after its daemon's READY=1.
start_unit cis490-receiver
check_ready cis490-receiver "listening on"
check_hardening cis490-receiver
# The operator's checks of README's operations section, as root outside
# the unit, before it is enabled.
v=$(ct timeout 30 cis490-shipper ping 2>&1) && l=$(printf '%s\n' "$v" | grep '^OK: ') &&
    ok "cis490-shipper ping: $l" || fail "cis490-shipper ping" "$v"
v=$(ct timeout 60 cis490-shipper once 2>&1) &&
    l=$(printf '%s\n' "$v" | grep -o 'once: 0 shipped, 0 not shipped, 0 still pending') &&
    ok "cis490-shipper once: $l" || fail "cis490-shipper once" "$v"
start_unit cis490-shipper
# The watchdog of a started service (before, systemd shows infinity).
[ "$(prop cis490-shipper WatchdogUSec)" = "${WATCHDOG}s" ] &&
    ok "drop-in: WatchdogSec=${WATCHDOG}s" ||
    fail "drop-in: WatchdogSec=${WATCHDOG}s" "$(prop cis490-shipper WatchdogUSec)"
check_ready cis490-shipper "idle"
check_hardening cis490-shipper

# 2. An episode ships through both units.
new_episode ep-small 2
if wait_until 30 settled ep-small && is_shipped ep-small; then
	ok "ep-small shipped through both units"
	check_stored ep-small
else
	fail "ep-small shipped through both units" "$(tail_journals)"
fi

# 3. A stopped parent pings no more: systemd kills and restarts it.
main=$(prop cis490-shipper MainPID)
restarts=$(prop cis490-shipper NRestarts)
timeouts=$(count cis490-shipper 'Watchdog timeout')
if stop_pid "the shipper's main pid" "$main"; then
	watchdog_restart "shipper parent $main stopped" "$main" "$restarts" \
	    "$timeouts"
fi

# 4. A stopped packer in the middle of a large episode: the parent
# stops pinging after stall-timeout, systemd restarts the daemon, and
# the episode ships once.
big_episode ep-big
main=$(prop cis490-shipper MainPID)
restarts=$(prop cis490-shipper NRestarts)
if wait_until 30 journal_has cis490-shipper 'ep-big: packing$'; then
	packer=$(ct pgrep -P "$main" -f 'cis490-shipper.*packer')
	# Mid-pack: the spool file is being written, not yet renamed.
	wait_until 10 spool_tmp_grows ep-big
	timeouts=$(count cis490-shipper 'Watchdog timeout')
	stop_pid "the packer, a child of the main pid $main" "$packer"
	if [ -e "$R/var/lib/cis490-shipper/spool/ep-big.tar.zst.tmp" ] &&
	    [ ! -e "$R/var/lib/cis490-shipper/spool/ep-big.tar.zst" ]; then
		ok "packer $packer stopped in the middle of ep-big"
	else
		fail "packer $packer stopped in the middle of ep-big" \
		    "$(ls -l "$R/var/lib/cis490-shipper/spool")"
	fi
	watchdog_restart "packer $packer stopped" "$main" "$restarts" \
	    "$timeouts" 'ep-big: packing made no progress'
	if wait_until 90 settled ep-big && is_shipped ep-big; then
		ok "ep-big shipped after the restart"
		check_stored ep-big
		check_once ep-big
	else
		fail "ep-big shipped after the restart" "$(tail_journals)"
	fi
else
	fail "packing of ep-big starts" "$(tail_journals)"
fi

# 5. A clean stop: STOPPING=1, inactive, no failure.
for u in cis490-shipper cis490-receiver; do
	main=$(prop $u MainPID)
	s=$(date +%s)
	ct timeout 20 systemctl stop $u
	v="$(prop $u ActiveState) $(prop $u Result)"
	if [ "$v" = "inactive success" ] && [ $(( $(date +%s) - s )) -le 6 ] &&
	    journal_has $u "Got notification message from PID $main (STOPPING=1"; then
		ok "$u: STOPPING=1, stopped within 5 s, Result=success"
	else
		fail "$u: STOPPING=1, stopped within 5 s, Result=success" \
		    "$v; $(ct journalctl -u $u -o cat --no-pager | tail -n 15)"
	fi
done

if ct_shutdown 20 && [ "$CT_STATUS" = 0 ]; then
	ok "the container halts on SIGRTMIN+4"
else
	fail "the container halts on SIGRTMIN+4 (status ${CT_STATUS:-none})"
fi
finish
