#!/usr/bin/env bash
# Key material never leaves without a trace: every export that holds a key
# (key, pkcs12, pem, a bundle's keys) writes an "export-key" audit row naming
# the certificate, the format and where it went, before it is written; a CA's
# own key leaves only with --ca-key, and its row says it was a CA key.
. "$(dirname "$0")/lib.sh"
dir="$(cd "$(dirname "$0")" && pwd)"
cap apply --config "$dir/data/capstan.yaml" >/dev/null || exit 1
secret_file "$T/sp" store-password
rows() { db_sql "SELECT count(*) FROM audit WHERE op = 'export-key'"; }
last() { db_sql "SELECT \"user\" || '|' || op || '|' || env || '|' || name || '|' || serial || '|' || detail FROM audit ORDER BY id DESC LIMIT 1"; }
serial() { "$CAPSTAN" --json show "$1" --env dev | jq -r .serial; }
me=$(id -un)

check "export --format cert" "$CAPSTAN" export etcd-1 --env dev --format cert --out "$T/c.pem"
check "export --format truststore" cap export etcd-1 --env dev --format truststore --password-file "$T/sp" --out "$T/t.p12"
is "a certificate or a truststore leaves no row" "$(rows)" 0

check "export --format key" cap export etcd-1 --env dev --format key --out "$T/k.pem"
is "it is recorded: who, what, which format, where" "$(last)" \
	"$me|export-key|dev|etcd-1|$(serial etcd-1)|format key to $T/k.pem"
check "export --format pkcs12" cap export etcd-1 --env dev --format pkcs12 --password-file "$T/sp" --out "$T/k.p12"
is "a PKCS12 is recorded" "$(last)" "$me|export-key|dev|etcd-1|$(serial etcd-1)|format pkcs12 to $T/k.p12"
cap export etcd-1 --env dev --format pem --out - >"$T/stdout.pem"
is "to stdout is recorded as such" "$(last)" "$me|export-key|dev|etcd-1|$(serial etcd-1)|format pem to stdout"
(cd "$T" && cap export etcd-1 --env dev --format key --out rel-key.pem) || not_ok "export to a relative path"
is "a relative path is recorded absolute" "$(last)" "$me|export-key|dev|etcd-1|$(serial etcd-1)|format key to $(cd "$T" && pwd)/rel-key.pem"
is "four rows" "$(rows)" 4
like "audit lists them" "$("$CAPSTAN" audit | grep -c ' export-key ')" '^4$'
is "in aligned columns (the environment where an issue row has it)" \
	"$("$CAPSTAN" audit | grep -E ' (issue|export-key) +dev ' | awk '{ print index($0, " dev ") }' | sort -u | wc -l)" 1

# A CA's key: refused without the flag, nothing written, nothing recorded.
for ca in root-ca intermediate-ca-1; do
	for f in key pkcs12 pem; do
		refuses "export of $ca's key as $f is refused" 1 "'$ca' is the (root|intermediate) CA .*not exported.*\(--ca-key\)" \
			cap export "$ca" --env dev --format "$f" --password-file "$T/sp" --out "$T/ca-$f"
		check_fails "and $T/ca-$f is not written" test -e "$T/ca-$f"
	done
done
check "a CA's certificate still exports without it" "$CAPSTAN" export root-ca --env dev --format cert --out "$T/root.pem"
check "export --ca-key of the root's key" cap export root-ca --env dev --format key --ca-key --out "$T/root-key.pem"
check "the file is the root's key" bash -c "openssl pkey -in '$T/root-key.pem' -pubout | cmp - <(openssl x509 -in '$T/root.pem' -noout -pubkey)"
is "0600" "$(stat -c %a "$T/root-key.pem")" 600
is "the row says it is the root CA's key" "$(last)" \
	"$me|export-key|dev|root-ca|$(serial root-ca)|root CA key, format key to $T/root-key.pem"
check "export --ca-key of the intermediate's key" cap export intermediate-ca-1 --env dev --format pkcs12 --ca-key \
	--password-file "$T/sp" --out "$T/int.p12"
is "the row says it is an intermediate CA's key" "$(last)" \
	"$me|export-key|dev|intermediate-ca-1|$(serial intermediate-ca-1)|intermediate CA key, format pkcs12 to $T/int.p12"

# A bundle: one row per key it holds, naming the bundle's service and where it went.
before=$(rows)
check "bundle --out" cap bundle --env dev --service etcd --out "$T/b/etcd"
keys=$(grep -c '^cert ' "$T/b/etcd/MANIFEST")
is "a row per key in the bundle" "$(( $(rows) - before ))" "$keys"
is "naming the certificate, the service and the directory" \
	"$(db_sql "SELECT name || ' ' || serial || ' ' || detail FROM audit WHERE op = 'export-key' AND name = 'etcd-1' ORDER BY id DESC LIMIT 1")" \
	"etcd-1 $(serial etcd-1) bundle of service etcd, format key, to $T/b/etcd"
check "a bundle with keystores" cap bundle --env dev --service spark --password-file "$T/sp" --out "$T/b/spark"
like "says so" "$(last)" "\|bundle of service spark, format key and pkcs12, to $T/b/spark$"
before=$(rows)
check "bundle --tar" cap bundle --env dev --service etcd --prefix /etc/etcd --tar "$T/etcd.tar.gz"
is "records each key too" "$(( $(rows) - before ))" "$keys"
like "to the archive" "$(last)" "\|bundle of service etcd, format key, to $T/etcd.tar.gz$"

check "the audit chain is intact" cap audit --verify
like "with every row" "$(cat "$T/out")" "^audit log intact: [0-9]+ rows; its end matches its seal$"

done_testing
