#!/usr/bin/env bash
# bundle: each target's files checked by what consumes them — modes, MANIFEST,
# paths that exist, a Kubernetes Secret that parses, Hadoop XML that is well
# formed, Spark's stores loaded by Java with the passwords its config names.
. "$(dirname "$0")/lib.sh"
dir="$(cd "$(dirname "$0")" && pwd)"
cap apply --config "$dir/data/capstan.yaml" >/dev/null || exit 1
B="$T/bundles"
for s in etcd alluxio spark hdfs web; do
	check "bundle $s" cap bundle --env dev --service "$s" --out "$B/$s"
done
like "says what it wrote" "$(cat "$T/out")" "wrote the web bundle of dev \([0-9]+ files\) to $B/web"

# Modes: anything secret 0600, the rest 0644.
mode() { stat -c %a "$B/$1"; }
for f in etcd/etcd-1-key.pem etcd/root-key.pem spark/spark-node.p12 spark/spark-node.password spark/spark-defaults.conf \
	alluxio/alluxio-etcd-client-key.pk8 alluxio/alluxio-site.properties hdfs/ssl-server.xml web/web-secret.yaml \
	spark/truststore.password; do
	is "$f is 0600" "$(mode "$f")" 600
done
for f in etcd/etcd-1.pem etcd/ca.pem etcd/etcd-1.env etcd/etcdctl-root.env etcd/MANIFEST spark/truststore.p12; do
	is "$f is 0644" "$(mode "$f")" 644
done

# MANIFEST: every file's SHA-256, the serials and expiry.
for s in etcd alluxio spark hdfs web; do
	check "$s: MANIFEST sums verify" bash -c "cd '$B/$s' && grep -E '^[0-9a-f]{64}  ' MANIFEST | sha256sum -c --quiet"
	is "$s: MANIFEST lists every other file" "$(grep -cE '^[0-9a-f]{64}  ' "$B/$s/MANIFEST")" "$(( $(ls "$B/$s" | wc -l) - 1 ))"
done
is "MANIFEST names the serial of etcd-1" "$(awk '/^cert etcd-1 /{print $4}' "$B/etcd/MANIFEST")" \
	"$("$CAPSTAN" --json show etcd-1 --env dev | jq -r .serial)"

# etcd: the contents cli.md lists.
for f in ca.pem etcd-1.pem etcd-1-key.pem etcd-1.env etcd-1.conf.yml etcd-2.env root.pem root-key.pem etcdctl-root.env; do
	check "etcd bundle has $f" test -s "$B/etcd/$f"
done
check_fails "no etcdctl env for a member" test -e "$B/etcd/etcdctl-etcd-1.env"
check_fails "no member env for a client" test -e "$B/etcd/root.env"
check_fails "no etcd-rbac.sh for a service without etcd roles" test -e "$B/etcd/etcd-rbac.sh"
is "the env file carries TLS settings only" "$(grep -v '^#' "$B/etcd/etcd-1.env" | cut -d= -f1 | tr '\n' ' ')" \
	"ETCD_CERT_FILE ETCD_KEY_FILE ETCD_TRUSTED_CA_FILE ETCD_CLIENT_CERT_AUTH ETCD_PEER_CERT_FILE ETCD_PEER_KEY_FILE ETCD_PEER_TRUSTED_CA_FILE ETCD_PEER_CLIENT_CERT_AUTH ETCD_CLIENT_CRL_FILE ETCD_PEER_CRL_FILE "
is "both CRL settings name the bundle's crl.pem" "$(grep '_CRL_FILE=' "$B/etcd/etcd-1.env" | cut -d= -f2 | sort -u)" "$B/etcd/crl.pem"
check "conf.yml parses as YAML with both blocks" python3 -c "
import yaml, sys
d = yaml.safe_load(open('$B/etcd/etcd-1.conf.yml'))
assert d['client-transport-security']['client-cert-auth'] is True
assert d['peer-transport-security']['cert-file'] == '$B/etcd/etcd-1.pem'
assert d['ClientTLSInfo']['CRLFile'] == d['PeerTLSInfo']['CRLFile'] == '$B/etcd/crl.pem'"
check "the member chain verifies for both roles" openssl verify -x509_strict -purpose sslclient -CAfile "$B/etcd/ca.pem" \
	-untrusted "$B/etcd/etcd-1.pem" "$B/etcd/etcd-1.pem"

