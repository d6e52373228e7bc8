# A throwaway PostgreSQL server for the end-to-end tests: initdb into a
# temporary directory as an unprivileged user (the server refuses to run as
# root, and the tests run as root), listening on a Unix socket in that
# directory only (no TCP port to collide with), one database created, and
# CAPSTAN_INVENTORY pointed at it. Stopped and removed on exit.
#
#   . "$(dirname "$0")/pg-lib.sh"   # after lib.sh
#   pg_start || skip the test
#
# PG_BIN: the server's binaries (Debian's default below); PG_USER: the
# unprivileged user the server runs as (nobody unless told).
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
PG_USER=${PG_USER:-nobody}
PG_DIR=${PG_DIR:-} # the running server's directory (pg_start sets it)

# Runs a command as the server's user (runuser when root, as is otherwise).
pg_as() {
	if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$PG_DIR"
	PG_DIR=
}

# pg_start [DB]: 0 and CAPSTAN_INVENTORY exported, or 1 (no server binaries).
pg_start() {
	local db=${1:-capstan}
	[ -x "$PG_BIN/initdb" ] || return 1
	PG_DIR=$(mktemp -d /tmp/capstan-pg.XXXXXX) || return 1
	chmod 755 "$PG_DIR"
	mkdir "$PG_DIR/data" "$PG_DIR/sock"
	[ "$(id -u)" = 0 ] && chown "$PG_USER" "$PG_DIR/data" "$PG_DIR/sock"
	# Stopped however the script ends: a server left running keeps its
	# directory and its processes (pg_ctl detaches it).
	trap 'pg_stop; rm -rf "$T"' EXIT
	trap 'exit 1' INT TERM HUP
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U capstan --auth=trust -E UTF8 --no-sync \
		>"$PG_DIR/initdb.log" 2>&1 </dev/null || { cat "$PG_DIR/initdb.log" >&2; return 1; }
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/sock/server.log" -w -o \
		"-c listen_addresses='' -c unix_socket_directories='$PG_DIR/sock' -c fsync=off -c max_connections=60" \
		start >/dev/null || { cat "$PG_DIR/sock/server.log" >&2; return 1; }
	pg_createdb "$db" || return 1
	# A script with a server of its own (t2400) names its inventory itself:
	# under make e2e-pg it runs the real capstan, not pg-capstan.sh.
	if [ -n "${CAPSTAN_E2E_REAL:-}" ]; then
		CAPSTAN=$CAPSTAN_E2E_REAL
		unset CAPSTAN_E2E_PG CAPSTAN_E2E_REAL
	fi
	export CAPSTAN_INVENTORY
	CAPSTAN_INVENTORY=$(pg_url "$db")
}

# The URL of database DB on the throwaway server.
pg_url() { echo "postgresql://capstan@/$1?host=$PG_DIR/sock"; }

pg_createdb() { "$PG_BIN/createdb" -h "$PG_DIR/sock" -U capstan "$1"; }

# psql on database DB (the default one unless told).
pg_psql() { psql -X -q -v ON_ERROR_STOP=1 "${PG_PSQL_URL:-$CAPSTAN_INVENTORY}" "$@"; }
