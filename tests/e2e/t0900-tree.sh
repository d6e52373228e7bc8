#!/usr/bin/env bash
# The architecture holds, checked on what was built as well as on the source:
# lib/ is in layer folders whose calls run one way (down) with no two files
# calling each other; each dependency stays in its own files; the tool is a
# client of the public API only; the shared library exports that API and
# nothing else; and `make install` gives a third party a library, a header
# and a pkg-config file that build a program issuing a certificate.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
# (make e2e-pg: $CAPSTAN is pg-capstan.sh, which runs the one built)
BUILD_DIR=$(dirname "${CAPSTAN_E2E_REAL:-$CAPSTAN}")
case $CAPSTAN in */scripts/*) BUILD_DIR=$top/build ;; esac # the valgrind wrapper
OBJ=$BUILD_DIR/obj

# The layers, bottom to top, and the rank of each: a file may call a file of a
# lower rank or of its own folder. crypto and store share a rank: neither may
# call the other. (lib/base/base.h says the same to a reader.)
declare -A RANK=([base]=0 [crypto]=1 [store]=1 [ca]=2 [deploy]=3 [api]=4 [serve]=5 [fetch]=5)
layer_of() { local p=${1#*lib/}; echo "${p%%/*}"; }

is "every library file is in a layer folder" "$(find lib -maxdepth 1 -type f | sort)" ""
is "every layer folder is a known layer" \
	"$(for d in lib/*/; do d=${d%/}; [ -n "${RANK[${d#lib/}]:-}" ] || echo "$d"; done)" ""
is "each layer below the top has its one interface header" \
	"$(for l in base crypto store ca; do [ -f "lib/$l/$l.h" ] || echo "lib/$l/$l.h"; done)" ""

# Includes: another layer only through its interface header, and only a lower one.
include_violations() {
	local f inc l il
	for f in lib/*/*.[ch]; do
		l=$(layer_of "$f")
		while read -r inc; do
			il=${inc%%/*}
			if [ "$inc" != "$il/$il.h" ]; then
				echo "$f includes $inc, not the layer's interface $il/$il.h"
			elif [ "$il" != "$l" ] && [ "${RANK[$il]}" -ge "${RANK[$l]}" ]; then
				echo "$f ($l) includes $inc from a layer that is not below it"
			fi
		done < <(sed -n 's/^#include "\([a-z]*\/[a-z_0-9]*\.h\)".*/\1/p' "$f")
	done
}
is "a layer includes only the interface of a layer below it" "$(include_violations)" ""

# Calls, from the object files: who defines each symbol, and who uses it.
lib_objs=$(find "$OBJ/lib" -name '*.o' | sort)
check "the library's objects are there" test -n "$lib_objs"
declare -A DEF=()
for o in $lib_objs; do
	while read -r _ type sym; do DEF[$sym]=$o; done < <(nm --defined-only "$o" | awk '$2 ~ /^[TDBRC]$/')
