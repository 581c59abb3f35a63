#!/bin/sh
# The Debian 12 root file system that regress/systemd/run.sh boots with
# systemd-nspawn: minbase plus systemd as PID 1 and the libraries that
# the std build's daemons link (ldd build/std/cis490-*), nothing else.
# It is cached outside the checkout, because debootstrap takes about a
# minute and the result never changes for one package list; a stamp
# file holds the list, and a different list builds it anew.  The new
# tree is made under a temporary name and renamed into place, so an
# interrupted run leaves no half root behind.  Tests never write to it:
# run.sh boots an overlay on top.
#
# Usage: rootfs.sh [CACHEDIR]; prints the root's path on the last line.
# CACHEDIR defaults to $CIS490_ROOTFS_CACHE or /var/cache/cis490-regress.

set -eu

cache=${1:-${CIS490_ROOTFS_CACHE:-/var/cache/cis490-regress}}
suite=bookworm
root=$cache/$suite-rootfs
stamp=$cache/$suite-rootfs.stamp

# systemd and dbus make a bootable PID 1; procps gives the tests pgrep
# and ps inside; the rest are the daemons' shared libraries.
PKGS="systemd,systemd-sysv,dbus,procps,libbsd0,libcurl4,libzstd1,libssl3,libseccomp2,libsystemd0,libtls26"

# The Debian mirror this machine's apt uses, so the test reaches what
# apt reaches (deb822 .sources first, then one-line lists).
mirror() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		m=$(awk '/^URIs:/ { u = $2 }
		    /^Suites:/ { for (i = 2; i <= NF; i++)
			    if ($i == "'$suite'") s = 1 }
		    /^$/ { if (u != "" && s) { print u; exit } u = ""; s = 0 }
		    END { if (u != "" && s) print u }' "$f" | head -n 1)
		[ -n "$m" ] && { echo "$m"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		m=$(awk '$1 == "deb" && $0 ~ / '$suite' / {
			for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//)
				{ print $i; exit } }' "$f" | head -n 1)
		[ -n "$m" ] && { echo "$m"; return; }
	done
	echo http://deb.debian.org/debian
}

want="$suite $PKGS"
if [ -d "$root" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]
then
	echo "$root"
	exit 0
fi

for t in debootstrap systemd-nspawn; do
	command -v $t >/dev/null 2>&1 || {
		echo "rootfs.sh: $t is missing: make deps installs it" >&2
		exit 1
	}
done
mkdir -p "$cache"
# Leftovers of an interrupted build, and the old root of another list.
rm -rf "$cache/$suite-rootfs.new."* "$cache/$suite-rootfs.old"
new=$(mktemp -d "$cache/$suite-rootfs.new.XXXXXX")
chmod 0755 "$new"
m=$(mirror)
echo "rootfs.sh: debootstrap $suite from $m into $new (once)" >&2
start=$(date +%s)
if ! debootstrap --variant=minbase --include="$PKGS" "$suite" "$new" "$m" \
    >"$new.log" 2>&1; then
	tail -n 20 "$new.log" >&2
	echo "rootfs.sh: debootstrap failed; full log in $new.log" >&2
	rm -rf "$new"
	exit 1
fi
rm -f "$new.log"
# No apt lists or .debs in the cache: smaller and quicker to copy.
rm -rf "$new"/var/cache/apt/archives/*.deb "$new"/var/lib/apt/lists/*
echo "rootfs.sh: debootstrap took $(( $(date +%s) - start )) s" >&2

rm -f "$stamp"
if [ -d "$root" ]; then
	mv "$root" "$cache/$suite-rootfs.old"
fi
mv "$new" "$root"
echo "$want" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
rm -rf "$cache/$suite-rootfs.old"
echo "$root"
