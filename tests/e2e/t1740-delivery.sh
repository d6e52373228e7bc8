#!/usr/bin/env bash
# Delivery left unattended, night after night (faketime): a failed hook or a
# bundle directory that cannot be written is owed and retried until it
# succeeds; a deleted bundle comes back; keystore passwords survive renewals;
# each host gets only its keys, owned by the service's user; CRLs are
# refreshed before they age out; overlapping runs deliver each change once.
. "$(dirname "$0")/lib.sh"
dir="$(cd "$(dirname "$0")" && pwd)"
id capstan-svc >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin capstan-svc
chmod 711 "$T"        # the service user reaches its bundle (the home stays 0700)
D="$T/deploy/tls"      # its parents do not exist: created like bundle --out's
HOOKLOG="$T/hook.log"
# The hook: logs what it was given; fails for spark while $T/spark-broken exists.
HOOK='echo "$CAPSTAN_ENV/$CAPSTAN_SERVICE/$CAPSTAN_HOST $CAPSTAN_RENEWED" >> '"$HOOKLOG"'; test -s "$CAPSTAN_BUNDLE/MANIFEST" && ! { [ "$CAPSTAN_SERVICE" = spark ] && [ -e '"$T"'/spark-broken ]; } && [ -z "${CAPSTAN_PASSPHRASE:-}" ]'
at() { local when=$1; shift; faketime -f "$when" "$CAPSTAN" --passphrase-file "$PASS" "$@"; }
night() { at "$1" renew --due --bundle-dir "$D" --exec "$HOOK" >"$T/out" 2>"$T/err"; }
metric() { at "$1" metrics --out - | grep "^$2" | awk '{print $2}'; }

cap apply --config "$dir/data/delivery.yaml" >/dev/null || exit 1

# A dry run lists what the first night would deliver: one line per bundle, saying why.
before=$(inventory_digest)
at +0d renew --due --dry-run --bundle-dir "$D" --exec "$HOOK" >"$T/out" 2>"$T/err"
is "a dry run on a fresh inventory lists every first delivery" "$?:$(cat "$T/out" "$T/err")" \
"0:would redeploy dev/etcd/node-a to $D/dev/etcd/node-a (not delivered here yet)
would redeploy dev/etcd/node-b to $D/dev/etcd/node-b (not delivered here yet)
would redeploy dev/spark to $D/dev/spark (not delivered here yet)"
is "delivering nothing, running no hook, changing nothing" "$(test -e "$D" && echo delivered)$(cat "$HOOKLOG" 2>/dev/null)$(inventory_digest)" "$before"

# A first delivery on a night that renews: only what that night renewed is named.
home_copy "$CAPSTAN_HOME" "$T/home-first"
CAPSTAN_HOME="$T/home-first" at +25d renew --due --bundle-dir "$T/first" --exec "$HOOK" >"$T/out" 2>"$T/err"
is "the hook is told what this run renewed" "$?:$(sort "$HOOKLOG" | tr '\n' ,)" \
	"0:dev/etcd/node-a etcd-1 root,dev/etcd/node-b etcd-2,dev/spark/ spark-node,"
like "and the line says both" "$(cat "$T/out")" \
	"redeployed dev/etcd/node-a to $T/first/dev/etcd/node-a \(not delivered here yet; renewed: etcd-1 root\)"
: >"$HOOKLOG"

night +0d
is "the first night delivers every bundle, nothing renewed, nothing being due" "$?:$(sort "$HOOKLOG" | tr '\n' ,)" \
	"0:dev/etcd/node-a ,dev/etcd/node-b ,dev/spark/ ,"
like "saying why, not 'renewed'" "$(cat "$T/out")" "^redeployed dev/etcd/node-a to $D/dev/etcd/node-a \(not delivered here yet\)$"
: >"$HOOKLOG"
night +0d
is "the second has nothing to do, and is quiet" "$?:$(cat "$T/out" "$T/err" "$HOOKLOG")" "0:"

# Day 25: everything is due (30 days, renewed 10 days before the end); spark's hook fails.
at +25d renew --due --dry-run --bundle-dir "$D" >"$T/out" 2>"$T/err"
is "a dry run names each renewal, then each bundle once, saying why" \
	"$?:$(grep -c '^would renew ' "$T/out"):$(cat "$T/out" "$T/err" | grep -v '^would renew ')" \
