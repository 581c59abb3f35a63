#!/bin/bash
# The man pages and the programs say the same (issue 8):
#  - every keyword of a config grammar is documented in its section 5
#    page, and every keyword the page documents is in the grammar;
#  - every statement the page documents is accepted by `-n`;
#  - every keyword of the effective config that `-nv` prints is documented;
#  - every flag and mode of usage() is in the section 8 page;
#  - the EXAMPLES config of each section 5 page parses with `-n`.
# Usage: SHIPPER=... RECEIVER=... grammar.sh; ends "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/cis490-man.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
failed=0

check() {	# check NAME OK? [DETAIL]
	if [ "$2" = 0 ]; then
		pass=$((pass + 1)); echo "PASS $1"
	else
		failed=$((failed + 1)); echo "FAIL $1${3:+: $3}"
	fi
}

for v in SHIPPER RECEIVER; do
	if [ -z "${!v:-}" ] || [ ! -x "${!v}" ]; then
		echo "FAIL $v is not set to a built binary"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

# Words of the grammar's keyword table: { "word", TOKEN }.
grammar_words() {
	sed -n 's/^[[:space:]]*{ "\([a-z][a-z-]*\)",[[:space:]]*[A-Z][A-Z_]* },.*/\1/p' \
	    "$1" | sort -u
}

# Documented statements: the Ic words of each ".It Ic ..." line, one
# statement per line ("receiver url", "listen port").
page_statements() {
	awk '/^\.It Ic / {
		out = ""; kw = 0
		for (i = 2; i <= NF; i++) {
			if ($i == "Ic") { kw = 1; continue }
			if ($i ~ /^[A-Z][a-z]$/) { kw = 0; continue }
			if (kw) out = out (out == "" ? "" : " ") $i
		}
		print out
	}' "$1"
}

# The statement lines with a sample value for each argument.
page_samples() {
	awk '/^\.It Ic / {
		out = ""
		for (i = 2; i <= NF; i++) {
			if ($i == "Ic") continue
			if ($i == "Ar") {
				a = tolower($(++i))
				v = a
				if (a == "id") v = "lab-01"
				else if (a == "path") v = "/var/tmp/cis490-man"
				else if (a == "name") v = "daemon"
				else if (a == "url") v = "https://receiver.example.org"
				else if (a == "duration") v = "30s"
				else if (a == "size") v = "1M"
				else if (a == "n" || a == "number") v = "4"
				else if (a == "address") v = "127.0.0.1"
				out = out " " v
				continue
			}
			if ($i ~ /^[A-Z][a-z]$/) continue
			out = out " " $i
		}
		print substr(out, 2)
	}' "$1"
}

# The EXAMPLES section's literal block.
page_example() {
	awk '/^\.Sh EXAMPLES/ { ex = 1 } ex && /^\.Bd -literal/ { on = 1; next }
	    on && /^\.Ed/ { exit } on { print }' "$1"
}

keys=$T/keys
mkdir -p "$keys"
for f in ca.pem host.crt host.key token server.crt server.key; do
	echo "test" >"$keys/$f"
