#!/usr/bin/env bash
# CRLs that real consumers read. nginx (ssl_crl), PostgreSQL (ssl_crl_file) and
# openssl verify -crl_check_all want a CRL for every CA below the root: with
# the intermediate's CRL alone they find none for the intermediate itself and
# refuse every client. crl --all adds each trusted root's CRL; with it a valid
# client gets in and a revoked one does not, before and after CA rotations.
. "$(dirname "$0")/lib.sh"

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
for tool in nginx curl psql "$pgbin/postgres"; do
	if ! command -v "$tool" >/dev/null; then
		not_ok "$tool is installed (scripts/deps.sh: nginx-light curl postgresql)"
		done_testing
		exit 1
	fi
done

cap init --env dev >/dev/null || exit 1
trust=$(trust_of dev)
cap issue --env dev --profile server --cn localhost --dns localhost --ip 127.0.0.1 >/dev/null
cap export localhost --format chain --out "$T/server.chain" >/dev/null
cap export localhost --format key --out "$T/server.key" >/dev/null
client() {
	cap issue --env dev --profile client --cn "$1" >/dev/null &&
		cap export "$1" --format chain --out "$T/$1.chain" >/dev/null &&
		cap export "$1" --format key --out "$T/$1.key" >/dev/null
}
for n in alice mallory carol; do client "$n" || exit 1; done
cap revoke mallory >/dev/null

# The issuers of the CRLs in a PEM file, one a line.
crl_issuers() {
	awk -v out="$T/one-crl" '/BEGIN X509 CRL/ { n++ } { print > (out "." n) }' "$1"
	for f in "$T"/one-crl.*; do openssl crl -in "$f" -noout -issuer; done
	rm -f "$T"/one-crl.*
}
check "crl --all" cap crl --env dev --all --out "$T/all.pem"
is "the intermediate's CRL, then the root's" "$(crl_issuers "$T/all.pem" | tr '\n' '|')" \
	"issuer=CN = dev Intermediate CA 1|issuer=CN = dev Root CA|"
awk '/BEGIN X509 CRL/ { n++ } n == 2' "$T/all.pem" >"$T/root-crl.pem"
check "the root's CRL is signed by the root" openssl crl -in "$T/root-crl.pem" -noout -CAfile "$trust"
like "and lists no intermediate" "$(openssl crl -in "$T/root-crl.pem" -noout -text)" "No Revoked Certificates"
check "crl without --all" cap crl --env dev --out "$T/inter.pem"
is "is the intermediate's alone, as before" "$(crl_issuers "$T/inter.pem")" "issuer=CN = dev Intermediate CA 1"
refuses "--all with --der" 2 "--all writes several CRLs: PEM only" cap crl --env dev --all --der --out "$T/all.der"

# openssl verify -crl_check_all, the check nginx and PostgreSQL make.
ossl() { openssl verify -crl_check_all -CAfile "$trust" -untrusted "$T/$1.chain" -CRLfile "$2" "$T/$1.chain"; }
check "openssl -crl_check_all accepts a valid client with crl --all" ossl alice "$T/all.pem"
check_fails "and refuses the revoked one" ossl mallory "$T/all.pem"
like "as revoked" "$(cat "$T/out" "$T/err")" "certificate revoked"
check_fails "with the intermediate's CRL alone it refuses the valid client too" ossl alice "$T/inter.pem"
like "for want of the root's CRL" "$(cat "$T/out" "$T/err")" "unable to get certificate CRL"

# nginx: one server per CRL file, each on its own port.
pids=()
pg=""
cleanup() {
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
	wait 2>/dev/null
	if [ -n "$pg" ]; then
		setpriv --reuid=capstan-test --regid=capstan-test --init-groups \
			"$pgbin/pg_ctl" -D "$pg/data" stop -m immediate >/dev/null 2>&1
		rm -rf "$pg"
	fi
	rm -rf "$T"
}
trap cleanup EXIT
port=$(( 40000 + (RANDOM % 1000) * 10 ))
# start_nginx NAME CRLFILE: an nginx requiring client certificates, on the next port.
start_nginx() {
	local d="$T/nginx-$1"
	port=$((port + 1))
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<-EOF
	worker_processes 1;
	error_log $d/error.log info;
	events { worker_connections 64; }
	http {
	    access_log off;
	    server {
	        listen 127.0.0.1:$port ssl;
	        ssl_certificate $T/server.chain;
	        ssl_certificate_key $T/server.key;
	        ssl_verify_client on;
	        ssl_client_certificate $trust;
	        ssl_crl $2;
	        ssl_verify_depth 2;
	        location / { return 200 "hello \$ssl_client_s_dn\n"; }
	    }
	}
	EOF
	nginx -e "$d/error.log" -c "$d/nginx.conf" -p "$d" -g "daemon off; pid $d/nginx.pid;" 2>"$d/stderr" &
	pids+=($!)
	for _ in $(seq 1 40); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$trust" "https://127.0.0.1:$port/")" != 000 ] && return 0
		sleep 0.1
	done
	diag "$d/error.log" "$d/stderr"
	return 1
}
# nginx_as NAME: the HTTP status nginx answers the client with.
nginx_as() {
	curl -s -o "$T/body" -w '%{http_code}' --max-time 5 --cacert "$trust" \
		--cert "$T/$1.chain" --key "$T/$1.key" "https://127.0.0.1:$port/"
}
check "nginx starts with crl --all" start_nginx all "$T/all.pem"
is "nginx accepts a valid client" "$(nginx_as alice)" 200
is "and knows who it is" "$(cat "$T/body")" "hello CN=alice"
is "nginx refuses the revoked client" "$(nginx_as mallory)" 400
like "because it is revoked" "$(cat "$T/nginx-all/error.log")" "client SSL certificate verify error: \(23:certificate revoked\)"
check "nginx starts with the intermediate's CRL alone" start_nginx inter "$T/inter.pem"
is "and refuses even the valid client" "$(nginx_as alice)" 400
like "for want of the root's CRL" "$(cat "$T/nginx-inter/error.log")" "\(3:unable to get certificate CRL\)"

