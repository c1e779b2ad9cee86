#!/usr/bin/env bash
# Quick loop for the TAP tests: builds, installs and runs only the named
# files of test/tap (all of them without arguments), exactly as scripts/test.sh
# does, e.g.
#   bash scripts/tap.sh 002_inbox_worker 006_worker_database_missing
# CP_PG_BIN selects the installation (scripts/lib.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_packages
cd "$PROJECT_ROOT"
build_and_install
files=()
for t in "$@"; do files+=("${t%.pl}.pl"); done
[ ${#files[@]} -eq 0 ] && files=($(cd test/tap && ls *.pl))
LOGS=$(mktemp -d /tmp/customer_profile_logs.XXXXXX)
trap 'rm -rf "$LOGS"' EXIT
run_tap "$LOGS/tap.log" "${files[@]}"
echo "$((TAP_FILES - TAP_FAILED)) passed, $TAP_FAILED failed"
[ "$TAP_FAILED" -eq 0 ]
