# DESIGN §6, 401: a token the receiver does not know.  `once` must end
# promptly with status 1 (it has nothing more it can do), keep the
# episode in episodes/ (not quarantined, not stored) and log that the
# credentials were refused, naming the token file.  With the right
# token the episode then ships.  The backoff settings are left at their
# defaults (cap 10 min): `once` must not sit out the pause.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

command -v jq >/dev/null 2>&1 || fail "jq is not installed (make deps)"

ship_setup

# The token in the shipper's token file is not the receiver's.
openssl rand -hex 32 >"$T/revoked.token"
chmod 0600 "$T/revoked.token"
SHIP_TOKEN=$T/revoked.token ship_conf
new_episode ep-token
mark_ready ep-token
ship_once once-c 30
[ "$ONCE_RC" = 1 ] || fail "revoked token: once exit $ONCE_RC, expected 1"
[ -d "$DATA/episodes/ep-token" ] || fail "revoked token: episode moved"
[ ! -e "$DATA/quarantine/ep-token" ] || fail "revoked token: quarantined"
[ ! -e "$STORE/lab-a/ep-token.tar.zst" ] || fail "revoked token: stored"
grep -q 'ep-token: the receiver refused our credentials (HTTP 401)' "$LOG" ||
    fail "revoked token: no credentials line in the log"
grep -q "check the token in $T/revoked.token" "$LOG" ||
    fail "revoked token: the log does not name the token file"
ok "401: once exits 1, episode kept in episodes/, log names the credentials"

# With the right token the same episode ships.
ship_conf
ship_once once-c2
[ "$ONCE_RC" = 0 ] || fail "token restored: once exit $ONCE_RC"
is_shipped ep-token || fail "token restored: not shipped"

ok "right token: once exits 0 and ships the kept episode"