# Kubernetes: a kubernetes.io/tls Secret that decodes to the inventory's cert and key.
"$CAPSTAN" export web --env dev --format chain --out "$T/web.chain"
cap export web --env dev --format key --out "$T/web.key"
check "the Secret parses and decodes to the inventory's" python3 -c "
import yaml, base64
s = yaml.safe_load(open('$B/web/web-secret.yaml'))
assert s['apiVersion'] == 'v1' and s['kind'] == 'Secret' and s['type'] == 'kubernetes.io/tls'
assert s['metadata']['name'] == 'web-tls'
d = s['data']
assert base64.b64decode(d['tls.crt']) == open('$T/web.chain', 'rb').read()
assert base64.b64decode(d['tls.key']) == open('$T/web.key', 'rb').read()
assert base64.b64decode(d['ca.crt']) == open('$B/web/ca.pem', 'rb').read()
assert 'keystore.p12' not in d"
check "with --keystores" cap bundle --env dev --service web --out "$B/web-ks" --keystores
check "the Secret carries keystore.p12 and truststore.p12" python3 -c "
import yaml, base64
d = yaml.safe_load(open('$B/web-ks/web-secret.yaml'))['data']
open('$T/k8s.p12', 'wb').write(base64.b64decode(d['keystore.p12']))
assert len(base64.b64decode(d['truststore.p12'])) > 0"
check "keytool opens that keystore with the bundle's password" \
	keytool -list -keystore "$T/k8s.p12" -storepass "$(cat "$B/web-ks/web.password")"
# Keystores' salts and IVs are derived from what they protect: an unchanged
# bundle renders the same bytes, keystores included, so fetch sees no change.
cp -a "$B/web-ks" "$T/web-ks-first"
check "rendering --keystores again" cap bundle --env dev --service web --out "$B/web-ks" --keystores
check "renders the same bytes, keystores included" diff -r "$T/web-ks-first" "$B/web-ks"

# Alluxio: every path it names exists; the etcd client key is PKCS#8.
paths=$(grep -E '^[a-z.]+=/' "$B/alluxio/alluxio-site.properties" | cut -d= -f2)
check "alluxio-site.properties names files" test -n "$paths"
for p in $paths; do check "alluxio: $(basename "$p") exists" test -s "$p"; done
like "the etcd client key (jetcd) is PKCS#8" \
	"$(head -1 "$(grep '^alluxio.etcd.tls.client.key=' "$B/alluxio/alluxio-site.properties" | cut -d= -f2)")" "^-----BEGIN PRIVATE KEY-----$"
check "the etcd client is the certificate with that role" \
	grep -q "^alluxio.etcd.tls.client.cert=$B/alluxio/alluxio-etcd-client.pem$" "$B/alluxio/alluxio-site.properties"
check "internal TLS uses the peer's keystore" grep -q "^alluxio.network.tls.keystore.alias=alluxio-master$" "$B/alluxio/alluxio-site.properties"
check "the header says what Alluxio 2.9 and 3.x read" \
	grep -q '^#   alluxio.network.tls.\*   Alluxio 2.9 .* and$' "$B/alluxio/alluxio-site.properties"
# Several servers: each host gets its own keystore in NAME.alluxio-site.properties.
cat >"$T/lake.yaml" <<'EOF'
environments: { lake: {} }
services:
  alluxio:
    template: alluxio
    certs:
      - { name: alluxio-master, profile: peer, dns: [alluxio-master.internal] }
      - { name: alluxio-worker-1, profile: peer, dns: [alluxio-worker-1.internal] }
      - { name: alluxio-worker-2, profile: server, dns: [alluxio-worker-2.internal] }
      - { name: alluxio-client, profile: client }
EOF
cap apply --config "$T/lake.yaml" >/dev/null
check "bundle an Alluxio with three servers" cap bundle --env lake --service alluxio --out "$B/lake"
prop() { awk -F= -v k="$2" '$1 == k { print $2 }' "$B/lake/$1"; }
for w in alluxio-master alluxio-worker-1 alluxio-worker-2; do
	f=$w.alluxio-site.properties
	is "$w: its own keystore" "$(prop "$f" alluxio.network.tls.keystore.path)" "$B/lake/$w.p12"
	is "$w: its own alias" "$(prop "$f" alluxio.network.tls.keystore.alias)" "$w"
	check "$w: keytool finds that alias in that keystore" keytool -list -keystore "$B/lake/$w.p12" \
		-storepass "$(prop "$f" alluxio.network.tls.keystore.password)" -alias "$w"
	is "$w: the 3.x workers' transfer for TLS" "$(prop "$f" alluxio.worker.network.netty.file.transfer)" MAPPED
	is "$w: 0600 (passwords)" "$(stat -c %a "$B/lake/$f")" 600
