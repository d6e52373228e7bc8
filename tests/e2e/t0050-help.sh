#!/usr/bin/env bash
# capstan COMMAND --help, and the bash completion generated from the same
# command table (dist/bash-completion/capstan must be what the binary prints).
. "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)

# Every command's --help and -h: its usage on stdout, exit 0, with no home,
# no passphrase, and whatever else is on the line.
unset HOME
commands=$("$CAPSTAN" --help | sed -n 's/^  capstan \([a-z]*\).*/\1/p' | sort -u)
is "capstan --help lists 25 commands" "$(echo "$commands" | wc -l)" 25
for c in $commands; do
	"$CAPSTAN" "$c" --help >"$T/out" 2>"$T/err"
	is "$c --help exits 0" "$?" 0
	like "$c --help prints its usage" "$(head -1 "$T/out")" "^usage: capstan $c( |$)"
	is "$c --help says nothing on stderr" "$(cat "$T/err")" ""
	"$CAPSTAN" "$c" -h >"$T/out2" 2>&1
	is "$c -h is the same" "$(cat "$T/out2")" "$(cat "$T/out")"
done
check_fails "and no home was made" test -e "$CAPSTAN_HOME"
like "issue --help shows both forms" "$("$CAPSTAN" issue --help)" "capstan issue --batch FILE"
like "and the global options" "$("$CAPSTAN" issue --help)" "--passphrase-file FILE"
check "--help wins over missing required options" "$CAPSTAN" issue --env dev --help
check "and over a bad value" "$CAPSTAN" list --status nonsense --help
check "capstan help COMMAND is COMMAND --help" \
	test "$("$CAPSTAN" help renew)" = "$("$CAPSTAN" renew --help)"
# -h as an option's value is the value, not a request for help.
refuses "-h as an option's value is that value" 1 "no inventory in" "$CAPSTAN" show x --env -h
refuses "and after -- it is an argument" 1 "no inventory in" "$CAPSTAN" show --env dev -- -h
refuses "an unknown command still fails" 2 "unknown command 'frobnicate'" "$CAPSTAN" frobnicate --help
is "capstan --help is unchanged: the summary" "$("$CAPSTAN" --help | head -1)" \
	"usage: capstan [--home DIR] [--inventory URL] [--json] [-q] [--passphrase-file FILE] COMMAND [ARGS]"
export HOME="$T"

# The usage strings are the completion's source: they must name exactly the
# options each command's table accepts (cmd/capstan/cmd_NAME.c), global ones aside.
for c in $commands; do
	src="$repo/cmd/capstan/cmd_$c.c"
	[ -f "$src" ] || { not_ok "$c has a cmd_$c.c"; continue; }
	table=$(grep -o '{ "[a-z-]*", OPT_' "$src" | sed 's/{ "\([a-z-]*\)".*/--\1/' | sort -u | tr '\n' ' ')
	usage=$("$CAPSTAN" "$c" --help | head -n -1 | grep -o -- '--[a-z][a-z0-9-]*' |
		grep -vxE -- '--(home|config|templates|passphrase-file|json|quiet)' | sort -u | tr '\n' ' ')
	is "$c: its usage names the options its table takes" "$usage" "$table"
done

# The completion script: what the binary prints is what dist/ holds.
"$CAPSTAN" completion bash >"$T/completion.bash"
is "completion bash exits 0" "$?" 0
check "dist/bash-completion/capstan is current (make completion refreshes it)" \
	cmp "$T/completion.bash" "$repo/dist/bash-completion/capstan"
check "the script is valid bash" bash -n "$T/completion.bash"
check_fails "completion is not listed in --help" sh -c "'$CAPSTAN' --help | grep -q completion"
refuses "completion knows only bash" 2 "unknown shell 'fish'" "$CAPSTAN" completion fish

# complete in a bash that sourced the script, as bash-completion would.
complete_line() {
	bash --norc --noprofile -c '
		. "$1"; shift
		complete -p capstan >/dev/null || exit 3
		COMP_LINE="$*"; COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
		COMP_POINT=${#COMP_LINE}
		_capstan capstan "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		((${#COMPREPLY[@]})) && printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$T/completion.bash" "$@"
}
is "complete -p names the function" "$(bash --norc -c ". '$T/completion.bash'; complete -p capstan")" \
	"complete -F _capstan capstan"
is "capstan re -> renew restore revoke" "$(complete_line capstan re)" "renew restore revoke "
is "capstan export x --format -> the formats" "$(complete_line capstan export x --format '')" \
	"cert chain der jks jks-truststore key pem pkcs12 pkcs8-enc truststore "
is "convert --to -> the same formats" "$(complete_line capstan convert --to p)" "pem pkcs12 pkcs8-enc "
is "revoke --reason -> the reasons" "$(complete_line capstan revoke x --reason '')" \
	"affiliationChanged cessationOfOperation keyCompromise superseded unspecified "
is "issue --profile -> the profiles" "$(complete_line capstan issue --profile '')" "client peer server "
is "issue --key -> the key types" "$(complete_line capstan issue --key ec)" "ec-p256 ec-p384 "
is "list --status -> the statuses" "$(complete_line capstan list --status '')" \
	"all expired revoked superseded valid "
is "list --e -> its options" "$(complete_line capstan list --e)" "--env --expiring-within "
is "global options before the command" "$(complete_line capstan --pa)" "--passphrase-file "
is "global options after it too" "$(complete_line capstan list --j)" "--json "
is "a value of a global option is skipped" "$(complete_line capstan --home /tmp lis)" "list "
is "a free value completes nothing" "$(complete_line capstan issue --cn '')" ""
is "--opt=value works too" "$(complete_line capstan export x --format = pk)" "pkcs12 pkcs8-enc "
mkdir -p "$T/files" && touch "$T/files/req.jsonl"
is "a FILE value completes files" "$(complete_line capstan issue --batch "$T/files/re")" "$T/files/req.jsonl "

# The documents a clone carries stand alone, and the nightly job they show
# says which home it renews (cron has no HOME worth trusting).
check_fails "README and the man page name nothing outside the repository" \
	grep -nE '\.\./|shared/spec' "$repo/README.md" "$repo/docs/capstan.1"
check "the README's cron example sets CAPSTAN_HOME" \
	sh -c "sed -n '/^\`\`\`cron/,/^\`\`\`\$/p' '$repo/README.md' | grep -q '^CAPSTAN_HOME=/'"
check "and so does dist/cron" grep -q '^CAPSTAN_HOME=/' "$repo/dist/cron/capstan.cron"
check "the man page documents --help and the completion" \
	sh -c "grep -q 'BASH COMPLETION' '$repo/docs/capstan.1' && grep -q 'completions/capstan' '$repo/README.md'"

done_testing
