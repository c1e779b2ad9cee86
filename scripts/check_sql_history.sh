#!/usr/bin/env bash
# Released SQL scripts are frozen: a database that ran one must be able to
# trust that the next update starts from exactly what it ran. Each released
# script is in src/sql/history and listed in src/sql/history/RELEASED with
# its SHA-256 and the commit that released it. Fails when
#  - a file differs from its recorded hash, or is missing;
#  - the recorded commit does not hold that file with that hash (under
#    src/sql/history, src/sql/upgrade or, before 1.6, src/sql); without the
#    commit at hand this fails too, except in a shallow clone, which cannot
#    have it (the hash check still runs, and a note says what was skipped);
#  - a file in src/sql/history is not listed, or a released script is
#    anywhere else under src/sql;
#  - the update scripts are not one chain: from 1.0, each released update
#    starts where the previous one ended, src/sql/upgrade holds exactly one
#    script, from the last release to default_version, and there is no other
#    path (PostgreSQL takes the shortest path, so a shortcut script would be
#    the one a database runs, untested).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
fail() { echo "$*"; status=1; }
manifest=src/sql/history/RELEASED
shallow=false
have_git=false
if git rev-parse --git-dir >/dev/null 2>&1; then
    have_git=true
    [ "$(git rev-parse --is-shallow-repository)" = true ] && shallow=true
fi
declare -A listed
skipped=0
while read -r file hash commit; do
    case "$file" in '' | '#'*) continue ;; esac
    listed[$file]=1
    path=src/sql/history/$file
    if [ ! -f "$path" ]; then
        fail "$path: listed in $manifest but missing"
        continue
    fi
    actual=$(sha256sum "$path" | cut -c1-64)
    [ "$actual" = "$hash" ] || fail "$path: changed after its release (sha256 $actual, released $hash in $commit)"
    if ! $have_git; then
        skipped=$((skipped + 1))
    elif git rev-parse -q --verify "$commit^{commit}" >/dev/null 2>&1; then
        found=false
        for dir in src/sql/history src/sql/upgrade src/sql; do
            if git cat-file -e "$commit:$dir/$file" 2>/dev/null; then
                found=true
                released=$(git show "$commit:$dir/$file" | sha256sum | cut -c1-64)
                [ "$released" = "$hash" ] || fail "$manifest: $file differs from what commit $commit released ($dir/$file)"
                break
            fi
        done
        $found || fail "$manifest: commit $commit holds no $file"
    elif $shallow; then
        skipped=$((skipped + 1))
    else
        fail "$manifest: $file: commit $commit is not in this repository"
    fi
done <"$manifest"
for path in src/sql/history/customer_profile--*.sql; do
    [ -n "${listed[$(basename "$path")]:-}" ] || fail "$path: not listed in $manifest"
done
for file in "${!listed[@]}"; do
    for other in $(find src/sql -name "$file" -not -path 'src/sql/history/*'); do
        fail "$other: a released script outside src/sql/history"
    done
done

# One chain of updates, in version order.
version_key() { echo "$1" | awk -F. '{ printf "%06d%06d\n", $1, $2 }'; }
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" customer_profile.control)
[ -f src/sql/history/customer_profile--1.0.sql ] || fail "src/sql/history: the 1.0 install script is missing"
for other in src/sql/history/customer_profile--[0-9]*.sql; do
    base=$(basename "$other" .sql)
    case "$base" in customer_profile--1.0 | customer_profile--*--*) ;; *) fail "$other: an install script other than 1.0's in history (the current one is generated)" ;; esac
done
at=1.0
while read -r from to; do
    [ "$from" = "$at" ] || fail "src/sql/history: customer_profile--$from--$to.sql does not start at $at, where the previous release ended"
    at=$to
done < <(for f in src/sql/history/customer_profile--*--*.sql; do
    b=$(basename "$f" .sql); b=${b#customer_profile--}; echo "${b%%--*} ${b##*--}"
done | while read -r a b; do echo "$(version_key "$a") $a $b"; done | sort | cut -d' ' -f2-)
upgrades=(src/sql/upgrade/customer_profile--*--*.sql)
if [ "$at" = "$current" ]; then
    [ -e "${upgrades[0]}" ] && fail "src/sql/upgrade: $current is released, yet it holds ${upgrades[*]}"
elif [ ${#upgrades[@]} -ne 1 ] || [ "${upgrades[0]}" != "src/sql/upgrade/customer_profile--$at--$current.sql" ]; then
    fail "src/sql/upgrade must hold exactly customer_profile--$at--$current.sql (last release $at, default_version $current), not: ${upgrades[*]}"
fi
for other in $(find src/sql -name 'customer_profile--*.sql' -not -path 'src/sql/history/*' -not -path 'src/sql/upgrade/*'); do
    fail "$other: a version script outside src/sql/history and src/sql/upgrade"
done

if [ $status -eq 0 ]; then
    echo "released SQL scripts unchanged: ${#listed[@]}; one update chain 1.0 -> $at -> $current"
    [ $skipped -gt 0 ] && echo "note: $skipped release commits not checked (no git history here: shallow clone or no checkout)"
fi
exit $status
