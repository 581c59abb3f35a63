#!/bin/sh
# The systemd units, sysusers.d and tmpfiles.d files in etc/: each unit
# parses cleanly (systemd-analyze verify in a scratch root), is hardened
# to an exposure of at most $MAX_EXPOSURE (systemd-analyze security
# --offline), and agrees with the daemons' defaults; the sysusers and
# tmpfiles files make the accounts and directories the daemons expect
# in a scratch root.  Nothing outside a temporary directory is touched,
# and no systemd needs to be running.  A missing systemd tool fails.
# Usage: run.sh; ends with "N passed, N failed".

top=$(cd "$(dirname "$0")/../.." && pwd)
MAX_EXPOSURE=${MAX_EXPOSURE:-2.5}
SBINDIR=/usr/local/sbin
tmp=$(mktemp -d /tmp/cis490-units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0
failed=0

ok() {
	pass=$((pass + 1))
	echo "PASS $1"
}

fail() {
	failed=$((failed + 1))
	echo "FAIL $1"
	if [ -n "$2" ]; then
		printf '%s\n' "$2" | sed 's/^/    /'
	fi
}

finish() {
	echo "$pass passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# The value of KEY= in a unit, every assignment on one line.
unitval() {
	sed -n "s/^$2=//p" "$1" | tr '\n' ' ' | sed 's/ *$//'
}

# A setting of a sample configuration, commented out (a default) or not.
confval() {
	sed -n "s/^#\{0,1\}$2[ 	]\{1,\}\"\{0,1\}\([^\" 	]*\).*/\1/p" "$1" |
	    head -n 1
}

for t in systemd-analyze systemd-sysusers systemd-tmpfiles; do
	if ! command -v $t >/dev/null 2>&1; then
		fail "$t is installed" "install the systemd package (Debian 12)"
		finish
	fi
done
ok "systemd-analyze, systemd-sysusers and systemd-tmpfiles are here"

# A root for `verify`: the stock units (sysinit.target and the others a
# service depends on by default), ours with @SBINDIR@ replaced as
# `make install` does, and an executable at each ExecStart= path.
root=$tmp/root
mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system" \
    "$root$SBINDIR"
if [ -d /lib/systemd/system ]; then
	cp -R /lib/systemd/system "$root/usr/lib/systemd/"
else
	fail "the stock units are in /lib/systemd/system"
fi

units=
for u in "$top"/etc/*.service; do
	name=${u##*/}
	units="$units $name"
	sed "s|@SBINDIR@|$SBINDIR|g" "$u" >"$root/etc/systemd/system/$name"
	printf '#!/bin/sh\nexit 0\n' >"$root$SBINDIR/${name%.service}"
	chmod 0755 "$root$SBINDIR/${name%.service}"
done
[ -n "$units" ] || { fail "etc/ holds the units"; finish; }

for name in $units; do
	u=$top/etc/$name
	d=${name%.service}

	out=$(cd "$root" && systemd-analyze verify --man=no --root="$root" \
	    "$name" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		ok "$name: systemd-analyze verify is silent"
	else
		fail "$name: systemd-analyze verify (exit $rc)" "$out"
	fi

	out=$(cd "$root/etc/systemd/system" &&
	    systemd-analyze security --offline=true --no-pager "$name" 2>&1)
	level=$(printf '%s\n' "$out" |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$level" ]; then
		fail "$name: systemd-analyze security gives a level" "$out"
	elif awk -v l="$level" -v m="$MAX_EXPOSURE" \
	    'BEGIN { exit !(l + 0 <= m + 0) }'; then
		ok "$name: exposure $level <= $MAX_EXPOSURE"
	else
		fail "$name: exposure $level > $MAX_EXPOSURE" \
		    "$(printf '%s\n' "$out" | grep '✗')"
	fi

	v=$(unitval "$u" ExecStart)
	if [ "$v" = "@SBINDIR@/$d" ]; then
		ok "$name: ExecStart=@SBINDIR@/$d, replaced at install"
	else
		fail "$name: ExecStart=@SBINDIR@/$d" "ExecStart=$v"
	fi
	v=$(grep -n '^Exec[A-Za-z]*=' "$u" | grep -v '=[-+!:@]*@SBINDIR@/')
	if [ -z "$v" ]; then
		ok "$name: no command outside @SBINDIR@"
	else
		fail "$name: no command outside @SBINDIR@" "$v"
	fi

	for kv in Type=notify NotifyAccess=main Restart=on-failure \
	    NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes \
	    ProtectHome=yes PrivateDevices=yes \
	    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"; do
		# Word order does not matter.
		v=$(unitval "$u" "${kv%%=*}" | tr ' ' '\n' | sort | xargs)
		if [ "$v" = "$(echo "${kv#*=}" | tr ' ' '\n' | sort | xargs)" ]
		then
			ok "$name: $kv"
		else
			fail "$name: $kv" "${kv%%=*}=$v"
		fi
	done

	# systemd would chown a StateDirectory= to the service's user, root,
	# at every start; the data must stay owned by the daemon's account.
	if grep -q '^StateDirectory=' "$u"; then
		fail "$name: no StateDirectory= (tmpfiles.d owns the tree)"
	else
		ok "$name: no StateDirectory= (tmpfiles.d owns the tree)"
	fi

	# chroot(2) and seccomp(2) are outside @system-service.
	v=$(unitval "$u" SystemCallFilter)
	case " $v " in
	*" @system-service "*)
		case " $v " in
		*" chroot "*) ok "$name: SystemCallFilter= has chroot" ;;
		*) fail "$name: SystemCallFilter= has chroot" "$v" ;;
		esac ;;
	*) fail "$name: SystemCallFilter=@system-service ..." "$v" ;;
	esac

	if [ -f "$top/etc/tmpfiles.d/$d.conf" ] &&
	    [ -f "$top/etc/sysusers.d/$d.conf" ]; then
		ok "$name: has sysusers.d/$d.conf and tmpfiles.d/$d.conf"
	else
		fail "$name: has sysusers.d/$d.conf and tmpfiles.d/$d.conf"
	fi
done

# What each unit must allow follows from the daemon and its defaults.
su=$top/etc/cis490-shipper.service
sc=$top/etc/shipper.conf.example
v=$(unitval "$su" WatchdogSec)
[ "$v" = 180 ] && ok "shipper: WatchdogSec=180" ||
    fail "shipper: WatchdogSec=180" "WatchdogSec=$v"
v=$(unitval "$su" CapabilityBoundingSet)
[ "$v" = "CAP_CHOWN CAP_DAC_OVERRIDE CAP_SETUID CAP_SETGID CAP_SYS_CHROOT" ] &&
    ok "shipper: capabilities of privilege separation only" ||
    fail "shipper: capabilities of privilege separation only" "$v"
dataroot=$(confval "$sc" data-root)
v=$(unitval "$su" ReadWritePaths)
[ -n "$dataroot" ] && [ "$v" = "$dataroot" ] &&
    ok "shipper: ReadWritePaths= is only the data root $dataroot" ||
    fail "shipper: ReadWritePaths= is only the data root" \
	"ReadWritePaths=$v, data-root $dataroot"
v=$(unitval "$su" RuntimeDirectory)
[ "$v" = cis490-shipper ] && ok "shipper: RuntimeDirectory=cis490-shipper" ||
    fail "shipper: RuntimeDirectory=cis490-shipper" "$v"

ru=$top/etc/cis490-receiver.service
rconf=$top/etc/receiver.conf.example
if [ -f "$ru" ]; then
	storage=$(confval "$rconf" storage-root)
	v=$(unitval "$ru" ReadWritePaths)
	[ -n "$storage" ] && [ "$v" = "$storage" ] &&
	    ok "receiver: ReadWritePaths= is only the storage root $storage" ||
	    fail "receiver: ReadWritePaths= is only the storage root" \
		"ReadWritePaths=$v, storage-root $storage"
	# Binding a port below 1024 is the one reason for the capability.
	low=$(sed -n 's/^listen .* port \([0-9]*\).*/\1/p' "$rconf" |
	    awk '$1 < 1024' | head -n 1)
	v=$(unitval "$ru" CapabilityBoundingSet)
	case " $v " in
	*" CAP_NET_BIND_SERVICE "*) has=1 ;;
	*) has= ;;
	esac
	if [ -n "$low" ] && [ -z "$has" ]; then
		fail "receiver: CAP_NET_BIND_SERVICE for port $low"
	elif [ -z "$low" ] && [ -n "$has" ]; then
		fail "receiver: no CAP_NET_BIND_SERVICE, ports >= 1024" "$v"
	else
		ok "receiver: CAP_NET_BIND_SERVICE only for a port < 1024"
	fi
