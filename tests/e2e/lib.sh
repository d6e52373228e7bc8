# Helpers for the end-to-end tests: TAP output, a throwaway home, and checks
# that a refusal is clean (nonzero exit, one "capstan: " line, nothing changed).
set -u

CAPSTAN=${CAPSTAN_BIN:?set CAPSTAN_BIN to the capstan binary}
T=$(mktemp -d /tmp/capstan-e2e.XXXXXX)
trap 'rm -rf "$T"' EXIT
# A signal ends the script through its EXIT trap (uncaught, bash would skip it).
trap 'exit 1' INT TERM HUP
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

# faketime -f WHEN CMD...: CMD with its clock moved (libfaketime), as
# faketime(1) would, but without the wrapper: it makes a semaphore named after
# its own pid with O_EXCL, and one left behind by a killed run (SIGKILL skips
# the cleanup) makes a later wrapper that gets the same pid fail with
# "sem_open: File exists". The preloaded library tolerates a stale one.
faketime() {
	[ "$1" = -f ] || { echo "lib.sh: faketime -f WHEN CMD..." >&2; return 2; }
	env LD_PRELOAD="/usr/\$LIB/faketime/libfaketime.so.1${LD_PRELOAD:+:$LD_PRELOAD}" FAKETIME="$2" "${@:3}"
}
export -f faketime

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

# skip DESC REASON: a check that cannot be made here, said so (TAP skip).
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # skip $2"; }

# The inventory's engine. make e2e-pg (pg-run.sh) runs these scripts with
# each home's inventory a PostgreSQL database of its own (pg-home.sh); the
# helpers below reach it there as they reach capstan.db here.
on_pg() { [ -n "${CAPSTAN_E2E_PG:-}" ]; }
if on_pg; then . "$(dirname "${BASH_SOURCE[0]}")/pg-home.sh"; fi

# The URL of HOME's database (on_pg only; made if not yet).
home_url() {
	local db
	db=$(pg_home_db "$1") && pg_home_ensure "$db" && pg_home_url "$db"
}

# db_sql SQL [HOME]: SQL on the inventory of HOME (the current home unless
# told), rows printed as sqlite3 prints them (columns split by |). The SQL
# must mean the same on both engines; where it cannot, test on_pg.
db_sql() {
	local home=${2:-$CAPSTAN_HOME}
	if on_pg; then
		"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$(home_url "$home")" -c "$1"
	else
		sqlite3 "$home/capstan.db" "$1"
	fi
}

# inventory_re HOME: how messages name HOME's inventory, as an ERE: the home
# (capstan.db in it) on SQLite, its database's URL on PostgreSQL.
inventory_re() {
	if on_pg; then
		home_url "$1" | sed 's/[].?*+^$()[{}|\\]/\\&/g'
	else
		printf '%s\n' "$1"
	fi
}

# db_schema_version [HOME]: the schema step HOME's inventory is at.
db_schema_version() {
	if on_pg; then
		db_sql "SELECT obj_description('meta'::regclass, 'pg_class')" "$@"
	else
		db_sql "PRAGMA user_version" "$@"
	fi
}

# sqlite_inventory HOME: the options naming HOME's capstan.db as its inventory
# when the inventory is not there by default: for the SQLite fixtures of old
# versions (data/v1-inventory.db), opened as SQLite files under make e2e-pg too.
sqlite_inventory() { on_pg && printf '%s\n' --inventory "sqlite:$1/capstan.db"; }

# blob HEX: a blob literal in the engine's SQL.
blob() { if on_pg; then echo "'\\x$1'::bytea"; else echo "x'$1'"; fi; }

# db_dump [HOME]: the whole inventory of HOME as SQL text.
db_dump() {
	local home=${1:-$CAPSTAN_HOME}
	if on_pg; then
		"$PG_BIN/pg_dump" --no-owner "$(home_url "$home")"
	else
		sqlite3 "$home/capstan.db" .dump
	fi
}

# db_save NAME / db_restore NAME: the current home's inventory kept as NAME,
# and put back (a file beside the home's, or a database copied as a template).
db_save() {
	if on_pg; then
		pg_db_copy "$(pg_home_db "$CAPSTAN_HOME")" "$(pg_home_db "$T/$1.saved")"
	else
		cp "$CAPSTAN_HOME/capstan.db" "$T/$1.db"
	fi
}
db_restore() {
	if on_pg; then
		pg_db_copy "$(pg_home_db "$T/$1.saved")" "$(pg_home_db "$CAPSTAN_HOME")"
	else
		cp "$T/$1.db" "$CAPSTAN_HOME/capstan.db" && rm -f "$CAPSTAN_HOME/capstan.db-wal" "$CAPSTAN_HOME/capstan.db-shm"
	fi
}
# pg_db_copy FROM TO: database TO (dropped first) a copy of FROM.
pg_db_copy() {
	pg_home_ensure "$1" &&
		PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/dropdb" -h "$CAPSTAN_E2E_PG/sock" -U capstan --if-exists "$2" &&
		"$PG_BIN/createdb" -h "$CAPSTAN_E2E_PG/sock" -U capstan -T "$1" "$2" &&
		: >"$CAPSTAN_E2E_PG/dbs/$2"
}

# home_copy FROM TO: TO (removed first) a copy of home FROM, its inventory too.
home_copy() {
	rm -rf "$2" && cp -a "$1" "$2" || return 1
	on_pg || return 0
	pg_db_copy "$(pg_home_db "$1")" "$(pg_home_db "$2")"
}

inventory_digest() {
	# On PostgreSQL: every table's rows, as text, in order (not the
	# sequences: a refused insert may have drawn an id, which is no change
	# to the inventory); no database and an empty one alike (pg-capstan.sh
	# makes a home's database on first use). One query: pg_dump takes ten
	# times as long, and refuses runs this twice.
	local url=
	if [[ "${CAPSTAN_INVENTORY:-}" == postgres*://* ]]; then
		url=$CAPSTAN_INVENTORY
	elif on_pg && [ -e "$CAPSTAN_E2E_PG/dbs/$(pg_home_db "$CAPSTAN_HOME")" ]; then
		url=$(home_url "$CAPSTAN_HOME")
	fi
	if [ -n "$url" ]; then
		local rows
		rows=$("${PG_BIN:+$PG_BIN/}psql" -X -q -At -d "$url" -c "SELECT string_agg(table_name || ': ' ||
			query_to_xml(format('SELECT t::text AS r FROM %I t ORDER BY 1', table_name), false, false, '')::text,
			'' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'" 2>/dev/null)
		printf '%s' "$rows" | sha256sum
	elif on_pg; then
		printf '' | sha256sum # (as an empty database)
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
