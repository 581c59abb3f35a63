# cis490-receiver -n / -nv: a good configuration is OK and prints back
# to itself; mistakes are named with file:line; secrets readable by
# others are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

pki_setup
receiver_conf "max-body-size 2G" "idle-timeout 90" "accept-window past 30d future 10m" \
    "listen ::1 port 8443" "# a comment" "max-header-size 32768"

# 1. -n and -nv, and -nv output that parses again to itself.
"$RECEIVER" -n -f "$RCONF" >"$T/out" 2>"$T/err.log" || fail "-n: $(cat "$T/err.log")"
[ "$(cat "$T/err.log")" = "configuration OK" ] || fail "-n said: $(cat "$T/err.log")"
[ ! -s "$T/out" ] || fail "-n printed the configuration"
"$RECEIVER" -nv -f "$RCONF" >"$T/v1" 2>"$T/err.log" || fail "-nv: $(cat "$T/err.log")"
grep -qx 'max-body-size 2G' "$T/v1" || fail "-nv: $(cat "$T/v1")"
grep -qx 'idle-timeout 90s' "$T/v1" || fail "-nv idle-timeout"
grep -qx 'max-header-size 32K' "$T/v1" || fail "-nv max-header-size"
grep -qx 'listen ::1 port 8443' "$T/v1" || fail "-nv listen"
grep -qx 'accept-window past 30d future 10m' "$T/v1" || fail "-nv window"
grep -qx 'max-connections 256' "$T/v1" || fail "-nv defaults"
"$RECEIVER" -nv -f "$T/v1" >"$T/v2" 2>"$T/err.log" || fail "-nv of -nv: $(cat "$T/err.log")"
diff -u "$T/v1" "$T/v2" || fail "-nv output does not parse back to itself"
ok "-n: configuration OK; -nv prints a configuration that reads back"

# 2. Errors name the file and line.
bad() {
	local want=$1
	shift
	printf '%s\n' "$@" >"$T/bad.conf"
	"$RECEIVER" -n -f "$T/bad.conf" >/dev/null 2>"$T/err.log" &&
	    fail "accepted: $*"
	grep -qF -- "$want" "$T/err.log" || fail "for [$*] expected '$want', got: $(cat "$T/err.log")"
}
head -n 7 "$RCONF" >"$T/base.conf"
mapfile -t base <"$T/base.conf"
bad "$T/bad.conf:8: syntax error" "${base[@]}" "frobnicate yes"
bad "$T/bad.conf:8: bad size 12Q" "${base[@]}" "max-body-size 12Q"
bad "$T/bad.conf:8: bad duration 5y" "${base[@]}" "idle-timeout 5y"
bad "$T/bad.conf:8: port 70000 out of range" "${base[@]}" "listen 127.0.0.1 port 70000"
bad "$T/bad.conf:8: listen example.org: not a numeric" "${base[@]}" "listen example.org port 1"
bad "$T/bad.conf:9: storage-root given twice" "${base[@]}" "storage-root /a" "storage-root /b"
bad "$T/bad.conf:8: max-connections out of range" "${base[@]}" "max-connections 0"
bad "$T/bad.conf: no tokens-file given" "${base[@]:0:6}"
bad "$T/bad.conf: ca /nonexistent: No such file" "${base[@]/ca */ca \"/nonexistent\"}"
ok "errors: file:line and what is wrong"

# 3. Secrets: tokens file and key must not be readable by others.
chmod 0644 "$PKI/tokens"
"$RECEIVER" -n -f "$RCONF" 2>"$T/err.log" && fail "tokens file 0644 accepted"
grep -q "permissions 0644 on $PKI/tokens are too open" "$T/err.log" ||
    fail "tokens file 0644: $(cat "$T/err.log")"
chmod 0600 "$PKI/tokens"
cp "$PKI/tokens" "$T/tokens.good"
echo "lab-c short" >>"$PKI/tokens"
echo "lab-d" >>"$PKI/tokens"
echo "../x $(openssl rand -hex 16)" >>"$PKI/tokens"
"$RECEIVER" -n -f "$RCONF" 2>"$T/err.log" && fail "bad tokens accepted"
grep -q "$PKI/tokens:4: the token of lab-c is shorter than 16" "$T/err.log" ||
    fail "short token: $(cat "$T/err.log")"
grep -q "$PKI/tokens:5: expected \"HOST TOKEN\"" "$T/err.log" ||
    fail "missing token: $(cat "$T/err.log")"
