#!/usr/bin/env bash
# The install script make generates must hold what
# src/sql/current holds. Removing a file from src/sql/current (git rm, or a
# checkout of a branch without it) leaves every remaining source older than
# customer_profile--<version>.sql, so make keeps the stale script with the
# removed file's objects, and scripts/regress.sh installs it. Exit 0 when the
# regenerated script no longer contains the removed file.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pg_config=${CP_PG_BIN:+$CP_PG_BIN/pg_config}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "file://$root" "$work/repo" && cd "$work/repo" || exit 2
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" customer_profile.control)
script=customer_profile--$version.sql
make -s "$script" ${pg_config:+PG_CONFIG=$pg_config} >/dev/null 2>&1 || exit 2
last=$(ls src/sql/current/*.sql | tail -1)
grep -q "^-- $last\$" "$script" || exit 2
sleep 1
git rm -q "$last"
make -s "$script" ${pg_config:+PG_CONFIG=$pg_config} >/dev/null 2>&1
if grep -q "^-- $last\$" "$script"; then
    echo "FAILED: $script still holds $last after it was removed"; exit 1
fi
echo "ok: $script regenerated without $last"
