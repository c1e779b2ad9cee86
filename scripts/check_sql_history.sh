#!/usr/bin/env bash
# Released SQL scripts are frozen: a database that ran one must be able to
# trust that the next update starts from exactly what it ran. Each released
# script is in src/sql/history and listed in src/sql/history/RELEASED with
# its SHA-256 and the commit that released it. Fails when a file differs from
# its recorded hash, when the recorded hash is not what that commit holds
# (checked when the git history is at hand), when a file in history/ is not
# listed, or when a released script is anywhere else under src/sql.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
manifest=src/sql/history/RELEASED
declare -A listed
while read -r file hash commit; do
    case "$file" in ''|'#'*) continue ;; esac
    listed[$file]=1
    path=src/sql/history/$file
    if [ ! -f "$path" ]; then
        echo "$path: listed in $manifest but missing"; status=1; continue
    fi
    actual=$(sha256sum "$path" | cut -c1-64)
    if [ "$actual" != "$hash" ]; then
        echo "$path: changed after its release (sha256 $actual, released $hash in $commit)"; status=1
    fi
    if git rev-parse -q --verify "$commit^{commit}" >/dev/null 2>&1; then
        released=$(git show "$commit:src/sql/$file" 2>/dev/null | sha256sum | cut -c1-64)
        if [ "$released" != "$hash" ]; then
            echo "$manifest: $file is not what commit $commit released"; status=1
        fi
    fi
done <"$manifest"
for path in src/sql/history/customer_profile--*.sql; do
    [ -n "${listed[$(basename "$path")]:-}" ] || { echo "$path: not listed in $manifest"; status=1; }
done
for file in "${!listed[@]}"; do
    for other in $(find src/sql -name "$file" -not -path 'src/sql/history/*'); do
        echo "$other: a released script outside src/sql/history"; status=1
    done
done
[ $status -eq 0 ] && echo "released SQL scripts unchanged: ${#listed[@]}"
exit $status
