#!/bin/bash
# The capstan e2e scripts run under make e2e-pg (pg-run.sh makes it their
# CAPSTAN_BIN): the real one (CAPSTAN_E2E_REAL), its inventory the database
# of the home it is given (pg-home.sh), unless an inventory is named
# (--inventory or CAPSTAN_INVENTORY). No home known (HOME unset and none
# named): nothing set, and capstan refuses as it would.
. "${0%/*}/pg-home.sh"
if [ -z "${CAPSTAN_INVENTORY:-}" ]; then
	home=${CAPSTAN_HOME:-}
	named=
	prev=
	for a in "$@"; do
		case $prev in --home) home=$a ;; esac
		case $a in
		--home=*) home=${a#--home=} ;;
		--inventory | --inventory=*) named=1 ;;
		--) break ;;
		esac
		prev=$a
	done
	[ -n "$home" ] || [ -z "${HOME:-}" ] || home=$HOME/.local/share/capstan
	if [ -z "$named" ] && [ -n "$home" ]; then
		pg_home_db_var "$home" && pg_home_ensure "$PG_HOME_DB" || exit 1
		export CAPSTAN_INVENTORY="postgresql://capstan@/$PG_HOME_DB?host=$CAPSTAN_E2E_PG/sock"
	fi
fi
exec "$CAPSTAN_E2E_REAL" "$@"