# PostgreSQL refuses to run as root: an unprivileged user runs a throwaway server.
id -u capstan-test >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin capstan-test
as_pg() { setpriv --reuid=capstan-test --regid=capstan-test --init-groups "$@"; }
pg=$(mktemp -d /tmp/capstan-pg.XXXXXX)
chown capstan-test: "$pg"
pgport=$(( port + 100 ))
cp "$T/server.chain" "$T/server.key" "$trust" "$pg/" && cp "$T/all.pem" "$pg/crl.pem"
chown capstan-test: "$pg"/* && chmod 600 "$pg/server.key"
if ! as_pg "$pgbin/initdb" -D "$pg/data" -U postgres -A reject --auth-local=trust >"$T/initdb.log" 2>&1; then
	not_ok "initdb"; diag "$T/initdb.log"; done_testing; exit 1
fi
cat >>"$pg/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pgport
unix_socket_directories = '$pg'
ssl = on
ssl_cert_file = '$pg/server.chain'
ssl_key_file = '$pg/server.key'
ssl_ca_file = '$pg/$(basename "$trust")'
ssl_crl_file = '$pg/crl.pem'
EOF
printf 'local all postgres trust\nhostssl all all 127.0.0.1/32 cert clientcert=verify-full\n' >"$pg/data/pg_hba.conf"
# pg_crl FILE: the server's CRL file, read again by a restart.
pg_crl() {
	cp "$1" "$pg/crl.pem" && chown capstan-test: "$pg/crl.pem" &&
		as_pg "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/log" -w -t 30 restart -m fast >/dev/null
}
check "PostgreSQL starts with ssl_crl_file from crl --all" \
	as_pg "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/log" -w -t 30 start
for n in alice mallory carol dave eve; do
	psql -h "$pg" -p "$pgport" -U postgres -XAtqc "CREATE ROLE $n LOGIN" postgres >/dev/null
done
pg_as() {
	psql "host=127.0.0.1 port=$pgport dbname=postgres user=$1 sslmode=verify-full sslrootcert=$trust sslcert=$T/$1.chain sslkey=$T/$1.key" \
		-XAtc 'SELECT current_user'
}
is "PostgreSQL lets the valid client in" "$(pg_as alice 2>&1)" alice
check_fails "and refuses the revoked one" pg_as mallory
like "as revoked" "$(cat "$T/err")" "certificate revoked"
check "PostgreSQL restarts with the intermediate's CRL alone" pg_crl "$T/inter.pem"
check_fails "and refuses even the valid client" pg_as alice
like "the server could not check the intermediate" "$(cat "$pg/log")" "unable to get certificate CRL|certificate verify failed"

# After an intermediate rotation, a revocation under each intermediate.
cap rotate --env dev --intermediate >/dev/null || exit 1
for n in dave eve; do client "$n" || exit 1; done
cap revoke carol >/dev/null && cap revoke eve >/dev/null
check "crl --all after the rotation" cap crl --env dev --all --out "$T/rotated.pem"
is "both intermediates' CRLs, the current one first, and the root's" "$(crl_issuers "$T/rotated.pem" | tr '\n' '|')" \
	"issuer=CN = dev Intermediate CA 2|issuer=CN = dev Intermediate CA 1|issuer=CN = dev Root CA|"
check "nginx starts with them" start_nginx rotated "$T/rotated.pem"
check "PostgreSQL restarts with them" pg_crl "$T/rotated.pem"
for n in alice dave; do
	check "openssl accepts $n" ossl "$n" "$T/rotated.pem"
	is "nginx accepts $n" "$(nginx_as "$n")" 200
	is "PostgreSQL accepts $n" "$(pg_as "$n" 2>&1)" "$n"
done
for n in carol eve; do
	check_fails "openssl refuses $n" ossl "$n" "$T/rotated.pem"
	is "nginx refuses $n" "$(nginx_as "$n")" 400
	check_fails "PostgreSQL refuses $n" pg_as "$n"
	like "as revoked" "$(cat "$T/err")" "certificate revoked"
done

# During a root rotation the old root is still trusted, and publishes its CRL too.
cap rotate --env dev --root >/dev/null || exit 1
client frank || exit 1
trust2=$(trust_of dev)
is "two roots are trusted" "$(grep -c 'BEGIN CERTIFICATE' "$trust2")" 2
check "crl --all after the root rotation" cap crl --env dev --all --out "$T/roots.pem"
is "three intermediates' CRLs and both roots'" "$(crl_issuers "$T/roots.pem" | tr '\n' '|')" \
	"issuer=CN = dev Intermediate CA 3|issuer=CN = dev Intermediate CA 2|issuer=CN = dev Intermediate CA 1|issuer=CN = dev Root CA 2|issuer=CN = dev Root CA|"
ossl2() { openssl verify -crl_check_all -CAfile "$trust2" -untrusted "$T/$1.chain" -CRLfile "$T/roots.pem" "$T/$1.chain"; }
check "openssl accepts a client of the old root" ossl2 alice
check "and one of the new root" ossl2 frank
check_fails "and still refuses the revoked one" ossl2 eve
check "capstan check is clean" cap check

done_testing
