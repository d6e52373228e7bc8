#!/usr/bin/env bash
# What a renew --due --exec hook is given: the documented CAPSTAN_* values,
# PATH, HOME and the rest of the environment, never a secret. The passphrase
# and the store password leave capstan's environment first thing, whatever
# the command and however the passphrase came: not in the hook's `env`, its
# /proc/self/environ, nor capstan's own /proc/PID/environ (the hook's parent).
. "$(dirname "$0")/lib.sh"
cat >"$T/c.yaml" <<'EOF'
organization: Example Corp
defaults: { key: ec-p256, days: 30, renew_before: 10d }
environments:
  dev: {}
services:
  spark:
    template: spark
    certs:
      - { name: spark-node, profile: peer, dns: [localhost] }
EOF
cap apply --config "$T/c.yaml" >/dev/null || exit 1
# The values to look for: unlike anything else in an environment.
P_SECRET=passphrase-b7c41e9a-in-the-env
S_SECRET=storepass-5d02f8c3-in-the-env
# The hook: its env, its own initial environment and its parent's (capstan's).
HOOK='env >"$OUT.env"; tr "\0" "\n" </proc/self/environ >"$OUT.self"; tr "\0" "\n" </proc/$PPID/environ >"$OUT.parent" 2>/dev/null; true'
# deliver TAG CMD...: a fresh delivery (the bundle directory removed) whose
# hook writes $T/TAG.{env,self,parent}.
deliver() {
	local tag=$1; shift
	rm -rf "$T/deploy"
	env OUT="$T/$tag" CAPSTAN_ENV=stale-value HOOK_KEEP=kept "$@" renew --due --bundle-dir "$T/deploy" \
		--exec "$HOOK" >"$T/out" 2>"$T/err"
}
leaks() { grep -l -e "$P_SECRET" -e "$S_SECRET" "$T/$1".env "$T/$1".self "$T/$1".parent 2>/dev/null; }

deliver file env CAPSTAN_PASSPHRASE="$P_SECRET" CAPSTAN_STORE_PASSWORD="$S_SECRET" "$CAPSTAN" --passphrase-file "$PASS"
is "with --passphrase-file and both variables set, the hook runs" "$?:$(cat "$T/err")" "0:"
is "neither secret is in the hook's env, /proc/self/environ, or capstan's environ" "$(leaks file)" ""
check_fails "nor any variable of theirs by name" grep -qE '^CAPSTAN_(PASSPHRASE|STORE_PASSWORD)=' \
	"$T/file.env" "$T/file.self"
# capstan's initial environment keeps the names, their values wiped in place.
check_fails "capstan's own environ keeps no value of theirs" grep -qE '^CAPSTAN_(PASSPHRASE|STORE_PASSWORD)=.' \
	"$T/file.parent"
check "the hook's /proc/self/environ was read" grep -q '^CAPSTAN_SERVICE=spark$' "$T/file.self"
[ "$(id -u)" = 0 ] && check "and capstan's (as root)" grep -q '^HOOK_KEEP=kept$' "$T/file.parent"

deliver env env CAPSTAN_PASSPHRASE="$(cat "$PASS")" CAPSTAN_STORE_PASSWORD="$S_SECRET" "$CAPSTAN"
is "with the passphrase from the environment, it unlocks and the hook runs" "$?:$(cat "$T/err")" "0:"
is "the passphrase it used reaches the hook nowhere" \
	"$(grep -l -e "$(cat "$PASS")" -e "$S_SECRET" "$T/env.env" "$T/env.self" "$T/env.parent" 2>/dev/null)" ""

is "the documented values, each once" \
	"$(grep -E '^CAPSTAN_(ENV|SERVICE|HOST|BUNDLE|RENEWED|REASON)=' "$T/file.env" | sort | tr '\n' '|')" \
	"CAPSTAN_BUNDLE=$T/deploy/dev/spark|CAPSTAN_ENV=dev|CAPSTAN_HOST=|CAPSTAN_REASON=not delivered here yet|CAPSTAN_RENEWED=|CAPSTAN_SERVICE=spark|"
is "PATH and HOME as they were" "$(grep -E '^(PATH|HOME)=' "$T/file.env" | sort | tr '\n' '|')" \
	"HOME=$HOME|PATH=$PATH|"
check "the rest of the environment passes" grep -q '^HOOK_KEEP=kept$' "$T/file.env"
rm -rf "$T/deploy"
env -u PATH OUT="$T/nopath" "$CAPSTAN" --passphrase-file "$PASS" renew --due --bundle-dir "$T/deploy" \
	--exec "$HOOK" >"$T/out" 2>"$T/err"
like "with no PATH, the hook is given a default one" "$(grep '^PATH=' "$T/nopath.env")" "^PATH=.*/usr/bin"

done_testing