fi

# sysusers.d: a dry run is clean, then a real run into the scratch root
# makes system accounts without a shell, named as the configurations
# name them.
sroot=$tmp/sys
mkdir -p "$sroot/etc/sysusers.d" "$sroot/etc/tmpfiles.d"
cp "$top"/etc/sysusers.d/*.conf "$sroot/etc/sysusers.d/"
cp "$top"/etc/tmpfiles.d/*.conf "$sroot/etc/tmpfiles.d/"
out=$(systemd-sysusers --dry-run --root="$sroot" 2>&1)
rc=$?
if [ $rc -eq 0 ] && ! printf '%s\n' "$out" | grep -qiv \
    -e '^Creating \(user\|group\)' -e '^Would write'; then
	ok "sysusers.d: dry run is clean"
else
	fail "sysusers.d: dry run (exit $rc)" "$out"
fi
[ ! -e "$sroot/etc/passwd" ] && ok "sysusers.d: dry run writes nothing" ||
    fail "sysusers.d: dry run writes nothing"
out=$(systemd-sysusers --root="$sroot" 2>&1)
rc=$?
[ $rc -eq 0 ] && ok "sysusers.d: applies to a scratch root" ||
    fail "sysusers.d: applies to a scratch root (exit $rc)" "$out"

user=$(confval "$sc" user)
sbox=$(confval "$sc" sandbox-user)
ruser=$(confval "$rconf" user)
for a in "$user" "$sbox" "$ruser"; do
	line=$(grep "^$a:" "$sroot/etc/passwd")
	uid=$(printf '%s' "$line" | cut -d: -f3)
	shell=$(printf '%s' "$line" | cut -d: -f7)
	if [ -n "$line" ] && [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] &&
	    [ "$shell" = /usr/sbin/nologin ] &&
	    grep -q "^$a:" "$sroot/etc/group"; then
		ok "sysusers.d: system account $a, its group, no shell"
	else
		fail "sysusers.d: system account $a, its group, no shell" \
		    "${line:-no such account}"
	fi
done

# tmpfiles.d: into the scratch root (systemd 252 has no --dry-run for
# it), owners looked up in that root's passwd, then the result compared
# with what the daemons expect: datatree.c's modes, the storage root.
out=$(systemd-tmpfiles --root="$sroot" --create 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] && ok "tmpfiles.d: --create is clean" ||
    fail "tmpfiles.d: --create (exit $rc)" "$out"

# "path mode owner": what a directory in the scratch root is.
dirstat() {
	if [ -d "$sroot$1" ] && [ ! -L "$sroot$1" ]; then
		o=$(stat -c '%u:%g' "$sroot$1")
		u=$(awk -F: -v i="${o%:*}" '$3 == i { print $1 }' \
		    "$sroot/etc/passwd")
		g=$(awk -F: -v i="${o#*:}" '$3 == i { print $1 }' \
		    "$sroot/etc/group")
		[ "${o%:*}" = 0 ] && u=root
		[ "${o#*:}" = 0 ] && g=root
		echo "$1 $(stat -c '%a' "$sroot$1") $u:$g"
	else
		echo "$1 missing"
	fi
}

expect() {
	v=$(dirstat "$1")
	[ "$v" = "$1 $2 $3" ] && ok "tmpfiles.d: $1 $2 $3" ||
	    fail "tmpfiles.d: $1 $2 $3" "$v"
}

expect "$dataroot" 750 "$user:$user"
modes=$(sed -n 's/^[ 	]*{ "\([a-z]*\)", 0\([0-7]*\) },.*/\1 \2/p' \
    "$top/parent/datatree.c")
[ -n "$modes" ] || fail "parent/datatree.c lists the data tree's modes"
printf '%s\n' "$modes" | {
	while read -r sub mode; do
		expect "$dataroot/$sub" "$mode" "$user:$user"
	done
	echo "$pass $failed" >"$tmp/counts"
}
read -r pass failed <"$tmp/counts"
expect /var/empty/cis490-shipper 755 root:root
v=$(find "$sroot/var/empty/cis490-shipper" -mindepth 1 | head -n 1)
[ -z "$v" ] && ok "tmpfiles.d: the chroot directory is empty" ||
    fail "tmpfiles.d: the chroot directory is empty" "$v"
[ -n "$storage" ] && expect "$storage" 750 "$ruser:$ruser"

# Run twice, nothing changes and nothing is said.
before=$(cd "$sroot" && find . -printf '%p %m %u %g\n' | sort)
out=$(systemd-tmpfiles --root="$sroot" --create 2>&1)
after=$(cd "$sroot" && find . -printf '%p %m %u %g\n' | sort)
[ -z "$out" ] && [ "$before" = "$after" ] &&
    ok "tmpfiles.d: a second --create changes nothing" ||
    fail "tmpfiles.d: a second --create changes nothing" "$out"

finish
