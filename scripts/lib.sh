# Shared helpers for scripts/test.sh, scripts/demo.sh and bench/run.sh.
# Source it; it installs what is missing and can run a throwaway cluster.

set -euo pipefail

PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# CP_PG_BIN selects another (relocated) PostgreSQL 15 installation, so that
# several checkouts can install and test side by side.
PG_BIN=${CP_PG_BIN:-/usr/lib/postgresql/15/bin}
REQUIRED_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-contrib libpqxx-dev libipc-run-perl
    libphonenumber-dev libre2-dev libicu-dev libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev cmake g++ make pkg-config clang-format
    clang libclang-rt-14-dev)

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages the build and the tests need, if missing.
ensure_packages() {
    local missing=() extra=("$@")
    for p in "${REQUIRED_PACKAGES[@]}" "${extra[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        # The server is upgraded with the headers: a fresh machine may carry an
        # older minor than the postgresql-server-dev-15 apt brings.
        missing+=(postgresql-15 postgresql-client-15)
        echo "== installing: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    export PATH="$PG_BIN:$PATH"
}

# Builds and installs the extension into the server's directories.
build_and_install() {
    make -C "$PROJECT_ROOT" -j2 WERROR=1 PG_CONFIG="$PG_BIN/pg_config" >/dev/null
    as_root make -C "$PROJECT_ROOT" install PG_CONFIG="$PG_BIN/pg_config" >/dev/null
}

# The unprivileged account that owns the throwaway cluster.
cluster_user() {
    if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

as_cluster_user() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts a throwaway cluster on a private socket directory and port.
# Exports PGHOST, PGPORT, PGUSER, PGDATABASE; stop_cluster undoes it.
start_cluster() {
    local extra_conf=${1:-}
    CLUSTER_DIR=$(mktemp -d /tmp/customer_profile.XXXXXX)
    chmod 755 "$CLUSTER_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$CLUSTER_DIR"
    export PGHOST=$CLUSTER_DIR PGPORT=${CP_TEST_PORT:-54329} PGUSER=$(cluster_user) PGDATABASE=postgres
    as_cluster_user "$PG_BIN/initdb" -D "$CLUSTER_DIR/data" -A trust -U "$PGUSER" --no-sync >/dev/null
    cat >>"$CLUSTER_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$CLUSTER_DIR'
port = $PGPORT
fsync = off
max_connections = 50
$extra_conf
CONF
    as_cluster_user "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w start >/dev/null
    trap stop_cluster EXIT
}

stop_cluster() {
    if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR/data" ]; then
        as_cluster_user "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$CLUSTER_DIR"
    fi
    CLUSTER_DIR=
}
