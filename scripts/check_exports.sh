#!/usr/bin/env bash
# The boundary rule checked where it cannot be dodged, on the linked library:
# every SQL-callable symbol the .so exports (a pg_finfo_<name> record, what
# PG_FUNCTION_INFO_V1 writes, however it was spelled) is a CP_FUNCTION(name)
# in src/pg, and is the C function of exactly one SQL definition in
# src/sql/current; no SQL definition names a symbol that is not exported.
# scripts/lint.sh reads the sources; this reads what was built.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
so=${1:-customer_profile.so}
[ -f "$so" ] || { echo "$so not built"; exit 1; }
exported=$(nm -D --defined-only "$so" | awk '$3 ~ /^pg_finfo_/ { sub(/^pg_finfo_/, "", $3); print $3 }' | sort)
boundary=$(grep -rhoE '^CP_FUNCTION\( *[[:alnum:]_]+ *\)' src/pg | sed -E 's/CP_FUNCTION\( *([[:alnum:]_]+) *\)/cp_\1/' | sort)
declared=$(grep -rhoE "'MODULE_PATHNAME', *'[[:alnum:]_]+'" src/sql/current | sed -E "s/.*'([[:alnum:]_]+)'$/\1/" | sort)
status=0
report() {
    local what=$1 list=$2
    [ -z "$list" ] && return
    echo "$what:"; echo "$list" | sed 's/^/  /'; status=1
}
report "exported SQL-callable symbols not defined with CP_FUNCTION" "$(comm -23 <(echo "$exported") <(echo "$boundary"))"
report "CP_FUNCTIONs the library does not export" "$(comm -13 <(echo "$exported") <(echo "$boundary"))"
report "exported SQL-callable symbols no SQL function uses" "$(comm -23 <(echo "$exported") <(echo "$declared" | uniq))"
report "SQL functions naming a symbol the library does not export" "$(comm -13 <(echo "$exported") <(echo "$declared" | uniq))"
report "symbols used by more than one SQL function" "$(echo "$declared" | uniq -d)"
[ $status -eq 0 ] && echo "SQL-callable symbols: $(echo "$exported" | wc -l) exported, each a CP_FUNCTION and one SQL function"
exit $status
