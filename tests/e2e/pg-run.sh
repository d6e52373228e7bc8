#!/usr/bin/env bash
# pg-run.sh SCRIPT: one e2e script with its inventory on PostgreSQL, in a
# database of its own on the server scripts/e2e-pg.sh started (PG_DIR).
# prove runs it as the interpreter: prove --exec tests/e2e/pg-run.sh ...
set -u
: "${PG_DIR:?run through scripts/e2e-pg.sh (make e2e-pg)}"
T=
. "$(dirname "$0")/pg-lib.sh"
db=$(basename "$1" .sh | tr -c 'a-z0-9\n' _)
pg_createdb "$db" || exit 1
export CAPSTAN_INVENTORY
CAPSTAN_INVENTORY=$(pg_url "$db")
exec bash "$1"