"0:4:would redeploy dev/etcd/node-a to $D/dev/etcd/node-a (due: etcd-1 root)
would redeploy dev/etcd/node-b to $D/dev/etcd/node-b (due: etcd-2)
would redeploy dev/spark to $D/dev/spark (due: spark-node)"
touch "$T/spark-broken"; : >"$HOOKLOG"
night +25d
is "a failed hook fails the run" "$?" 1
like "and says what is owed" "$(cat "$T/err")" "^capstan: redeploy dev/spark: the hook failed \(exit status 1\) \(owed"
check "the etcd hosts were delivered into DIR/ENV/SERVICE/HOST" test -s "$D/dev/etcd/node-a/MANIFEST" -a -s "$D/dev/etcd/node-b/MANIFEST"
is "each hook ran once, with the renewed names" "$(sort "$HOOKLOG" | tr '\n' ',')" \
	"dev/etcd/node-a etcd-1 root,dev/etcd/node-b etcd-2,dev/spark/ spark-node,"
is "metrics: spark is owed" "$(metric +25d 'capstan_redeploy_pending{env="dev",service="spark"')" 1
is "metrics: after one failure" "$(metric +25d 'capstan_redeploy_failures{env="dev",service="spark"')" 1
is "metrics: etcd node-a is not" "$(metric +25d 'capstan_redeploy_pending{env="dev",service="etcd",host="node-a"')" 0
is "metrics: the deployed serial of etcd-2" \
	"$(at +25d metrics --out - | grep '^capstan_deployed_cert_not_after_seconds{env="dev",service="etcd",host="node-b",name="etcd-2"' | sed 's/.*serial="\([0-9a-f]*\)".*/\1/')" \
	"$(at +25d --json show etcd-2 --env dev | jq -r .serial)"

# Day 26: nothing is due; the owed hook is retried and succeeds.
rm "$T/spark-broken"; : >"$HOOKLOG"
night +26d
is "the retry succeeds" "$?" 0
like "and says so" "$(cat "$T/out")" "^redeployed dev/spark to $D/dev/spark \(retry after 1 failed attempt"
is "only the owed hook ran" "$(cat "$HOOKLOG")" "dev/spark/ "
is "metrics: nothing is owed" "$(metric +26d 'capstan_redeploy_pending{' | sort -u | tr '\n' ' ')" "0 "
night +26d
is "a night with nothing owed is quiet" "$?:$(cat "$T/out" "$T/err")" "0:"

# A hook owed is not forgotten by a run without --exec, nor by one whose hook hangs.
touch "$T/spark-broken"; at +26d renew spark-node >/dev/null; night +26d
at +26d renew --due --bundle-dir "$D" >"$T/out" 2>&1
is "a run without --exec renders, and the hook stays owed" "$(metric +26d 'capstan_redeploy_pending{env="dev",service="spark"')" 1
rm "$T/spark-broken"
at +26d renew --due --bundle-dir "$D" --exec 'sleep 30' --exec-timeout 1s >"$T/out" 2>"$T/err"
is "a hook that hangs is killed and fails the run" "$?" 1
like "saying so" "$(cat "$T/err")" "^capstan: redeploy dev/spark: the hook did not finish in 1 s \(--exec-timeout\): killed"
: >"$HOOKLOG"; night +26d
is "the next run with a hook that works delivers it" "$?:$(cat "$HOOKLOG")" "0:dev/spark/ "

# A bundle directory deleted by hand comes back.
rm -rf "$D/dev/etcd/node-b"; : >"$HOOKLOG"
night +26d
is "a deleted bundle is delivered again" "$?:$(cat "$HOOKLOG")" "0:dev/etcd/node-b "

