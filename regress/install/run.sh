#!/bin/sh
# make install honours PREFIX and DESTDIR, and make uninstall removes
# what install added.  Usage: run.sh MAKE-ARGS...; ends "N passed, N failed".
top=$(cd "$(dirname "$0")/../.." && pwd)
dest=$(mktemp -d /tmp/cis490-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
pass=0
failed=0
check() {
	if eval "$2"; then
		pass=$((pass + 1)); echo "PASS $1"
	else
		failed=$((failed + 1)); echo "FAIL $1"
	fi
}

make -s -C "$top" "$@" install DESTDIR="$dest" PREFIX=/opt/cis490 \
    >"$dest.log" 2>&1
check "install exits 0" '[ $? -eq 0 ] || { cat "$dest.log"; false; }'
rm -f "$dest.log"
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
check "nothing outside DESTDIR/PREFIX" \
    '[ -z "$(find "$dest" -mindepth 1 -maxdepth 1 ! -name opt)" ]'

make -s -C "$top" "$@" uninstall DESTDIR="$dest" PREFIX=/opt/cis490 \
    >/dev/null 2>&1
check "uninstall removes every file" \
    '[ -z "$(find "$dest" -type f)" ]'

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
