# A backlog of 50 ready episodes: one `once` ships them all, oldest
# ready marker first (DESIGN §3 "Order"), whatever the order of their
# names or of their directories' creation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"

ship_setup

# Episode ep-NN gets a marker (NN * 17) mod 50 minutes after a base two
# hours ago: a permutation of the names, neither ascending nor
# descending.  Ties are impossible, so the order is fully determined.
N=50
base=$(( $(date +%s) - 7200 ))
: >"$T/expected.unsorted"
for i in $(seq 0 $((N - 1))); do
	id=$(printf 'ep-%02d' "$i")
	new_episode "$id"
	off=$(( (i * 17) % N ))
	touch -d "@$((base + off * 60))" "$DATA/episodes/$id/DONE" ||
	    fail "touch"
	echo "$off $id" >>"$T/expected.unsorted"
done
fix_owner
sort -n "$T/expected.unsorted" | awk '{ print $2 }' >"$T/expected"
# The test means something only if name order is not marker order.
! cmp -s "$T/expected" <(ls "$DATA/episodes") ||
    fail "marker order equals name order"
! cmp -s "$T/expected" <(ls "$DATA/episodes" | sort -r) ||
    fail "marker order equals reverse name order"

ship_once once 60
[ "$ONCE_RC" = 0 ] || fail "once: exit $ONCE_RC"
n=$(find "$DATA/shipped" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$n" = "$N" ] || fail "$n of $N in shipped/"
[ -z "$(ls -A "$DATA/episodes")" ] || fail "left in episodes/: $(ls "$DATA/episodes")"
n=$(ls "$STORE/lab-a" | grep -c '\.tar\.zst$')
[ "$n" = "$N" ] || fail "$n of $N archives stored"
spool_empty || fail "spool/ not empty"
grep -q "once: $N shipped, 0 not shipped" "$LOG" || fail "once summary"
ok "once: all $N shipped, exit 0"

# The receiver's access log, in the order it stored them.
access_lines 'PUT "/v1/episodes/lab-a/' |
    sed -n 's|.*PUT "/v1/episodes/lab-a/\([^"]*\)" 201 .*|\1|p' \
    >"$T/received"
diff "$T/expected" "$T/received" >"$T/order.diff" ||
    fail "receiver got them out of marker order:
$(head -20 "$T/order.diff")"
# The shipper's own account agrees.
sed -n 's/^scanner: \(ep-[0-9]*\): shipped$/\1/p' "$LOG" >"$T/shipped"
diff "$T/expected" "$T/shipped" >"$T/order2.diff" ||
    fail "shipper log out of order:
$(head -20 "$T/order2.diff")"
ok "shipped oldest marker first: receiver and shipper logs agree"
