#!/usr/bin/env bash
# Every refusal: a nonzero exit, one "capstan: " line naming what is wrong, and
# the inventory and files on disk as they were.
. "$(dirname "$0")/lib.sh"

refuses "no inventory yet" 1 "no inventory in '$(inventory_re "$CAPSTAN_HOME")' \(create one with 'capstan init --env ENV'\)" \
	"$CAPSTAN" list
check_fails "and list did not create one" test -e "$CAPSTAN_HOME"

cap init --env dev >/dev/null && cap issue --env dev --profile server --cn web.internal >/dev/null || exit 1

# Passphrases.
secret_file "$T/wrong" 'not the passphrase'
refuses "a wrong passphrase" 1 "wrong passphrase for the inventory" \
	"$CAPSTAN" --passphrase-file "$T/wrong" issue --env dev --profile client --cn c1
refuses "a wrong passphrase from the environment" 1 "wrong passphrase" \
	env CAPSTAN_PASSPHRASE=nope-nope-nope "$CAPSTAN" issue --env dev --profile client --cn c1
refuses "no passphrase and no terminal" 1 "a passphrase is needed: give --passphrase-file FILE or set CAPSTAN_PASSPHRASE" \
	"$CAPSTAN" issue --env dev --profile client --cn c1
refuses "a missing passphrase file" 1 "--passphrase-file: cannot open '.*nope'" \
	"$CAPSTAN" --passphrase-file "$T/nope" issue --env dev --profile client --cn c1
(umask 077 && : >"$T/empty")
refuses "an empty passphrase file" 1 "--passphrase-file: .*is empty" \
	"$CAPSTAN" --passphrase-file "$T/empty" issue --env dev --profile client --cn c1
refuses "a passphrase is never an argument" 2 "unknown option '--passphrase' \(global options" \
	"$CAPSTAN" --passphrase secret issue --env dev --profile client --cn c1
secret_file "$T/short" short
refuses "a new inventory needs a passphrase of 8 or more" 1 "too short" \
	env CAPSTAN_HOME="$T/other" "$CAPSTAN" --passphrase-file "$T/short" init --env dev
check_fails "and leaves no home (no empty database) behind" test -e "$T/other"
refuses "from the environment too" 1 "too short: a new inventory needs at least 8 characters \(--passphrase-file or CAPSTAN_PASSPHRASE\)" \
	env CAPSTAN_HOME="$T/other/deeper" CAPSTAN_PASSPHRASE=short "$CAPSTAN" init --env dev
check_fails "which leaves nothing either" test -e "$T/other"
check "a good passphrase then makes the home" env CAPSTAN_HOME="$T/other" "$CAPSTAN" --passphrase-file "$PASS" init --env dev
refuses "export --format key without a passphrase" 1 "a passphrase is needed" \
	"$CAPSTAN" export web.internal --format key --out "$T/key.pem"
check_fails "and no key file was written" test -e "$T/key.pem"

# Values.
refuses "a bad IP" 2 "invalid --ip '10.0.0.300': not an IPv4 or IPv6 address" \
	cap issue --env dev --profile server --cn a.internal --ip 10.0.0.300
refuses "a bad DNS name" 2 "invalid --dns 'bad_name'" cap issue --env dev --profile server --cn a.internal --dns bad_name
refuses "a bad URI" 2 "invalid --uri 'nouri'" cap issue --env dev --profile server --cn a.internal --uri nouri
refuses "a bad e-mail" 2 "invalid --email 'x@'" cap issue --env dev --profile client --cn a --email x@
refuses "negative days" 2 "invalid --days '-5': a duration must be positive" \
	cap issue --env dev --profile server --cn a.internal --days -5
refuses "zero days" 2 "invalid --days '0'" cap issue --env dev --profile server --cn a.internal --days 0
refuses "days with junk" 2 "invalid --days '3x'" cap issue --env dev --profile server --cn a.internal --days 3x
refuses "a lifetime under an hour" 1 "at least 1h" cap issue --env dev --profile server --cn a.internal --days 10m
refuses "a weak key" 2 "invalid --key 'rsa-1024': expected one of ec-p256" \
	cap issue --env dev --profile server --cn a.internal --key rsa-1024