done
edges=$T/edges
: >"$edges"
call_violations() {
	local o f callee lf lc
	for o in $lib_objs; do
		f=${o#"$OBJ/"}; lf=$(layer_of "$f")
		while read -r _ sym; do
			callee=${DEF[$sym]:-}
			[ -n "$callee" ] && [ "$callee" != "$o" ] || continue
			callee=${callee#"$OBJ/"}; lc=$(layer_of "$callee")
			echo "${f%.o} ${callee%.o}" >>"$edges"
			if [ "$lc" != "$lf" ] && [ "${RANK[$lc]}" -ge "${RANK[$lf]}" ]; then
				echo "${f%.o} ($lf) calls $sym in ${callee%.o} ($lc)"
			fi
		done < <(nm -u "$o")
	done
}
is "no library file calls a function of a layer above it, or beside it" "$(call_violations | sort -u)" ""
check "the call graph between files has edges (the check above saw calls)" test -s "$edges"
is "no two library files call each other, directly or round a cycle" \
	"$(sort -u "$edges" | tsort 2>&1 >/dev/null | sed -n 's/^tsort: //p')" ""

# Each dependency in its own files: rules, not lists of today's files.
outside() { # outside PATTERN DIR...: files including PATTERN anywhere but under DIRs
	local pat=$1; shift
	grep -rlE "$pat" lib cmd include | grep -vE "^($(IFS='|'; echo "$*"))" | sort
}
# SQLite is the store's driver's (db.h): the store's other files reach it
# through the driver, and store_internal.h is the unit tests' view of it.
is "only the SQLite driver includes sqlite3.h" \
	"$(outside '#include <sqlite3.h>' lib/store/db_sqlite.c lib/store/store_internal.h)" ""
is "only the PostgreSQL driver includes libpq-fe.h" "$(outside '#include <libpq' lib/store/db_pg_impl.h)" ""
is "and only the driver's files its insides (db_pg_impl.h)" "$(outside '"db_pg_impl.h"' lib/store/db_pg.c lib/store/db_pg_conn.c)" ""
is "each engine's dialect stays in its driver: none in the store's shared SQL" \
	"$(grep -lE 'PRAGMA|INDEXED BY|NOT INDEXED|CROSS JOIN|user_version|pg_advisory|BYTEA|plpgsql' lib/store/store*.c)" ""
is "no library file includes the unit tests' view of the store" \
	"$(grep -rl '"store_internal.h"' lib cmd include | sort)" ""
is "the store's driver interface stays in the store" "$(outside '"db.h"' lib/store/)" ""
is "only the crypto layer includes OpenSSL" "$(outside '#include <openssl/' lib/crypto/)" ""
is "only the config loader includes yaml.h" "$(outside '#include <yaml.h>' lib/deploy/config.c lib/deploy/config_walk.h)" ""
is "and only the loader's files its walker (config_walk.h)" "$(outside '"config_walk.h"' lib/deploy/config)" ""
is "only the tar writer and reader includes libarchive" "$(outside '#include <archive' lib/deploy/tar.c)" ""
is "jansson is the tool's, the API's (JSON bodies) and fetch's renewal (its 201 body)" \
	"$(outside '#include <jansson.h>' cmd/ lib/api/ lib/fetch/renew.c)" ""
is "only the HTTP server includes libevent" "$(outside '#include <event2/' lib/serve/)" ""
is "only the HTTP client (lib/fetch) includes libcurl" "$(outside '#include <curl/' lib/fetch/http.c)" ""
is "the store's insides stay in the store" "$(outside '"store_impl.h"' lib/store/)" ""
is "OpenSSL's types shared by the crypto files stay there" "$(outside '"crypto_internal.h"' lib/crypto/)" ""
is "the tool includes no library internals" \
	"$(grep -h '#include "' cmd/capstan/*.c cmd/capstan/*.h | sort -u | tr '\n' ' ')" '#include "cli.h" '
is "the library never prints" \
	"$(grep -rnE '\b(printf|puts|perror)\(|fprintf\((stdout|stderr)|fputs\([^;]*(stdout|stderr)' lib)" ""
is "no banned calls (atoi, strcpy, sprintf, strtok, gmtime)" \
	"$(grep -rnE '\b(atoi|atol|strcpy|strcat|sprintf|vsprintf|strtok|gmtime|localtime)\(' lib cmd)" ""

# The library's compile flags leave OpenSSL's deprecated API undeclared: a
# call to one (RSA_new) does not build with them, and does without them.
printf '#include <openssl/rsa.h>\nvoid *f(void) { return RSA_new(); }\n' >"$T/deprecated.c"
lib_cflags=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory print-lib-cflags)
check_fails "a deprecated OpenSSL call does not build with the library's flags" \
	bash -c "cc $lib_cflags -c -o '$T/d.o' '$T/deprecated.c' 2>/dev/null"
check "and does without them (the check above can fail)" cc -w -c -o "$T/d.o" "$T/deprecated.c"

# The tool is a client of the public API: every library symbol its objects use
# is one the shared library exports.
declared=$(cat include/capstan/*.h | tr -s ' \t\n' ' ' | grep -oE '\bcapstan_[a-z0-9_]+ ?\(' | tr -d ' (' | sort -u)
exported=$(nm -D --defined-only "$BUILD_DIR/libcapstan.so" | awk '{print $3}' | sort -u)
is "the shared library exports exactly the functions the public headers declare" \
	"$(diff <(echo "$declared") <(echo "$exported"))" ""
tool_uses=$(for o in "$OBJ"/cmd/capstan/*.o; do nm -u "$o" | awk '{print $2}'; done | sort -u |
	while read -r s; do [ -n "${DEF[$s]:-}" ] && echo "$s"; done)
check "the tool uses the library" test -n "$tool_uses"
is "the tool calls nothing the library does not export" "$(comm -23 <(echo "$tool_uses") <(echo "$exported"))" ""

# A third party builds against the installed library. A plain build, whatever
# the suite runs under (MAKEFLAGS may carry SANITIZE=1).
P=$T/prefix
check "make install into a prefix" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE -u BUILD \
	make -s install PREFIX="$P"
like "the shared library has its soname" "$(readelf -d "$P/lib/libcapstan.so" | grep SONAME)" \
	'\[libcapstan\.so\.[0-9]+\]'
is "it exports only capstan_ names" "$(nm -D --defined-only "$P/lib/libcapstan.so" | awk '$3 !~ /^capstan_/')" ""
cat >"$T/client.c" <<'C'
#include <capstan/capstan.h>
#include <stdio.h>
/* Issues api.internal in a new environment of the home argv[1], unlocked
 * with the passphrase in the file argv[2]; writes the certificate's DER.
 * argv[3], if given, names the inventory (else the home's capstan.db). */
int main(int argc, char **argv)
{
	capstan_ctx *ctx = NULL;
	capstan_secret pass = { 0 };
	capstan_cert *cert = NULL;
	capstan_init_opts env = CAPSTAN_INIT_OPTS_INIT;
	capstan_issue_opts req = CAPSTAN_ISSUE_OPTS_INIT;
	const char *dns[] = { "api.internal" };
	int rc = 1;

	env.env = req.env = "dev";
	req.cn = "api.internal", req.profile = CAPSTAN_PROFILE_SERVER, req.dns = dns, req.dns_count = 1;
	if (argc < 3 || argc > 4 || capstan_ctx_new(&ctx) < 0)
		return 2;
	if (argc == 4 && capstan_ctx_set_inventory(ctx, argv[3]) < 0)
		return 2;
	if (capstan_home_open(ctx, argv[1], CAPSTAN_OPEN_CREATE) == 0 &&
	    capstan_secret_from_file(&pass, ctx, argv[2]) == 0 && capstan_home_unlock(ctx, &pass) == 0 &&
	    capstan_env_init(NULL, NULL, ctx, &env) == 0 && capstan_issue(&cert, ctx, &req) == 0)
		rc = fwrite(cert->der, 1, cert->der_len, stdout) == cert->der_len ? 0 : 1;
	else
		fprintf(stderr, "%s\n", capstan_error_message(ctx));
	capstan_cert_free(cert);
	capstan_secret_free(&pass);
	capstan_ctx_free(ctx);
	return rc;
}
C
pc() { PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config "$@"; }
like "pkg-config knows the installed library" "$(pc --modversion capstan)" '^[0-9]+\.[0-9]+\.[0-9]+$'
# shellcheck disable=SC2046
check "a program builds with pkg-config --cflags --libs capstan" \
	cc -std=c11 -Wall -Werror -o "$T/client" "$T/client.c" $(pc --cflags --libs capstan)
like "it links the shared library" "$(readelf -d "$T/client" | grep NEEDED)" 'libcapstan\.so\.[0-9]+'
# (on PostgreSQL: into the database the tool gives that home)
check "and issues a certificate" bash -c "LD_LIBRARY_PATH='$P/lib' '$T/client' '$T/lib-home' '$PASS' $(on_pg && printf "'%s'" "$(home_url "$T/lib-home")") >'$T/api.der'"
like "a certificate OpenSSL reads" "$(openssl x509 -inform DER -in "$T/api.der" -noout -subject -ext subjectAltName 2>&1 | tr '\n' ' ')" \
	'CN *= *api\.internal.*DNS:api\.internal'
like "the tool sees what the program issued" \
	"$(CAPSTAN_HOME="$T/lib-home" "$CAPSTAN" --passphrase-file "$PASS" list --env dev)" 'api\.internal'
check "the installed header is the public API" test -f "$P/include/capstan/capstan.h"
like "the man page is installed and renders" \
	"$(LC_ALL=C MANWIDTH=80 man -l "$P/share/man/man1/capstan.1" 2>/dev/null | sed 's/.\x08//g' | sed -n 3,4p)" 'capstan +- +a +certificate +authority'
check "the installed binary runs" "$P/bin/capstan" --version

done_testing
