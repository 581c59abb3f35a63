#!/bin/sh
# make install honours PREFIX and DESTDIR and lays out exactly the
# expected files; a second install keeps an edited configuration; make
# uninstall removes what install added and keeps what the operator
# edited or added.  Usage: run.sh MAKE-ARGS...; ends "N passed, N failed".
top=$(cd "$(dirname "$0")/../.." && pwd)
dest=$(mktemp -d /tmp/cis490-install.XXXXXX)
trap 'rm -rf "$dest" "$dest.log" "$dest.2" "$dest.want"' EXIT
pass=0
failed=0
check() {
	if eval "$2"; then
		pass=$((pass + 1)); echo "PASS $1"
	else
		failed=$((failed + 1)); echo "FAIL $1"
	fi
}

# The files, relative to DESTDIR, of an install with PREFIX=$1; units
# and the sysusers and tmpfiles files are those in etc/.
expected() {
	p=${1#/}
	u=$p/lib/systemd/system
	[ "$1" = /usr ] && u=lib/systemd/system
	echo "$p/sbin/cis490-shipper"
	[ -f "$top/etc/cis490-receiver.service" ] &&
	    echo "$p/sbin/cis490-receiver"
	for m in "$top"/man/*.[158]; do
		echo "$p/share/man/man${m##*.}/${m##*/}"
	done
	for s in "$top"/etc/*.service; do
		d=${s##*/}; d=${d%.service}; n=${d#cis490-}.conf
		echo "$u/$d.service"
		echo "$p/lib/sysusers.d/$d.conf"
		echo "$p/lib/tmpfiles.d/$d.conf"
		echo "etc/$d/$n"
		echo "etc/$d/$n.example"
	done
}

files() {
	(cd "$1" && find . -type f | sed 's|^\./||' | sort)
}

# DESTDIR holds exactly the expected files of PREFIX=$1; if not, say how.
samefiles() {
	expected "$1" | sort >"$dest.want"
	files "$dest" | diff -u "$dest.want" - | sed -n 's/^\([-+][^-+]\)/    \1/p'
	files "$dest" | cmp -s "$dest.want" -
}

make -s -C "$top" "$@" install DESTDIR="$dest" PREFIX=/opt/cis490 \
    >"$dest.log" 2>&1
check "install exits 0" '[ $? -eq 0 ] || { cat "$dest.log"; false; }'
check "installs exactly the expected files" 'samefiles /opt/cis490'
check "binary under DESTDIR/PREFIX/sbin" \
    '[ -x "$dest/opt/cis490/sbin/cis490-shipper" ]'
check "installed binary runs" \
    '"$dest/opt/cis490/sbin/cis490-shipper" -n -f /nonexistent 2>&1 |
	grep -q /nonexistent'
for m in "$top"/man/*.[158]; do
	s=${m##*.}
	check "man page ${m##*/}" \
	    '[ -f "$dest/opt/cis490/share/man/man$s/${m##*/}" ]'
done
for s in "$top"/etc/*.service; do
	d=${s##*/}; d=${d%.service}
	f=$dest/opt/cis490/lib/systemd/system/$d.service
	check "$d.service: ExecStart= is the installed binary" \
	    '[ "$(sed -n "s/^ExecStart=//p" "$f")" = "/opt/cis490/sbin/$d" ]'
	check "$d.service: every command is under PREFIX, none left as @SBINDIR@" \
	    '! grep "^Exec" "$f" | grep -v "=[-+!:@]*/opt/cis490/sbin/$d\( \|$\)" |
		grep -q . && ! grep -q @SBINDIR@ "$f"'
	check "$d.service: otherwise as in etc/" \
	    '[ "$(sed "s|@SBINDIR@|/opt/cis490/sbin|g" "$s")" = "$(cat "$f")" ]'
done
check "configurations are the examples, mode 0644" \
    'cmp -s "$top/etc/shipper.conf.example" \
	"$dest/etc/cis490-shipper/shipper.conf" &&
    [ "$(stat -c %a "$dest/etc/cis490-shipper/shipper.conf")" = 644 ]'
check "nothing outside DESTDIR/PREFIX and DESTDIR/etc" \
    '[ -z "$(find "$dest" -mindepth 1 -maxdepth 1 ! -name opt ! -name etc)" ]'

