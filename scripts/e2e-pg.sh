#!/usr/bin/env bash
# make e2e-pg: the end-to-end scripts with the inventory on PostgreSQL, one
# throwaway server (tests/e2e/pg-lib.sh), each home's inventory a database of
# its own on it (tests/e2e/pg-run.sh, pg-capstan.sh). Stopped and removed
# however this ends (pg-lib.sh's traps).
#   scripts/e2e-pg.sh [SCRIPT...]   (PROVE_FLAGS: -j2 unless set)
set -u
cd "$(dirname "$0")/.."
: "${CAPSTAN_BIN:?set CAPSTAN_BIN to the capstan binary}"
T=$(mktemp -d /tmp/capstan-e2e-pg.XXXXXX)
. tests/e2e/pg-lib.sh
pg_start e2e || { echo "e2e-pg: cannot start PostgreSQL" >&2; exit 1; }
# Each home's database is made on first use, by whichever user runs capstan.
mkdir -m 1777 "$PG_DIR/dbs" && (umask 0 && : >"$PG_DIR/dbs/.lock")
export PG_DIR PG_BIN PG_USER CAPSTAN_BIN
unset CAPSTAN_INVENTORY
[ $# -gt 0 ] || set -- tests/e2e/t[0-9]*.sh
# prove waited for in the background, so that a signal to this script alone
# (TERM from a timeout, not only ^C to the whole group) stops prove and its
# scripts at once, and the EXIT trap (pg-lib.sh) then stops the server.
prove ${PROVE_FLAGS:--j2} --exec tests/e2e/pg-run.sh "$@" <&0 &
prove_pid=$!
trap 'pkill -TERM -P "$prove_pid"; kill -TERM "$prove_pid"; exit 1' INT TERM HUP
wait "$prove_pid"
