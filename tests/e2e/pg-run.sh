#!/usr/bin/env bash
# pg-run.sh SCRIPT: one e2e script with its inventories on PostgreSQL, on the
# server scripts/e2e-pg.sh started (PG_DIR): the capstan it runs is
# pg-capstan.sh, which gives each home a database of its own (pg-home.sh),
# made on first use. lib.sh's on_pg, db_sql, home_copy see the same.
# prove runs it as the interpreter: prove --exec tests/e2e/pg-run.sh ...
set -u
: "${PG_DIR:?run through scripts/e2e-pg.sh (make e2e-pg)}"
: "${CAPSTAN_BIN:?set CAPSTAN_BIN to the capstan binary}"
export CAPSTAN_E2E_PG=$PG_DIR CAPSTAN_E2E_REAL=$CAPSTAN_BIN PG_BIN
CAPSTAN_BIN=$(cd "$(dirname "$0")" && pwd)/pg-capstan.sh
unset CAPSTAN_INVENTORY
exec bash "$1"