# The operator edits the configuration and adds a key; the example is
# damaged to show that a second install refreshes it.
conf=$dest/etc/cis490-shipper/shipper.conf
echo "host lab-07" >>"$conf"
cp "$conf" "$dest.2"
echo secret >"$dest/etc/cis490-shipper/host.key"
echo junk >>"$dest/etc/cis490-shipper/shipper.conf.example"
make -s -C "$top" "$@" install DESTDIR="$dest" PREFIX=/opt/cis490 \
    >"$dest.log" 2>&1
check "second install exits 0" '[ $? -eq 0 ] || { cat "$dest.log"; false; }'
check "second install keeps the edited configuration" \
    'cmp -s "$conf" "$dest.2"'
check "second install says it kept it" \
    'grep -q "kept /etc/cis490-shipper/shipper.conf" "$dest.log"'
check "second install refreshes the example" \
    'cmp -s "$top/etc/shipper.conf.example" "$conf.example"'

make -s -C "$top" "$@" uninstall DESTDIR="$dest" PREFIX=/opt/cis490 \
    >"$dest.log" 2>&1
check "uninstall exits 0" '[ $? -eq 0 ] || { cat "$dest.log"; false; }'
check "uninstall keeps the edited configuration and the key, nothing else" \
    '[ "$(files "$dest")" = "$(printf "%s\n" \
	etc/cis490-shipper/host.key etc/cis490-shipper/shipper.conf)" ] ||
	{ files "$dest" | sed "s/^/    /"; false; }'
check "uninstall leaves the edited configuration as it was" \
    'cmp -s "$conf" "$dest.2"'
check "uninstall says it kept it" \
    'grep -q "kept /etc/cis490-shipper/shipper.conf: edited" "$dest.log"'
check "uninstall removes an unedited configuration's directory" \
    '[ ! -f "$top/etc/cis490-receiver.service" ] ||
	[ ! -e "$dest/etc/cis490-receiver" ]'

# PREFIX=/usr: units where Debian keeps them, and the sysusers and
# tmpfiles files where systemd-sysusers and systemd-tmpfiles look.
rm -rf "$dest"
mkdir "$dest"
make -s -C "$top" "$@" install DESTDIR="$dest" PREFIX=/usr \
    >"$dest.log" 2>&1
check "PREFIX=/usr: install exits 0" \
    '[ $? -eq 0 ] || { cat "$dest.log"; false; }'
check "PREFIX=/usr: exactly the expected files, units in /lib/systemd/system" \
    'samefiles /usr'
check "PREFIX=/usr: ExecStart=/usr/sbin/cis490-shipper" \
    'grep -qx "ExecStart=/usr/sbin/cis490-shipper" \
	"$dest/lib/systemd/system/cis490-shipper.service"'
check "PREFIX=/usr: systemd-sysusers finds the installed file" \
    'systemd-sysusers --root="$dest" --cat-config 2>/dev/null |
	grep -qx "# $dest/usr/lib/sysusers.d/cis490-shipper.conf"'
check "PREFIX=/usr: systemd-tmpfiles finds the installed file" \
    'systemd-tmpfiles --root="$dest" --cat-config 2>/dev/null |
	grep -qx "# $dest/usr/lib/tmpfiles.d/cis490-shipper.conf"'
make -s -C "$top" "$@" uninstall DESTDIR="$dest" PREFIX=/usr \
    >/dev/null 2>&1
check "PREFIX=/usr: uninstall removes every file" \
    '[ -z "$(find "$dest" -type f)" ]'

# The default PREFIX: systemd finds the installed units and binaries.
# verify needs the stock units (sysinit.target ...) in the same root.
rm -rf "$dest"
mkdir "$dest"
make -s -C "$top" "$@" install DESTDIR="$dest" PREFIX=/usr/local \
    >"$dest.log" 2>&1
check "PREFIX=/usr/local: install exits 0" \
    '[ $? -eq 0 ] || { cat "$dest.log"; false; }'
mkdir -p "$dest/usr/lib/systemd"
cp -R /lib/systemd/system "$dest/usr/lib/systemd/"
for s in "$top"/etc/*.service; do
	u=${s##*/}
	check "PREFIX=/usr/local: systemd-analyze verify --root=DESTDIR $u" \
	    'out=$(cd "$dest" && systemd-analyze verify --man=no \
		--root="$dest" "$u" 2>&1) && [ -z "$out" ] ||
		{ printf "%s\n" "$out" | sed "s/^/    /"; false; }'
done

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
