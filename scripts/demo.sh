#!/usr/bin/env bash
# make demo: bootstrap dev, staging and prod CAs in a throwaway home, issue
# certificates for a few services, and verify every one of them with OpenSSL
# and GnuTLS — printing each command as it goes.
set -euo pipefail

CAPSTAN=${CAPSTAN_BIN:-$(dirname "$0")/../build/capstan}
work=$(mktemp -d /tmp/capstan-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
export CAPSTAN_HOME="$work/inventory"
unset CAPSTAN_PASSPHRASE
# A random passphrase in a 0600 file: never on the command line.
(umask 077 && head -c 24 /dev/urandom | base64 >"$work/passphrase")

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ capstan %s\n' "$*"; "$CAPSTAN" --passphrase-file "$work/passphrase" "$@"; }

say "Bootstrapping one CA hierarchy (root + intermediate) per environment in $CAPSTAN_HOME"
run init --env dev --org "Example Corp"
run init --env staging --org "Example Corp"
run init --env prod --org "Example Corp" --key ec-p384 --days 60

say "Issuing certificates: etcd members (peer), the etcd root user (client), a web server"
for env in dev staging prod; do
	for member in 1 2; do
		printf '%s etcd-%s: ' "$env" "$member"
		run -q issue --env "$env" --profile peer --cn "etcd-$member" --service etcd \
			--dns "etcd-$member.internal" --dns localhost --ip 127.0.0.1 >/dev/null && echo issued
	done
	printf '%s root (client): %s\n' "$env" "$(run issue --env "$env" --profile client --cn root --service etcd)"
	printf '%s web.internal: %s\n' "$env" "$(run issue --env "$env" --profile server --cn web.internal --service web --key rsa-3072)"
done

say "The inventory"
run list

say "Verifying every chain against its environment's trust, with OpenSSL and GnuTLS"
verified=0
for env in dev staging prod; do
	"$CAPSTAN" trust --env "$env" --out "$work/$env-ca.pem"
	for name in $("$CAPSTAN" --json list --env "$env" | jq -r '.[].name'); do
		"$CAPSTAN" export "$name" --env "$env" --format chain --out "$work/chain.pem"
		purpose=sslserver
		[ "$name" = root ] && purpose=sslclient
		openssl verify -x509_strict -purpose "$purpose" -CAfile "$work/$env-ca.pem" \
			-untrusted "$work/chain.pem" "$work/chain.pem" >/dev/null
		certtool --verify --verify-profile=medium --load-ca-certificate "$work/$env-ca.pem" \
			--infile "$work/chain.pem" 2>&1 | grep -q 'Chain verification output: Verified'
		printf '  %-8s %-14s openssl: OK  certtool: OK\n' "$env" "$name"
		verified=$((verified + 1))
	done
done

say "Environments do not trust each other"
"$CAPSTAN" export web.internal --env dev --format chain --out "$work/dev-web.pem"
if openssl verify -CAfile "$work/prod-ca.pem" -untrusted "$work/dev-web.pem" "$work/dev-web.pem" >/dev/null 2>&1; then
	echo "  dev's web.internal verified against prod's trust: this must not happen" >&2
	exit 1
fi
echo "  dev's web.internal against prod's trust: rejected, as it should be"

say "A leaked key: rotate it, revoke the old certificate, publish the CRL"
old_serial=$("$CAPSTAN" --json show web.internal --env staging | jq -r .serial)
"$CAPSTAN" export web.internal --env staging --format chain --out "$work/leaked.pem"
run rotate web.internal --env staging
run revoke "$old_serial" --reason keyCompromise
run crl --env staging --out "$work/staging.crl"
cat "$work/staging-ca.pem" "$work/staging.crl" >"$work/staging-ca+crl.pem"
if openssl verify -crl_check -CAfile "$work/staging-ca+crl.pem" -untrusted "$work/leaked.pem" "$work/leaked.pem" \
	>/dev/null 2>&1; then
	echo "  the revoked certificate still verified" >&2
	exit 1
fi
echo "  openssl verify -crl_check on the leaked certificate: rejected (certificate revoked)"
printf '$ capstan verify leaked.pem --env staging\n'
"$CAPSTAN" verify "$work/leaked.pem" --env staging 2>&1 | sed 's|'"$work"'/||' || true

say "Delivery, night after night: per-host bundles from one YAML file, redeployed when renewed"
# On a copy of the home: its nights are spent in the future (libfaketime,
# preloaded: the faketime(1) wrapper trips over a semaphore a killed run left).
later() { env LD_PRELOAD='/usr/$LIB/faketime/libfaketime.so.1' FAKETIME="$1" "${@:2}"; }
cp -a "$CAPSTAN_HOME" "$work/nights"
main_home=$CAPSTAN_HOME
export CAPSTAN_HOME="$work/nights"
cat >"$work/capstan.yaml" <<'EOF'
environments: { dev: {} }
defaults: { days: 90, renew_before: 30d }
services:
  kv:
    template: etcd
    hosts: { node-a: [kv-1, kv-app], node-b: [kv-2] }
    etcd: { roles: { app: { readwrite: [/app/] } } }
    certs:
      - { name: kv-1, profile: peer, dns: [localhost], ip: [127.0.0.1] }
      - { name: kv-2, profile: peer, dns: [localhost], ip: [127.0.0.1] }
      - { name: kv-app, profile: client, role: app }
EOF
run apply --config "$work/capstan.yaml"
hook='echo "  hook: reload $CAPSTAN_SERVICE on $CAPSTAN_HOST ($CAPSTAN_REASON)"'
run renew --due --env dev --bundle-dir "$work/deploy" --exec "$hook"
printf '  node-b holds: %s\n' "$(cd "$work/deploy/dev/kv/node-b" && ls | tr '\n' ' ')"
echo "# the next night: nothing due, nothing owed, nothing printed"
run renew --due --env dev --bundle-dir "$work/deploy" --exec "$hook"
echo "# 65 days later (faketime): the kv certificates are due, renewed and redelivered"
printf '$ capstan renew --due --bundle-dir ... --exec ...\n'
later +65d "$CAPSTAN" --passphrase-file "$work/passphrase" renew --due --env dev --bundle-dir "$work/deploy" \
	--exec "$hook" | grep -v '^renewed dev/\(etcd\|root\|web\)'
printf '  metrics: %s\n' "$(later +65d "$CAPSTAN" metrics --out - | grep -c '^capstan_redeploy_pending.* 0$') bundles delivered, none pending"

export CAPSTAN_HOME=$main_home

say "Keys at rest"
printf '  %s is mode %s; %d keys stored, all sealed with AES-256-GCM (no plaintext key in the file)\n' \
	capstan.db "$(stat -c %a "$CAPSTAN_HOME/capstan.db")" \
	"$(sqlite3 "$CAPSTAN_HOME/capstan.db" 'SELECT count(*) FROM keys')"
if sqlite3 "$CAPSTAN_HOME/capstan.db" .dump | grep -q 'PRIVATE KEY'; then
	echo "  plaintext key material found in the database" >&2
	exit 1
fi

say "The audit log (last 5 of $("$CAPSTAN" --json audit | jq length) changes), hash-chained"
"$CAPSTAN" audit | tail -5
run audit --verify

say "The whole home checked: database, keys (each opened), chains, serials, audit chain, file modes"
run check --keys

say "Done: 3 environments, $verified certificates issued and verified by two independent verifiers."
