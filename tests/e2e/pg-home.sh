# Under make e2e-pg (tests/e2e/pg-run.sh): each home's inventory is a
# database of its own on the throwaway server, as each home has its own
# capstan.db on SQLite; a script that makes several homes keeps them apart.
# Sourced by pg-capstan.sh (the capstan the scripts run) and lib.sh, so it
# stays small: the wrapper runs it before every capstan.
#
# CAPSTAN_E2E_PG: the server's directory (PG_DIR: sock/ is its socket,
# dbs/ the databases made so far); PG_BIN: its client binaries (not the
# Debian pg_wrapper on PATH, a Perl script slow to start).

# The database of the home HOME (a path; made absolute as capstan would see
# it), in PG_HOME_DB: the path itself where it fits in a name (/ as _, _ as
# __), else a digest of it. In bash alone where it can be: this runs before
# every capstan, and a process or two more each time add up.
pg_home_db_var() {
	local h=$1
	[[ $h == /* ]] || h=$PWD/$h
	[[ $h == *//* || $h == */./* || $h == */../* || $h == */. || $h == */.. ]] &&
		{ h=$(realpath -m -- "$h") || return 1; }
	[[ $h == / ]] || h=${h%/}
	if [[ $h =~ ^[A-Za-z0-9/._-]+$ ]]; then
		h=${h//_/__}
		PG_HOME_DB=h${h//\//_}
		[ ${#PG_HOME_DB} -le 63 ] && return 0
	fi
	h=$(printf '%s' "$h" | md5sum) || return 1
	PG_HOME_DB=h_${h:0:24}
}
pg_home_db() { pg_home_db_var "$1" && echo "$PG_HOME_DB"; }

pg_home_url() { echo "postgresql://capstan@/$1?host=$CAPSTAN_E2E_PG/sock"; }

# pg_home_ensure DB: made on first use (dbs/DB marks it; the lock keeps two
# processes of one script from both making it).
pg_home_ensure() {
	[ -e "$CAPSTAN_E2E_PG/dbs/$1" ] && return 0
	(
		flock 9 || exit 1
		[ -e "$CAPSTAN_E2E_PG/dbs/$1" ] && exit 0
		"$PG_BIN/createdb" -h "$CAPSTAN_E2E_PG/sock" -U capstan "$1" &&
			: >"$CAPSTAN_E2E_PG/dbs/$1"
	) 9>>"$CAPSTAN_E2E_PG/dbs/.lock"
}