refuses "an unknown key type" 2 "invalid --key 'dsa'" cap issue --env dev --profile server --cn a.internal --key dsa
refuses "an unknown profile" 2 "invalid --profile 'ca': expected one of server, client, peer" \
	cap issue --env dev --profile ca --cn a.internal
refuses "a missing profile" 2 "--profile is required" cap issue --env dev --cn a.internal
refuses "a missing CN" 2 "--cn is required" cap issue --env dev --profile client
refuses "an unknown environment" 1 "unknown environment 'qa' \(--env; 'capstan init --env ENV' creates one\)" \
	cap issue --env qa --profile server --cn a.internal
refuses "a server without a SAN" 1 "profile server needs a DNS or IP SAN" \
	cap issue --env dev --profile server --cn "Web Server" --name websrv
refuses "a peer without a SAN" 1 "profile peer needs at least one SAN" \
	cap issue --env dev --profile peer --cn "Peer One" --name peer1
refuses "a name with a path in it" 1 "invalid certificate name '../../etc/x'.* \(--name\)" \
	cap issue --env dev --profile client --cn a --name ../../etc/x
refuses "a CN that cannot be a name" 1 "the CN 'Ops Team' cannot be a certificate name .*needs a name \(--name\)" \
	cap issue --env dev --profile client --cn "Ops Team"
refuses "a CN over 64 characters" 1 "invalid CN '.*': longer than 64.* \(--cn\)" \
	cap issue --env dev --profile client --cn "$(printf 'a%.0s' $(seq 70))" --name long
refuses "a second certificate for a valid line" 1 "'web.internal' already has a valid certificate in 'dev'.*renew or rotate" \
	cap issue --env dev --profile server --cn web.internal
refuses "an option given twice" 2 "option '--env' given twice" \
	cap issue --env dev --env dev --profile server --cn a.internal
refuses "an option without its value" 2 "option '--cn' needs a value" cap issue --env dev --profile server --cn

# Options and commands.
refuses "an unknown option" 2 "unknown option '--colour' for issue" \
	cap issue --env dev --profile server --cn a.internal --colour
refuses "an unknown short option" 2 "unknown option '-x'" "$CAPSTAN" list -x
refuses "an unknown command" 2 "unknown command 'frobnicate'" "$CAPSTAN" frobnicate
refuses "a stray argument" 2 "unexpected argument 'extra'" "$CAPSTAN" list extra
refuses "a flag with a value" 2 "option '--json' takes no value" "$CAPSTAN" list --json=yes
refuses "an unknown export format" 2 "invalid --format 'pfx'" "$CAPSTAN" export web.internal --format pfx --out "$T/x"
refuses "export without --out" 2 "--out is required" "$CAPSTAN" export web.internal --format cert

# Files already on disk are left alone by a failed command.
printf 'precious\n' >"$T/precious.pem"
refuses "export of an unknown certificate" 1 "no certificate named 'ghost'" \
	"$CAPSTAN" export ghost --format cert --out "$T/precious.pem"
is "the existing file is untouched" "$(cat "$T/precious.pem")" precious
refuses "export into a missing directory" 1 "cannot write in '.*/no/such'" \
	"$CAPSTAN" export web.internal --format cert --out "$T/no/such/file.pem"
refuses "export onto a directory" 1 "is a directory" "$CAPSTAN" export web.internal --format cert --out "$T"
check_fails "no temporary files are left behind" bash -c "ls -A '$T' | grep -q capstan-tmp"
refuses "a home that is not an inventory" 1 "no inventory in '$(inventory_re "$T")'" "$CAPSTAN" --home "$T" list

# A message quotes what it refuses, but never a terminal escape sequence.
refuses "a CN with an escape sequence" 1 "invalid .*control characters" \
	cap issue --env dev --profile server --cn "$(printf 'x\033[31mred\a')"
check_fails "the message carries no control byte" grep -q "$(printf '[\001-\010\016-\037\177]')" "$T/err"

check "help" "$CAPSTAN" help
check "--version" "$CAPSTAN" --version
like "version" "$(cat "$T/out")" '^capstan [0-9]+\.[0-9]+\.[0-9]+$'
"$CAPSTAN" >/dev/null 2>&1
is "no command is a usage error" "$?" 2

done_testing
