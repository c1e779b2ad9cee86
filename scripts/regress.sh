#!/usr/bin/env bash
# Quick loop while developing: builds, installs, starts a throwaway cluster
# and runs only the named pg_regress tests and isolation specs, e.g.
#   bash scripts/regress.sh behavior erasure          # regress tests (setup is added)
#   bash scripts/regress.sh all                       # every regress test and isolation spec
#   ISOLATION="refresh_vs_erasure" bash scripts/regress.sh   # isolation specs only
# CP_PG_BIN and CP_TEST_PORT select the installation and port (scripts/lib.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_packages
cd "$PROJECT_ROOT"
build_and_install
start_cluster
rc=0
if [ "${1:-}" = all ]; then
    make -s installcheck PG_CONFIG="$PG_BIN/pg_config" || rc=$?
elif [ $# -gt 0 ]; then
    tests="setup"
    # In the order of the full run: the suites share one database.
    for t in $(printf "%s\n" "$@" | sort); do [ "$t" != setup ] && tests="$tests $t"; done
    make -s installcheck REGRESS="$tests" ISOLATION= PG_CONFIG="$PG_BIN/pg_config" || rc=$?
fi
if [ -n "${ISOLATION:-}" ]; then
    make -s installcheck REGRESS= ISOLATION="$ISOLATION" PG_CONFIG="$PG_BIN/pg_config" || rc=$?
fi
[ $rc -ne 0 ] && for f in regression.diffs output_iso/regression.diffs; do [ -f "$f" ] && head -150 "$f"; done
exit $rc
