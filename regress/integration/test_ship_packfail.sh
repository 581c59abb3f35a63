# A pack error (DESIGN §3): an episode holding a FIFO cannot be packed.
# It is retried with backoff and quarantined after pack-retries attempts
# with reason pack-failed, naming the file; episodes behind it still ship.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/ship_lib.sh"

ship_setup >/dev/null 2>&1 || fail "setup"
ship_conf "scan-interval 1s" "pack-retries 3" "backoff base 1s" \
    "backoff cap 2s"
new_episode fifo-ep
mkfifo "$DATA/episodes/fifo-ep/pipe"
mark_ready fifo-ep -d '-2 minutes'
new_episode fine-ep
mark_ready fine-ep -d '-1 minute'

ship_daemon packfail
wait_until 30 is_quarantined fifo-ep || fail "fifo-ep not quarantined"
[ "$(reason_of fifo-ep)" = pack-failed ] ||
    fail "reason $(reason_of fifo-ep), not pack-failed"
grep -q 'pipe: is a FIFO' "$DATA/quarantine/fifo-ep.reason.json" ||
    fail "reason.json does not name the FIFO: $(cat "$DATA/quarantine/fifo-ep.reason.json")"
n=$(grep -c 'fifo-ep: pack attempt' "$SLOG")
[ "$n" -eq 2 ] || fail "$n failed attempts logged before quarantine, not 2"
grep -q 'fifo-ep: quarantined after 3 failed packs' "$SLOG" ||
    fail "no quarantine line"
wait_until 10 is_shipped fine-ep || fail "fine-ep not shipped"
[ -p "$DATA/quarantine/fifo-ep/pipe" ] || fail "the FIFO was not kept"
stop_daemon
[ "$EXIT_STATUS" -eq 0 ] || fail "daemon exit $EXIT_STATUS"
ok "FIFO: 3 pack attempts with backoff, quarantined as pack-failed; others ship"