grep -q "$PKI/tokens:6: ../x is not a valid host name" "$T/err.log" ||
    fail "bad host: $(cat "$T/err.log")"
cp "$T/tokens.good" "$PKI/tokens"
chmod 0640 "$PKI/server.key"
"$RECEIVER" -n -f "$RCONF" 2>"$T/err.log" && fail "key 0640 accepted"
grep -q "permissions 0640 on $PKI/server.key are too open" "$T/err.log" ||
    fail "key 0640: $(cat "$T/err.log")"
chmod 0600 "$PKI/server.key"
"$RECEIVER" -n -f "$RCONF" 2>/dev/null || fail "restored files refused"
ok "tokens file and key readable by others refused; bad token lines named"

# 4. Starting without a storage root says what to do.
sed "s|^storage-root .*|storage-root \"$T/nostore\"|" "$RCONF" >"$T/nostore.conf"
"$RECEIVER" -d -f "$T/nostore.conf" 2>"$T/err.log" && fail "started without storage"
grep -q "storage-root $T/nostore (create it" "$T/err.log" ||
    fail "missing storage root: $(cat "$T/err.log")"
ok "missing storage root: refused with the fix"

# 5. The shipped example parses, with its paths pointing at test files.
ex=$(dirname "$0")/../../etc/receiver.conf.example
[ -f "$ex" ] || fail "no $ex"
sed -e "s|\"/etc/cis490-receiver/ca.pem\"|\"$PKI/ca.pem\"|" \
    -e "s|\"/etc/cis490-receiver/receiver.crt\"|\"$PKI/server.crt\"|" \
    -e "s|\"/etc/cis490-receiver/receiver.key\"|\"$PKI/server.key\"|" \
    -e "s|\"/etc/cis490-receiver/tokens\"|\"$PKI/tokens\"|" \
    -e "s|\"/var/lib/cis490-receiver\"|\"$STORE\"|" "$ex" >"$T/example.conf"
# Every path was rewritten: none of the installed ones is left.
grep -n '/etc/cis490-receiver/[a-z]\|/var/lib' "$T/example.conf" | grep -v '^[0-9]*:#' &&
    fail "example: a path was not rewritten"
[ "$(grep -c "$PKI\|$STORE" "$T/example.conf")" = 5 ] ||
    fail "example: expected 5 paths: $(cat "$T/example.conf")"
"$RECEIVER" -n -f "$T/example.conf" >/dev/null 2>"$T/err.log" ||
    fail "receiver.conf.example: $(cat "$T/err.log")"
[ "$(cat "$T/err.log")" = "configuration OK" ] || fail "example -n said: $(cat "$T/err.log")"
"$RECEIVER" -nv -f "$T/example.conf" >"$T/ex.out" 2>"$T/err.log" ||
    fail "example -nv: $(cat "$T/err.log")"
# It says its limits are the defaults: without them it means the same.
grep -c '^\(max-\|[a-z]*-timeout\|accept-window\)' "$T/example.conf" >"$T/nlimits"
[ "$(cat "$T/nlimits")" -ge 7 ] || fail "example: limits not found"
grep -v '^\(max-\|[a-z]*-timeout\|accept-window\)' "$T/example.conf" \
    >"$T/example-nolimits.conf"
"$RECEIVER" -nv -f "$T/example-nolimits.conf" >"$T/ex-def.out" 2>"$T/err.log" ||
    fail "example without limits: $(cat "$T/err.log")"
diff -u "$T/ex-def.out" "$T/ex.out" ||
    fail "example: its limits are not the defaults it says they are"
for l in 'listen 0.0.0.0 port 8443' 'listen :: port 8443' 'user "cis490"'; do
	grep -qxF "$l" "$T/ex.out" || fail "example: '$l' not in effect: $(cat "$T/ex.out")"
done
ok "etc/receiver.conf.example: -n OK; its listens and user in effect, its limits the defaults"

# 6. As root, a storage root not owned by "user": refused with the fix.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$T/rootowned"
	sed "s|^storage-root .*|storage-root \"$T/rootowned\"|" "$RCONF" >"$T/ro.conf"
	"$RECEIVER" -d -f "$T/ro.conf" 2>"$T/err.log" && fail "started on a root-owned storage root"
	grep -q "storage-root $T/rootowned is not owned by user daemon: chown -R daemon $T/rootowned" \
	    "$T/err.log" || fail "root-owned storage root: $(cat "$T/err.log")"
	ok "storage root not owned by user: refused, naming chown -R"
fi