done
check_fails "a client gets no server file" test -e "$B/lake/alluxio-client.alluxio-site.properties"

# Hadoop: well-formed XML, existing files, a keystore that opens with its password.
for x in ssl-server.xml ssl-client.xml; do
	check "$x is well formed" xmllint --noout "$B/hdfs/$x"
	for p in $(grep -oE '<value>/[^<]+</value>' "$B/hdfs/$x" | sed 's/<[^>]*>//g'); do
		check "$x: $(basename "$p") exists" test -s "$p"
	done
done
ks=$(xmllint --xpath 'string(//property[name="ssl.server.keystore.location"]/value)' "$B/hdfs/ssl-server.xml")
pw=$(xmllint --xpath 'string(//property[name="ssl.server.keystore.password"]/value)' "$B/hdfs/ssl-server.xml")
check "keytool opens the server keystore with the XML's password" keytool -list -keystore "$ks" -storepass "$pw"

# Spark: Java loads the stores spark-defaults.conf names, with its passwords, and completes mutual TLS.
conf() { awk -v k="$1" '$1 == k { print $2 }' "$B/spark/spark-defaults.conf"; }
check "spark-defaults.conf sets PKCS12 store types" test "$(conf spark.ssl.keyStoreType)/$(conf spark.ssl.trustStoreType)" = PKCS12/PKCS12
# needClientAuth applies to the web UIs only (Spark's security.md: ui,
# standalone, historyServer; RPC TLS never asks): set there it would turn
# browsers away, so no namespace turns it on.
is "needClientAuth is off for the web UIs" "$(conf spark.ssl.needClientAuth)" false
check_fails "and no namespace turns it on" grep -rEq '^spark\.ssl\.[a-zA-Z.]*needClientAuth +true' "$B/spark"
check "Spark 4 RPC TLS is on" test "$(conf spark.ssl.rpc.enabled)" = true
# spark.authenticate without a secret stops Spark from starting: left out, and
# the comment says how to turn it on.
is "spark.authenticate is not set" "$(conf spark.authenticate)" ""
check_fails "nor in the per-host files" grep -rq '^spark\.authenticate' "$B/spark"
check "the comment says how, with spark.authenticate.secret" \
	grep -q '^#  *spark\.authenticate\.secret ' "$B/spark/spark-defaults.conf"
is "AES RPC encryption (it needs spark.authenticate) is not set either" "$(conf spark.network.crypto.enabled)" ""
conf spark.ssl.keyStorePassword >"$T/spark.pw"
check "the password file agrees with the configuration" cmp "$T/spark.pw" "$B/spark/spark-node.password"
check "several certificates: one file each" test -s "$B/spark/spark-client.spark-defaults.conf"
check "Java: mutual TLS with the stores Spark is told to use" java "$dir/java/TlsHandshake.java" \
	"$(conf spark.ssl.keyStore)" PKCS12 "$B/spark/spark-client.p12" PKCS12 "$(conf spark.ssl.trustStore)" PKCS12 "$T/spark.pw"
like "both sides authenticated" "$(cat "$T/out")" "server=CN=spark-node.* client=CN=spark-client"

# --prefix, --tar, and the swap.
check "--prefix" cap bundle --env dev --service etcd --out "$B/etcd-prefixed" --prefix /etc/etcd/tls
is "paths name the prefix" "$(grep ETCD_CERT_FILE "$B/etcd-prefixed/etcd-1.env")" "ETCD_CERT_FILE=/etc/etcd/tls/etcd-1.pem"
check "--tar" cap bundle --env dev --service etcd --tar "$T/etcd.tar.gz" --prefix /etc/etcd/tls
is "the archive is 0600" "$(stat -c %a "$T/etcd.tar.gz")" 600
is "it holds the same files" "$(tar -tzf "$T/etcd.tar.gz" | sort | tr '\n' ' ')" "$(ls "$B/etcd-prefixed" | sort | tr '\n' ' ')"
mkdir "$T/untar" && tar -xzf "$T/etcd.tar.gz" -C "$T/untar"
check "with the same certificates" cmp "$T/untar/etcd-1.pem" "$B/etcd-prefixed/etcd-1.pem"
is "keys keep 0600 in the archive" "$(stat -c %a "$T/untar/etcd-1-key.pem")" 600
check "--tar - writes to standard output" bash -c "'$CAPSTAN' --passphrase-file '$PASS' bundle --env dev --service etcd --tar - --prefix /x | tar -tz | grep -q MANIFEST"
touch "$B/etcd/stale-file"
inode=$(stat -c %i "$B/etcd")
check "bundling again" cap bundle --env dev --service etcd --out "$B/etcd"
check_fails "replaces the whole directory (a stale file is gone)" test -e "$B/etcd/stale-file"
check_fails "by a swap: a new directory" test "$(stat -c %i "$B/etcd")" = "$inode"
is "no temporary directory is left" "$(ls -A "$B" | grep -c capstan-bundle)" 0
check "bundle creates missing parents" cap bundle --env dev --service web --out "$T/a/b/c/web"