done
echo "lab-01 0123456789abcdef0123456789abcdef" >"$keys/tokens"
chmod 0600 "$keys"/*

shipper_minimal() {
	cat <<EOF
host lab-01
receiver url https://receiver.example.org:8443
receiver ca $keys/ca.pem
receiver certificate $keys/host.crt
receiver key $keys/host.key
receiver token-file $keys/token
EOF
}
receiver_minimal() {
	cat <<EOF
listen 127.0.0.1 port 8443
storage-root /var/tmp/cis490-man-store
ca $keys/ca.pem
certificate $keys/server.crt
key $keys/server.key
tokens-file $keys/tokens
EOF
}

# cross NAME BINARY PARSE_Y PAGE5 PAGE8 MINIMAL-FUNCTION
cross() {
	local name=$1 bin=$2 y=$3 page=$4 page8=$5 minimal=$6 w out st s
	local missing extra rc

	grammar_words "$y" >"$T/$name.grammar"
	page_statements "$page" | tr ' ' '\n' | sort -u >"$T/$name.page"
	[ -s "$T/$name.grammar" ] && [ -s "$T/$name.page" ]
	check "$name: keyword lists extracted" $? \
	    "grammar $(wc -l <"$T/$name.grammar"), page $(wc -l <"$T/$name.page")"
	missing=$(comm -23 "$T/$name.grammar" "$T/$name.page" | tr '\n' ' ')
	check "$name: every grammar keyword is in ${page##*/}" \
	    "$([ -z "$missing" ]; echo $?)" "undocumented: $missing"
	extra=$(comm -13 "$T/$name.grammar" "$T/$name.page" | tr '\n' ' ')
	check "$name: every keyword in ${page##*/} is in the grammar" \
	    "$([ -z "$extra" ]; echo $?)" "not in the grammar: $extra"

	# Each documented statement, added to a minimal config, parses.
	rc=0
	while IFS= read -r s; do
		st=$(echo "$s" | awk '{ print $1 " " $2 }')
		# Statements of the minimal config are accepted by definition.
		if $minimal | grep -q "^$(echo "$s" | awk '{ print $1 }')\( \|$\)"; then
			continue
		fi
		{ $minimal; echo "$s"; } >"$T/stmt.conf"
		if ! out=$("$bin" -n -f "$T/stmt.conf" 2>&1); then
			echo "    $name: '$s' refused: $out"
			rc=1
		fi
	done < <(page_samples "$page")
	check "$name: each documented statement is accepted by -n" "$rc"

	# Every keyword of the effective config is documented.
	$minimal >"$T/min.conf"
	if out=$("$bin" -nv -f "$T/min.conf" 2>&1); then
		missing=""
		for w in $(echo "$out" | grep -v 'configuration OK' |
		    tr ' \t' '\n\n' | grep -E '^[a-z][a-z-]*$' | sort -u); do
			grep -qx "$w" "$T/$name.page" || missing="$missing $w"
		done
		check "$name: every keyword -nv prints is documented" \
		    "$([ -z "$missing" ]; echo $?)" "undocumented:$missing"
	else
		check "$name: minimal config parses" 1 "$out"
	fi

	# usage(): every flag and mode is in the section 8 page.
	out=$("$bin" -h 2>&1 | grep '^usage:')
	missing=""
	for w in $(echo "$out" | grep -o '\[-[a-zA-Z]*\]' | tr -d '[]-' |
	    fold -w1) $(echo "$out" | grep -o '\[-[a-zA-Z] ' | tr -d '[ -'); do
		grep -q "^\.\(Op \)\?Fl $w\b\|^\.It Fl $w\b" "$page8" ||
		    missing="$missing -$w"
	done
	for w in $(echo "$out" | sed -n 's/.*\[\([a-z]* |[a-z |]*\)\].*/\1/p' |
	    tr '|' ' '); do
		grep -q "Cm $w\b" "$page8" || missing="$missing $w"
	done
	check "$name: usage() flags and modes are in ${page8##*/}" \
	    "$([ -n "$out" ] && [ -z "$missing" ]; echo $?)" \
	    "usage '$out', missing:$missing"

	# The EXAMPLES config parses, its key paths pointed at test files.
	page_example "$page" | sed -e 's/\\-/-/g' \
	    -e "s|/etc/[a-z0-9-]*/\([a-z.]*\)|$keys/\1|" >"$T/example.conf"
	for f in $(grep -o "$keys/[a-z.]*" "$T/example.conf" | sort -u); do
		[ -e "$f" ] || { echo "test" >"$f"; chmod 0600 "$f"; }
	done
	grep -q "host\|listen" "$T/example.conf" &&
	    out=$("$bin" -n -f "$T/example.conf" 2>&1)
	check "$name: the EXAMPLES config of ${page##*/} parses" $? "$out"
}

cross shipper "$SHIPPER" "$top/parent/parse.y" \
    "$top/man/cis490-shipper.conf.5" "$top/man/cis490-shipper.8" \
    shipper_minimal
cross receiver "$RECEIVER" "$top/receiver/parse.y" \
    "$top/man/cis490-receiver.conf.5" "$top/man/cis490-receiver.8" \
    receiver_minimal

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
