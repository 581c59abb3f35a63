# requeue (DESIGN §8): quarantined episodes go back to episodes/ by id or
# by reason, and then ship; the others stay in quarantine.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

ship_setup "accept-window past 1m future 1m" >/dev/null 2>&1 || fail "setup"
for id in late-a late-b; do
	new_episode "$id"
	mark_ready "$id" -d '2 days ago'
done
ship_once window 60
[ "$ONCE_RC" -eq 1 ] || fail "once exited $ONCE_RC with a narrow window"
for id in late-a late-b; do
	[ "$(reason_of "$id")" = out-of-window ] || fail "$id: not out-of-window"
done
# One with another reason, as a 400 would leave it.
mkdir -p "$DATA/quarantine/odd-c"
echo x >"$DATA/quarantine/odd-c/data.txt"
echo '{"id":"odd-c","reason":"bad-request"}' >"$DATA/quarantine/odd-c.reason.json"
fix_owner

# The receiver's window is widened (the fix), then the operator requeues.
sed -i '/^accept-window/d' "$RCONF"
stop_receiver
ship_restart_receiver

out=$("$SHIPPER" -f "$CONF" requeue late-a 2>&1) || fail "requeue late-a: $out"
[ "$out" = "requeued late-a" ] || fail "requeue said: $out"
[ -d "$DATA/episodes/late-a" ] && [ ! -e "$DATA/quarantine/late-a" ] &&
    [ ! -e "$DATA/quarantine/late-a.reason.json" ] ||
    fail "late-a not moved back with its reason file gone"
out=$("$SHIPPER" -f "$CONF" requeue --reason out-of-window 2>&1) ||
    fail "requeue --reason: $out"
[ "$out" = "requeued late-b" ] || fail "requeue --reason said: $out"
[ -d "$DATA/quarantine/odd-c" ] || fail "requeue --reason moved another reason"
out=$("$SHIPPER" -f "$CONF" requeue no-such 2>&1) && fail "unknown id: exit 0"
echo "$out" | grep -q 'no-such: not in quarantine/' || fail "unknown id said: $out"
out=$("$SHIPPER" -f "$CONF" requeue 2>&1) && fail "requeue without ids: exit 0"
echo "$out" | grep -q 'usage:' || fail "requeue without ids said: $out"
ok "requeue by id and by reason; others stay; errors named"

ship_once after 60
[ "$ONCE_RC" -eq 0 ] || fail "once after requeue exited $ONCE_RC"
is_shipped late-a && is_shipped late-b || fail "requeued episodes not shipped"
ok "requeued episodes ship"