# The swap replaces the whole directory: only an empty one or an earlier bundle.
mkdir -p "$T/mine" "$T/empty" "$T/foreign" "$T/linked"
echo "my notes" >"$T/mine/notes.txt"
refuses "a directory of other files is not replaced" 1 \
	"'$T/mine' is a directory that holds files but no capstan MANIFEST: a bundle replaces the whole directory" \
	cap bundle --env dev --service web --out "$T/mine"
is "its files are untouched" "$(ls -A "$T/mine") $(cat "$T/mine/notes.txt")" "notes.txt my notes"
echo "somebody else's manifest" >"$T/foreign/MANIFEST"
refuses "nor one whose MANIFEST is not capstan's" 1 "holds files but no capstan MANIFEST" \
	cap bundle --env dev --service web --out "$T/foreign"
ln -s "$B/etcd/MANIFEST" "$T/linked/MANIFEST"
refuses "nor one whose MANIFEST is a link to a bundle's" 1 "holds files but no capstan MANIFEST" \
	cap bundle --env dev --service web --out "$T/linked"
is "no temporary directory is left beside them" "$(ls -A "$T" | grep -c capstan-bundle)" 0
check "an empty directory takes a bundle" cap bundle --env dev --service web --out "$T/empty"
check "which is there" test -s "$T/empty/MANIFEST"

# Clearing a dead run's temporary directories never follows a planted link,
# nor removes another user's directory.
mkdir "$T/precious-dir" && echo keep >"$T/precious-dir/file"
ln -s "$T/precious-dir" "$B/.capstan-bundle-4000000-x"
if [ "$(id -u)" = 0 ]; then
	mkdir "$B/.capstan-bundle-4000001-y" && echo keep >"$B/.capstan-bundle-4000001-y/file"
	chown -R nobody "$B/.capstan-bundle-4000001-y"
fi
mkdir "$B/.capstan-bundle-4000002-z" && echo stale >"$B/.capstan-bundle-4000002-z/key.pem"
check "bundle beside planted temporary names" cap bundle --env dev --service etcd --out "$B/etcd"
is "the directory a planted link points to keeps its file" "$(cat "$T/precious-dir/file")" keep
check "the link itself is left" test -L "$B/.capstan-bundle-4000000-x"
if [ "$(id -u)" = 0 ]; then
	is "another user's directory keeps its file" "$(cat "$B/.capstan-bundle-4000001-y/file")" keep
	rm -rf "$B/.capstan-bundle-4000001-y"
fi
check_fails "a dead run's own directory is cleared" test -e "$B/.capstan-bundle-4000002-z"
rm -f "$B/.capstan-bundle-4000000-x"

# Refusals leave the previous bundle as it was.
cp -a "$B/etcd" "$T/etcd-before"
refuses "an unknown service" 1 "no service 'nginx' in environment 'dev': applying the configuration records it" \
	cap bundle --env dev --service nginx --out "$B/etcd"
cap revoke etcd-2 --env dev >/dev/null
# One revoked line does not hold back the rest of the service: it is left out, and said.
check "a service with a revoked certificate still renders" cap bundle --env dev --service etcd --out "$B/etcd-rev"
like "the revoked line is named on stderr" "$(cat "$T/err")" "^capstan: warning: dev/etcd: 'etcd-2' is left out: it has no valid certificate \(revoked\)"
is "without its files" "$(ls "$B/etcd-rev" | grep -c '^etcd-2')" 0
check "the others are there" test -s "$B/etcd-rev/etcd-1.pem"
check "the previous bundle is intact" diff -r "$T/etcd-before" "$B/etcd"
refuses "--tar without --prefix" 2 "--tar needs --prefix" cap bundle --env dev --service etcd --tar "$T/x.tgz"
refuses "a prefix with spaces" 2 "must be an absolute path of letters" cap bundle --env dev --service etcd --out "$T/x" --prefix "/etc/my tls"
secret_file "$T/badpw" 'p&ss<word>'
refuses "a password that cannot go into configuration files" 1 "letters, digits and" \
	cap bundle --env dev --service spark --out "$T/x" --password-file "$T/badpw"
