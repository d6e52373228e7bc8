#!/usr/bin/env bash
# The passphrase prompt: on a terminal, without echo, asked twice for a new inventory.
. "$(dirname "$0")/lib.sh"

secret='prompted passphrase 42'

# capstan on a terminal, each answer typed after its prompt.
on_tty() { python3 "$(dirname "$0")/pty-answer.py" "$@"; }

printf '%s\n%s\n' "$secret" "$secret" | on_tty "$CAPSTAN" init --env dev >"$T/tty.out" 2>&1
check "init on a terminal, passphrase typed twice" grep -q "initialized environment 'dev'" "$T/tty.out"
check "it asked for a new passphrase" grep -q "New capstan passphrase:" "$T/tty.out"
check "and asked again" grep -q "Repeat the passphrase:" "$T/tty.out"
check_fails "the passphrase was not echoed" grep -q "$secret" "$T/tty.out"

printf '%s\n' "$secret" | on_tty "$CAPSTAN" issue --env dev --profile client --cn typed >"$T/tty.out" 2>&1
check "the typed passphrase unlocks the inventory" "$CAPSTAN" show typed
printf 'something else\n' | on_tty "$CAPSTAN" issue --env dev --profile client --cn wrong >"$T/tty.out" 2>&1
check "a wrong typed passphrase is refused" grep -q "capstan: wrong passphrase" "$T/tty.out"
printf 'one passphrase\nanother one\n' | on_tty "$CAPSTAN" --home "$T/h2" init --env dev >"$T/tty.out" 2>&1
check "two different passphrases for a new inventory are refused" grep -q "capstan: the passphrases do not match" "$T/tty.out"
check_fails "and leave no inventory behind" test -e "$T/h2"
printf 'short\nshort\n' | on_tty "$CAPSTAN" --home "$T/h3" init --env dev >"$T/tty.out" 2>&1
check "a short typed passphrase for a new inventory is refused" grep -q "capstan: the passphrase is too short" "$T/tty.out"
check_fails "and leaves no inventory behind" test -e "$T/h3"

done_testing