# A bundle directory that cannot be written: owed, then delivered once it can be.
spark_serial() { awk '/^cert spark-node /{print $4}' "$D/dev/spark/MANIFEST"; }
mv "$D" "$D.away" && touch "$D"
at +26d renew spark-node >/dev/null
night +26d
is "a bundle dir that cannot be written fails the run" "$?" 1
like "naming the bundle" "$(cat "$T/err")" "^capstan: redeploy dev/spark: .*\(owed"
rm "$D" && mv "$D.away" "$D"; : >"$HOOKLOG"
night +26d
is "the next night delivers it (and the etcd bundles that could not be checked)" "$?:$(sort "$HOOKLOG" | tr '\n' ,)" \
	"0:dev/etcd/node-a ,dev/etcd/node-b ,dev/spark/ spark-node,"
is "at the new serial" "$(spark_serial)" "$(at +26d --json show spark-node --env dev | jq -r .serial)"

# Keystore passwords survive renewals: a copy merged into spark-defaults.conf keeps working.
pw=$(cat "$D/dev/spark/spark-node.password")
same=0 opens=0 serials=""
for i in 1 2 3 4 5 6 7 8 9 10; do
	at +26d renew spark-node >/dev/null && night +26d
	[ "$(cat "$D/dev/spark/spark-node.password")" = "$pw" ] && same=$((same + 1))
	openssl pkcs12 -in "$D/dev/spark/spark-node.p12" -passin "pass:$pw" -noout 2>/dev/null && opens=$((opens + 1))
	serials="$serials $(spark_serial)"
done
is "the password is the same after ten renewals" "$same" 10
is "and opens each new keystore" "$opens" 10
is "which held ten different certificates" "$(echo $serials | tr ' ' '\n' | sort -u | wc -l)" 10
check "bundle --out reuses it too" cap bundle --env dev --service spark --out "$T/spark-manual"
is "the same password" "$(cat "$T/spark-manual/spark-node.password")" "$pw"
check "bundle --new-password makes a new one" cap bundle --env dev --service spark --out "$T/spark-manual" --new-password
newpw=$(cat "$T/spark-manual/spark-node.password")
check "that differs" test "$newpw" != "$pw"
night +26d
like "the delivered bundle is owed the new password" "$(cat "$T/out")" "redeployed dev/spark .*its keystore password changed"
is "and every render after uses it" "$(cat "$D/dev/spark/spark-node.password")" "$newpw"
refuses "a new password for a bundle that cannot be written changes nothing" 1 "exists and is not a directory" \
	cap bundle --env dev --service spark --out "$T/spark-manual/spark-node.p12" --new-password
refuses "--new-password for a service without keystores" 1 "service 'etcd' has no keystores" \
	cap bundle --env dev --service etcd --out "$T/etcd-np" --new-password
check "CAPSTAN_STORE_PASSWORD overrides it for one render" \
	env CAPSTAN_STORE_PASSWORD=override-pass-1 "$CAPSTAN" --passphrase-file "$PASS" bundle --env dev --service spark --out "$T/spark-env"
is "in the bundle" "$(cat "$T/spark-env/spark-node.password")" override-pass-1
check "without storing it" cap bundle --env dev --service spark --out "$T/spark-after"
is "the stored one is unchanged" "$(cat "$T/spark-after/spark-node.password")" "$newpw"

# Per-host bundles, owned by the service's user.
B="$D/dev/etcd"
is "node-b holds only its own key" "$(cd "$B/node-b" && ls *-key.pem | tr '\n' ' ')" "etcd-2-key.pem "
is "node-a holds etcd-1's and root's" "$(cd "$B/node-a" && ls *-key.pem | tr '\n' ' ')" "etcd-1-key.pem root-key.pem "
is "its configuration names only its member" "$(cd "$B/node-b" && ls *.env | tr '\n' ' ')" "etcd-2.env "
is "keys owned by the service's user, 0600" "$(stat -c '%U:%G %a' "$B/node-b/etcd-2-key.pem")" "capstan-svc:capstan-svc 600"
is "the bundle directory too, 0755" "$(stat -c '%U %a' "$B/node-b")" "capstan-svc 755"
check "the service user can read its key" setpriv --reuid=capstan-svc --regid=capstan-svc --clear-groups \
	openssl pkey -in "$B/node-b/etcd-2-key.pem" -noout
check "bundle --host --group: keys readable by the group" cap bundle --env dev --service etcd --host node-b \
	--out "$T/nb" --owner root --group capstan-svc
