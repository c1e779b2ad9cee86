#!/usr/bin/env bash
# Releasing a version the way src/sql/README.md says ("Move the update
# script to history/, add its line to history/RELEASED (sha256sum, and the
# commit that releases it)", then start the next version) leaves
# scripts/check_sql_history.sh passing, whether the commit recorded is the
# script's last change or the release itself; and the check then refuses an
# edit of the newly released script. Runs in a throwaway clone of the last
# commit. (The review of issue 15 found the first check refusing every
# release after the reorganisation: it looked for the script at src/sql/.)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "file://$root" "$work/repo" && cd "$work/repo" || exit 2
git config user.email review@example.invalid && git config user.name review
fail=0
release() { # $1: update script in src/sql/upgrade, $2: which commit to record
    local file=$1 commit
    commit=$(git rev-parse HEAD)
    git mv "src/sql/upgrade/$file" src/sql/history/
    echo "$file $(sha256sum "src/sql/history/$file" | cut -c1-64) $commit" >>src/sql/history/RELEASED
    git commit -qam "release $file"
    if [ "$2" = release ]; then  # the commit that released it, where it now is in history/
        sed -i "s/ $commit\$/ $(git rev-parse HEAD)/" src/sql/history/RELEASED
        git commit -qam "record the release commit of $file"
    fi
    if out=$(bash scripts/check_sql_history.sh 2>&1); then
        echo "ok: release of $file (recorded: $2 commit)"
    else
        echo "FAILED: release of $file (recorded: $2 commit): $out"; fail=1
    fi
}
start=$(git rev-parse HEAD)
for recorded in last-change release; do
    git checkout -q -B "sim-$recorded" "$start"
    # 1.6, the update script of this version.
    release customer_profile--1.5--1.6.sql "$recorded"
    # 1.7, an update script written after the reorganisation.
    printf -- '-- 1.6 -> 1.7\n\\echo Use "ALTER EXTENSION customer_profile UPDATE" to load this file. \\quit\n' \
        >src/sql/upgrade/customer_profile--1.6--1.7.sql
    sed -i "s/^default_version = .*/default_version = '1.7'/" customer_profile.control
    git add -A && git commit -qm 'start 1.7'
    release customer_profile--1.6--1.7.sql "$recorded"
    # Released means frozen: an edit is refused.
    echo '-- edited' >>src/sql/history/customer_profile--1.5--1.6.sql
    if bash scripts/check_sql_history.sh >/dev/null 2>&1; then
        echo "FAILED: an edit of the released customer_profile--1.5--1.6.sql passed the check"; fail=1
    else
        echo "ok: an edit of the released customer_profile--1.5--1.6.sql is refused"
    fi
    git checkout -q -- src/sql/history
done
exit $fail
