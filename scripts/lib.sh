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
    make -C "$PROJECT_ROOT" -j"$(nproc)" WERROR=1 PG_CONFIG="$PG_BIN/pg_config" >/dev/null
    as_root make -C "$PROJECT_ROOT" install PG_CONFIG="$PG_BIN/pg_config" >/dev/null
}

# The unprivileged account that owns the throwaway cluster.
cluster_user() {
    if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# As root, from /: the project may live where the cluster user cannot enter
# (a clone in /root, mode 0700), and a PostgreSQL 15 program started from such
# a directory warns "could not change directory" on stderr after finding its
# own path, which breaks TAP's poll_query_until. Pass absolute paths.
as_cluster_user() {
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
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

# Runs TAP files of test/tap (names) with PostgreSQL::Test::Cluster, which
# refuses root: as the cluster user, from a copy of test/tap it owns. Sets
# TAP_FILES and TAP_FAILED; the prove output goes to $1 and to stdout.
#
# As root, prove starts from a directory the cluster user cannot enter, the
# way a clone in /root (mode 0700) does, so that every run meets that case:
# a PostgreSQL 15 program started there warns "could not change directory"
# on stderr, which poll_query_until reads as a failure (each poll then waits
# its whole timeout: the run took an hour).
run_tap() {
    local log=$1 tap_dir unenterable rc=0 stderr pgxs_dir files=()
    shift
    TAP_FILES=$#
    TAP_FAILED=0
    tap_dir=$(mktemp -d /tmp/customer_profile_tap.XXXXXX)
    cp -r "$PROJECT_ROOT/test/tap" "$tap_dir/"
    cp -r "$PROJECT_ROOT/docs" "$tap_dir/"  # read by 009_documentation.pl
    for f in "$@"; do files+=("$tap_dir/tap/$f"); done
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$tap_dir"
    unenterable=$(mktemp -d /tmp/customer_profile_root_only.XXXXXX)
    chmod 700 "$unenterable"
    pgxs_dir=$(dirname "$("$PG_BIN/pg_config" --pgxs)")
    # A program that writes to stderr as the cluster user fails every file
    # in seconds instead of one poll timeout after another.
    stderr=$(cd "$unenterable" && as_cluster_user "$PG_BIN/psql" --version 2>&1 >/dev/null || true)
    if [ -n "$stderr" ]; then
        echo "psql run as $(cluster_user) writes to stderr, which breaks PostgreSQL::Test::Cluster: $stderr" | tee "$log"
        rc=1
    else
        (cd "$unenterable" && as_cluster_user env PATH="$PG_BIN:$PATH" TESTDIR="$tap_dir" \
            PG_REGRESS="$pgxs_dir/../test/regress/pg_regress" \
            prove -I "$pgxs_dir/../test/perl" "${files[@]}") >"$log" 2>&1 || rc=$?
        cat "$log"
    fi
    TAP_FAILED=$(sed -n 's/^Failed \([0-9]*\)\/[0-9]* test programs.*/\1/p' "$log")
    TAP_FAILED=${TAP_FAILED:-0}
    if [ "$rc" -ne 0 ] && [ "$TAP_FAILED" -eq 0 ]; then TAP_FAILED=$TAP_FILES; fi
    if [ "$TAP_FAILED" -gt 0 ]; then
        find "$tap_dir/tmp_check/log" -name '*.log' -exec tail -30 {} \; 2>/dev/null || true
    fi
    rm -rf "$tap_dir" "$unenterable"
}