is "0640, root:capstan-svc" "$(stat -c '%U:%G %a' "$T/nb/etcd-2-key.pem")" "root:capstan-svc 640"
check "bundle --host --tar" cap bundle --env dev --service etcd --host node-b --tar "$T/node-b.tgz" --prefix /etc/etcd/tls
is "its entries name the service's user" "$(tar -tvzf "$T/node-b.tgz" etcd-2-key.pem | awk '{print $1, $2}')" \
	"-rw------- capstan-svc/capstan-svc"
mkdir "$T/unpack" && tar -xzf "$T/node-b.tgz" -C "$T/unpack" --same-owner
is "tar -x as root gives the files to that user" "$(stat -c '%U %a' "$T/unpack/etcd-2-key.pem")" "capstan-svc 600"
# A link planted where a killed run's leftovers would be is not followed.
mkdir -p "$T/victim" && touch "$T/victim/keep"
ln -s "$T/victim" "$T/.capstan-bundle-999999-planted"
check "a bundle beside a planted link" cap bundle --env dev --service etcd --host node-b --out "$T/nb2"
check "leaves what the link points to" test -e "$T/victim/keep"
refuses "a bundle inside a directory another user owns" 1 "belongs to uid .*: a bundle is not written where another user" \
	cap bundle --env dev --service etcd --host node-b --out "$B/node-b/inside"
refuses "an unknown host" 1 "service 'etcd' has no host 'node-z'" cap bundle --env dev --service etcd --host node-z --out "$T/nz"
refuses "an owner that does not exist" 1 "owner 'nobody-here' of dev/etcd: no such user" \
	cap bundle --env dev --service etcd --out "$T/no" --owner nobody-here
check "and nothing was written" test ! -e "$T/no"

# CRLs are renewed before they age out (7 days; refreshed in their last third).
: >"$HOOKLOG"
night +31d
like "old CRLs are re-rendered" "$(cat "$T/out")" "redeployed dev/etcd/node-a .*CRLs are in the last third"
check "every bundle got fresh ones" grep -q "dev/etcd/node-b" "$HOOKLOG"
check "crl.pem is the current intermediate's, one CRL" test "$(grep -c 'BEGIN X509 CRL' "$B/node-a/crl.pem")" = 1
is "crl-all.pem has the intermediate's and the root's" "$(grep -c 'BEGIN X509 CRL' "$B/node-a/crl-all.pem")" 2
like "which openssl -crl_check_all accepts for a valid member" "$(cd "$B/node-a" && faketime -f +31d openssl verify \
	-crl_check_all -CAfile ca.pem -CRLfile crl-all.pem -untrusted etcd-1.pem etcd-1.pem 2>&1)" "etcd-1.pem: OK"

# A revocation reaches every bundle's CRL; the revoked line is reissued with a new key.
old2=$(at +31d --json show etcd-2 --env dev | jq -r .serial)
at +31d revoke etcd-2 --env dev >/dev/null
: >"$HOOKLOG"
night +31d
is "the revocation is delivered" "$?" 0
new2=$(awk '/^cert etcd-2 /{print $4}' "$B/node-b/MANIFEST")
check "etcd-2 was reissued for node-b" test -n "$new2" -a "$new2" != "$old2"
check "its CRL lists the revoked serial" sh -c "openssl crl -in '$B/node-b/crl.pem' -noout -text | tr -d ':' | grep -qi '$old2'"
check "node-a got the new CRL as well" grep -q "dev/etcd/node-a" "$HOOKLOG"

# A root rotation changes every bundle's trust: each is delivered again with both roots.
at +31d rotate --env dev --root >/dev/null
: >"$HOOKLOG"
night +31d
like "a root rotation redelivers the bundles" "$(cat "$T/out")" "redeployed dev/spark to [^ ]* \(the trust bundle changed\)"
is "all three" "$(wc -l <"$HOOKLOG")" 3
is "whose ca.pem has both roots" "$(grep -c 'BEGIN CERTIFICATE' "$D/dev/spark/ca.pem")" 2
like "and each says its leaves are under a CA other than the current intermediate" "$(cat "$T/err")" \
	"^capstan: warning: dev/etcd: 2 certificates are under a CA other than the current intermediate \\(an older one, or an imported CA\\), .* renew them onto the current intermediate"

