#!/usr/bin/env bash
# The default home, $HOME/.local/share/capstan, only when HOME names a real
# directory: an unset or empty HOME, or one that does not exist, is refused
# rather than turned into ./.local/share/capstan or /nonexistent/.local/...
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/cwd" && cd "$T/cwd" || exit 1
nohome() { env -u CAPSTAN_HOME -u HOME "$@"; }

refuses "HOME unset: refused" 1 "HOME is not set: no default home, one must be named \(--home DIR or CAPSTAN_HOME\)" \
	nohome "$CAPSTAN" list
refuses "and init too" 1 "HOME is not set" nohome "$CAPSTAN" --passphrase-file "$PASS" init --env dev
refuses "HOME empty: refused" 1 "HOME is not set" env -u CAPSTAN_HOME HOME= "$CAPSTAN" list
refuses "an empty CAPSTAN_HOME is unset, not the current directory" 1 "HOME is not set" \
	env CAPSTAN_HOME= HOME= "$CAPSTAN" --passphrase-file "$PASS" init --env dev
printf 'environments: { dev: {} }\n' >"$T/c.yaml"
refuses "apply with HOME unset" 1 "HOME is not set" nohome "$CAPSTAN" --passphrase-file "$PASS" apply --config "$T/c.yaml"
refuses "and apply --dry-run" 1 "HOME is not set" nohome "$CAPSTAN" apply --config "$T/c.yaml" --dry-run
is "nothing was made in the current directory" "$(ls -A)" ""

refuses "HOME that does not exist: refused" 1 "HOME '$T/gone' does not exist: no default home, one must be named \(--home DIR or CAPSTAN_HOME\)" \
	env -u CAPSTAN_HOME HOME="$T/gone" "$CAPSTAN" --passphrase-file "$PASS" init --env dev
check_fails "and it was not created" test -e "$T/gone"
: >"$T/afile"
refuses "HOME that is a file: refused" 1 "HOME '$T/afile' is not a directory" \
	env -u CAPSTAN_HOME HOME="$T/afile" "$CAPSTAN" list

# Told where the home is, HOME does not matter.
check "--home with HOME unset" nohome "$CAPSTAN" --passphrase-file "$PASS" --home "$T/h1" init --env dev
check "CAPSTAN_HOME with HOME unset" env -u HOME CAPSTAN_HOME="$T/h1" "$CAPSTAN" list --ca
like "lists the environment made" "$(cat "$T/out")" "root-ca +dev"
# And a real HOME gets the documented default.
mkdir "$T/user"
check "HOME that exists: the default home under it" \
	env -u CAPSTAN_HOME HOME="$T/user" "$CAPSTAN" --passphrase-file "$PASS" init --env dev
if on_pg; then
	is "is HOME/.local/share/capstan" "$(db_sql "SELECT name FROM envs" "$T/user/.local/share/capstan")" dev
else
	check "is HOME/.local/share/capstan" test -f "$T/user/.local/share/capstan/capstan.db"
fi
is "nothing was made in the current directory either" "$(ls -A)" ""

done_testing
