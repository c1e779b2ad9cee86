#!/usr/bin/env bash
# Boundary rules the compiler cannot check (STYLE.md, ARCHITECTURE.md):
#  - a PostgreSQL error caught in C++ (PgException) is caught only where it
#    is re-raised (the boundary) or rolled back (subtransactions); anywhere
#    else the transaction would carry on after an error it did not undo.
# Prints each violation and exits non-zero if there is one.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
if hits=$(grep -rnE --include='*.[ch]pp' 'catch *\( *(const +)?(customer_profile::pg::)?PgException' src/pg |
          grep -vE '^src/pg/infra/(boundary|subtransaction)\.(cpp|hpp):'); then
    echo "PgException caught outside infra/boundary.cpp and infra/subtransaction.cpp:"
    echo "$hits"
    status=1
fi
exit $status