at +40d renew --due --env dev >"$T/out" 2>&1
like "renew --due announces when the old root leaves the trust bundle" "$(cat "$T/out")" \
	"^note: the old root root-ca of dev \(serial [0-9a-f]+\) leaves the trust bundle at 20"
like "so do the metrics" "$(at +40d metrics --out - | grep '^capstan_trust_root_leaves_seconds')" 'env="dev",name="root-ca"'

# --dry-run: what would be renewed and redeployed; nothing changes.
before=$(inventory_digest)
at +50d renew --due --dry-run --bundle-dir "$D" --exec false >"$T/out" 2>"$T/err"
is "a dry run exits 0" "$?" 0
like "it lists the renewals" "$(cat "$T/out")" "would renew dev/spark-node"
like "and the redeploys" "$(cat "$T/out")" "would redeploy dev/spark"
is "and changes nothing" "$(inventory_digest)" "$before"

# Overlapping nights deliver each change once.
: >"$HOOKLOG"
night +50d & night +50d & wait
is "two runs at once: each bundle delivered once" "$(sort "$HOOKLOG" | cut -d' ' -f1 | uniq -c | awk '{print $1}' | sort -u)" 1
is "all three" "$(wc -l <"$HOOKLOG")" 3
# apply --prune: what the file no longer names is revoked; without it, said to be left.
sed -e '/^  spark:/,/^  etcd:/{/^  etcd:/!d}' -e '/name: root,/d' -e 's/node-a: \[root, etcd-1\].*/node-a: [etcd-1]/' \
	"$dir/data/delivery.yaml" >"$T/trimmed.yaml"
at +50d apply --config "$T/trimmed.yaml" >"$T/out" 2>"$T/err"
is "apply without --prune succeeds" "$?" 0
like "and says what it leaves" "$(cat "$T/out")" "! dev/root: left \(service etcd no longer names it; left valid; apply --prune revokes it\)"
like "spark too" "$(cat "$T/out")" "! dev/spark-node: left"
is "both still valid" "$(at +50d --json list --env dev | jq -r '[.[] | select(.name == "root" or .name == "spark-node")] | length')" 2
at +50d apply --config "$T/trimmed.yaml" --prune >"$T/out" 2>"$T/err"
is "apply --prune succeeds" "$?" 0
like "and revokes them" "$(cat "$T/out")" "- dev/spark-node: revoked"
is "as cessationOfOperation" "$(at +50d --json list --env dev --status revoked | jq -r '[.[] | select(.name == "root" or .name == "spark-node")] | length')" 2
refuses "the service it dropped is forgotten" 1 "no service 'spark' in environment 'dev'" \
	at +50d bundle --env dev --service spark --out "$T/gone"
at +50d apply --config "$T/trimmed.yaml" --prune >"$T/out"
like "a second run changes nothing" "$(cat "$T/out")" "^nothing to change"
check "metrics still work with a forgotten service's row" at +50d metrics --out "$T/after-prune.prom"
# etcd-1 moves from etcd to another service: not pruned, though etcd no longer names it.
cat >"$T/moved.yaml" <<'EOF'
defaults: { key: ec-p256, days: 30, renew_before: 10d }
environments: { dev: {} }
services:
  moved:
    template: etcd
    certs:
      - { name: etcd-1, profile: peer, dns: [localhost], ip: [127.0.0.1] }
  etcd:
    template: etcd
    owner: capstan-svc
    group: capstan-svc
    hosts: { node-b: [etcd-2] }
    certs:
      - { name: etcd-2, profile: peer, dns: [localhost], ip: [127.0.0.1] }
EOF
at +50d apply --config "$T/moved.yaml" --prune >"$T/out" 2>&1
is "a certificate moved to another service is not pruned" "$(grep -c 'etcd-1: revoked' "$T/out")" 0
is "it stays valid" "$(at +50d --json show etcd-1 --env dev | jq -r .status)" valid

check "the home is sound" at +50d check

done_testing