check "a given password is used everywhere" cap bundle --env dev --service spark --out "$B/spark2" --password-file <(echo given-pass-123)
is "in the password file" "$(cat "$B/spark2/spark-node.password")" given-pass-123
cap apply --config "$dir/data/capstan.yaml" --env dev >/dev/null

# From renewal to redeploy: renew --due --bundle-dir --exec.
mkdir -p "$T/deploy"
faketime -f +70d "$CAPSTAN" --passphrase-file "$PASS" renew --due --env dev --bundle-dir "$T/deploy" \
	--exec 'echo "$CAPSTAN_ENV $CAPSTAN_SERVICE $CAPSTAN_RENEWED" >> "'"$T"'/hook.log"; test -s "$CAPSTAN_BUNDLE/MANIFEST"' \
	>"$T/out" 2>"$T/err"
is "renew --due with a hook exits 0" "$?" 0
is "the hook ran once per service" "$(sort "$T/hook.log" | cut -d' ' -f1,2 | tr '\n' ',')" "dev alluxio,dev etcd,dev hdfs,dev spark,dev web,"
is "with the renewed names" "$(grep ' etcd ' "$T/hook.log" | cut -d' ' -f3- | tr ' ' '\n' | sort | tr '\n' ' ')" "etcd-1 etcd-2 root "
is "each bundle is in DIR/ENV/SERVICE" "$(ls "$T/deploy/dev" | tr '\n' ' ')" "alluxio etcd hdfs spark web "
is "with the renewed serial" "$(awk '/^cert etcd-1 /{print $4}' "$T/deploy/dev/etcd/MANIFEST")" \
	"$(faketime -f +70d "$CAPSTAN" --json show etcd-1 --env dev | jq -r .serial)"
check "a second run has nothing to do" faketime -f +70d "$CAPSTAN" --passphrase-file "$PASS" renew --due --env dev \
	--bundle-dir "$T/deploy" --exec false
is "and says nothing" "$(cat "$T/out" "$T/err")" ""
refuses "--exec without --bundle-dir" 2 "--exec needs --bundle-dir" cap renew --due --exec true

# A service of more certificates than the old cap of 64: bundled whole.
{ echo 'environments: { many: {} }'; echo 'services:'; echo '  fleet:'; echo '    template: etcd'; echo '    certs:'
  for i in $(seq 1 100); do echo "      - { name: m$i, profile: peer, dns: [m$i.internal] }"; done; } >"$T/many.yaml"
cap apply --config "$T/many.yaml" >/dev/null
check "a service of 100 certificates bundles" cap bundle --env many --service fleet --out "$B/fleet"
is "a key and a certificate for each" "$(ls "$B/fleet" | grep -cE '^m[0-9]+-key\.pem$') $(ls "$B/fleet" | grep -cE '^m[0-9]+\.env$')" "100 100"

# Which services name a certificate is a table of its own, filled by apply and,
# for an inventory from before it (schema 7), by the migration.
if on_pg; then
	members() { db_sql "SELECT string_agg(e.name || '/' || s.service || '/' || s.cert, ' ' ORDER BY s.env_id, s.service, s.cert) FROM service_certs s JOIN envs e ON e.id = s.env_id"; }
	back_to_7="COMMENT ON TABLE meta IS '7'"
else
	members() { db_sql "SELECT group_concat(e.name || '/' || service || '/' || cert, ' ') FROM (SELECT * FROM service_certs ORDER BY env_id, service, cert) JOIN envs e ON e.id = env_id"; }
	back_to_7="PRAGMA user_version = 7"
fi
want=$(members)
like "apply records each service's certificates" "$want" "dev/etcd/etcd-1 dev/etcd/etcd-2 dev/etcd/root"
# (The audit columns of schema 10, the table of schema 11, the token key
# URIs of schema 13 and the policies of 14 go too; the log is not read again here.)
db_sql "DROP TABLE service_certs; ALTER TABLE audit DROP COLUMN v; ALTER TABLE audit DROP COLUMN state;
	DROP TABLE ocsp_responders; ALTER TABLE keys DROP COLUMN uri; DROP TABLE policies;
	$back_to_7"
check "an inventory of schema 7 opens" cap list --env dev
is "and the migration fills the table from the services" "$(members)" "$want"

done_testing
