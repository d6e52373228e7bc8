#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build, the tests and the demo need and this
# machine lacks. As root it runs apt-get; otherwise it names what is missing and fails.
set -euo pipefail

packages=(
	gcc make pkg-config perl            # build, and prove for the TAP tests
	man-db binutils                     # the installed man page rendered, nm on the objects (t0900)
	libssl-dev openssl                  # OpenSSL 3: the library and the verifier the tests use
	libsqlite3-dev sqlite3              # the inventory, and the shell to inspect it in tests
	libpq-dev                           # the inventory on PostgreSQL (its driver; the server, below, for tests)
	libjansson-dev                      # --json output
	libyaml-dev                         # the YAML configuration
	libarchive-dev                      # bundle --tar
	libcmocka-dev                       # unit tests
	gnutls-bin                          # certtool, the second verifier
	jq                                  # reading --json output in tests
	python3                             # a pseudo-terminal for the prompt test
	prometheus                          # promtool checks the metrics file
	openjdk-17-jdk-headless             # keytool and a Java TLS handshake check the keystores
	etcd-server etcd-client             # a real etcd cluster started from a bundle
	libevent-dev                        # serve's HTTP server (evhttp over bufferevent_openssl)
	libcurl4-openssl-dev                # fetch's HTTPS client (libcurl's OpenSSL build)
	nginx-light curl                    # a real nginx checking client certificates against the CRLs
	postgresql                          # a real PostgreSQL server doing the same (ssl_crl_file)
	python3-yaml                        # parsing the Kubernetes Secret in tests
	libxml2-utils                       # xmllint checks the Hadoop XML
	faketime                            # time travel in tests
	clang-14 libclang-rt-14-dev         # libFuzzer targets (make fuzz), run briefly by make test
	valgrind                            # make valgrind: the end-to-end suite under memcheck
	pkcs11-provider softhsm2 opensc     # CA keys in a token: OpenSSL's provider, a software token, pkcs11-tool
	easy-rsa                            # a real easy-rsa PKI for import to adopt (t2700)
	golang-go                           # Go's crypto/x509, the third nameConstraints verifier (t2800)
)

# make bench adds the peers it measures against.
if [ "${1:-}" = bench ]; then
	packages+=(golang-cfssl bc time curl)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# pkcs11-provider is not in bookworm's main suite but in bookworm-backports (1.0), which
# Debian's servers already serve: that suite is added, pinned so that only pkcs11-provider
# comes from it (500) and nothing else is upgraded from it unasked (100).
if [[ " ${missing[*]} " == *" pkcs11-provider "* ]] && grep -q '^VERSION_CODENAME=bookworm' /etc/os-release &&
	[ ! -e /etc/apt/sources.list.d/capstan-backports.sources ]; then
	cat > /etc/apt/sources.list.d/capstan-backports.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
	cat > /etc/apt/preferences.d/capstan-backports <<'PIN'
Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: pkcs11-provider
Pin: release n=bookworm-backports
Pin-Priority: 500
PIN
fi
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
