# Helpers for the end-to-end tests: TAP output, a throwaway home, and checks
# that a refusal is clean (nonzero exit, one "capstan: " line, nothing changed).
set -u

CAPSTAN=${CAPSTAN_BIN:?set CAPSTAN_BIN to the capstan binary}
T=$(mktemp -d /tmp/capstan-e2e.XXXXXX)
trap 'rm -rf "$T"' EXIT
export CAPSTAN_HOME="$T/home"
unset CAPSTAN_PASSPHRASE CAPSTAN_CONFIG
# secret_file FILE LINE: a passphrase or password file, 0600 from the start
# as capstan wants one (a file others can read is refused).
secret_file() { (umask 077 && printf '%s\n' "$2" >"$1"); }
PASS="$T/passphrase"
secret_file "$PASS" 'e2e test passphrase'

tap_n=0
tap_failed=0

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $*"; }
diag() { sed 's/^/# /' "$@" >&2; }

# capstan with the test passphrase.
cap() { "$CAPSTAN" --passphrase-file "$PASS" "$@"; }

# check DESC CMD...: passes when CMD exits 0.
check() {
	local desc=$1; shift
	if "$@" >"$T/out" 2>"$T/err"; then ok "$desc"; else not_ok "$desc"; diag "$T/out" "$T/err"; fi
}

# check_fails DESC CMD...: passes when CMD exits nonzero.
check_fails() {
	local desc=$1; shift
	if "$@" >"$T/out" 2>"$T/err"; then not_ok "$desc"; diag "$T/out" "$T/err"; else ok "$desc"; fi
}

# is DESC GOT WANT
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got:  '$2'" >&2; echo "#   want: '$3'" >&2; fi
}

# like DESC GOT REGEX
like() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then ok "$1"; else not_ok "$1"; echo "#   '$2' !~ /$3/" >&2; fi
}

inventory_digest() {
	# On PostgreSQL (make e2e-pg): the rows, not the sequences (a refused
	# insert may have drawn an id, which is no change to the inventory).
	if [[ "${CAPSTAN_INVENTORY:-}" == postgres*://* ]]; then
		pg_dump --data-only --no-owner "$CAPSTAN_INVENTORY" 2>/dev/null | grep -v -e '^--' -e 'setval' -e '^.restrict' -e '^.unrestrict' | sha256sum
	elif [ -f "$CAPSTAN_HOME/capstan.db" ]; then
		sqlite3 "$CAPSTAN_HOME/capstan.db" .dump | sha256sum
	else
		echo none
	fi
}

# refuses DESC EXIT PATTERN CMD...: CMD exits EXIT (1, 2, or 1|2), prints nothing on
# stdout, exactly one stderr line "capstan: ..." matching PATTERN, and leaves
# the inventory as it was.
refuses() {
	local desc=$1 want=$2 pattern=$3; shift 3
	local before after rc lines
	before=$(inventory_digest)
	"$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	after=$(inventory_digest)
	lines=$(wc -l <"$T/err")
	if [[ "$rc" =~ ^($want)$ ]] && [ "$lines" = 1 ] && [ ! -s "$T/out" ] &&
	   grep -Eq -- "^capstan: .*$pattern" "$T/err" && [ "$before" = "$after" ]; then
		ok "$desc"
	else
		not_ok "$desc"
		echo "#   exit $rc (want $want), $lines stderr line(s), inventory $([ "$before" = "$after" ] && echo unchanged || echo CHANGED)" >&2
		diag "$T/out" "$T/err"
	fi
}

# The environment's trust bundle, written to $T/ENV-trust.pem.
trust_of() { "$CAPSTAN" trust --env "$1" --out "$T/$1-trust.pem" && echo "$T/$1-trust.pem"; }

# openssl_verify PURPOSE TRUST CHAIN: strict verification of a chain file's leaf.
openssl_verify() {
	openssl verify -x509_strict -purpose "$1" -CAfile "$2" -untrusted "$3" "$3"
}

# certtool_verify TRUST CHAIN
certtool_verify() {
	certtool --verify --verify-profile=medium --load-ca-certificate "$1" --infile "$2" 2>&1 |
		grep -q 'Chain verification output: Verified'
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
