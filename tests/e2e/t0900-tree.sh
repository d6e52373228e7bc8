#!/usr/bin/env bash
# The architecture holds: each dependency in its own files, the tool a client of
# the public API only, the library silent; and `make install` gives a third
# party a working header + library.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

is "only the store includes sqlite3.h" \
	"$(grep -l '#include <sqlite3.h>' lib/*.c lib/*.h cmd/capstan/* include/capstan/* | sort | tr '\n' ' ')" \
	"lib/store_internal.h "
is "only store*.c include the store's insides" \
	"$(grep -l '"store_internal.h"' lib/*.c | grep -v '^lib/store[a-z_]*\.c$')" ""
is "only the crypto files include OpenSSL" \
	"$(grep -l '#include <openssl/' lib/*.c lib/*.h cmd/capstan/* include/capstan/* | sort | tr '\n' ' ')" \
	"lib/chain.c lib/crl.c lib/crypto_internal.h lib/csr.c lib/jks.c lib/keys.c lib/material.c lib/material_read.c lib/ossl.c lib/pkcs12.c lib/pkcs8.c lib/x509.c "
is "only the crypto files include crypto_internal.h" \
	"$(grep -l '"crypto_internal.h"' lib/*.c | sort | tr '\n' ' ')" "lib/chain.c lib/crl.c lib/csr.c lib/jks.c lib/keys.c lib/material.c lib/material_read.c lib/ossl.c lib/pkcs12.c lib/pkcs8.c lib/x509.c "
is "only output.c (JSON out) and batch_input.c (JSON lines in) use jansson" \
	"$(grep -l '#include <jansson.h>' lib/* cmd/capstan/* include/capstan/* | tr '\n' ' ')" \
	"cmd/capstan/batch_input.c cmd/capstan/output.c "
is "only config.c includes yaml.h" "$(grep -l '#include <yaml.h>' lib/* cmd/capstan/* include/capstan/* | tr '\n' ' ')" \
	"lib/config.c "
is "only tar.c includes libarchive" "$(grep -l '#include <archive' lib/* cmd/capstan/* include/capstan/* | tr '\n' ' ')" \
	"lib/tar.c "
is "the tool includes no library internals" \
	"$(grep -h '#include "' cmd/capstan/*.c cmd/capstan/*.h | sort -u | tr '\n' ' ')" '#include "cli.h" '
is "the library never prints" \
	"$(grep -nE '\b(printf|puts|perror)\(|fprintf\((stdout|stderr)|fputs\([^;]*(stdout|stderr)' lib/*.c)" ""
is "no banned calls (atoi, strcpy, sprintf, strtok, gmtime)" \
	"$(grep -nE '\b(atoi|atol|strcpy|strcat|sprintf|vsprintf|strtok|gmtime|localtime)\(' lib/*.c cmd/capstan/*.c)" ""
is "no deprecated OpenSSL API is reachable" "$(grep -c OPENSSL_NO_DEPRECATED Makefile)" 1

# A third party builds against the installed header and library.
# A plain build, whatever the suite runs under (MAKEFLAGS may carry SANITIZE=1).
check "make install into a DESTDIR" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE -u BUILD make -s install DESTDIR="$T/dest" PREFIX=/usr
cat >"$T/client.c" <<'C'
#include <capstan/capstan.h>
#include <stdio.h>
int main(void)
{
	capstan_ctx *ctx = NULL;
	int64_t s = 0;
	if (capstan_ctx_new(&ctx) < 0 || capstan_parse_duration("2w", &s, NULL) < 0)
		return 1;
	if (capstan_home_open(ctx, "/nonexistent", CAPSTAN_OPEN_EXISTING) != CAPSTAN_ENOTFOUND)
		return 1;
	printf("%lld %s\n", (long long)s, capstan_error_message(ctx));
	capstan_ctx_free(ctx);
	return 0;
}
C
check "a program builds against the installed API" \
	cc -std=c11 -Wall -Werror -I"$T/dest/usr/include" -o "$T/client" "$T/client.c" \
	"$T/dest/usr/lib/libcapstan.a" -lcrypto -lsqlite3
like "and runs" "$("$T/client")" "^1209600 no inventory in '/nonexistent'"
check "the man page is installed and renders" bash -c "man -l '$T/dest/usr/share/man/man1/capstan.1' >/dev/null 2>&1 || test -s '$T/dest/usr/share/man/man1/capstan.1'"
check "the installed binary runs" "$T/dest/usr/bin/capstan" --version

done_testing
