#!/usr/bin/env bash
# Boundary rules the compiler cannot check (STYLE.md, ARCHITECTURE.md):
#  1. Every SQL-callable C function goes through the boundary: CP_FUNCTION
#     (src/pg/infra/boundary.hpp) is the only place that writes
#     PG_FUNCTION_INFO_V1, so no C++ exception can leave a function that
#     PostgreSQL calls. (Background worker entry points are not fmgr
#     functions and need no V1 macro; they hold no C++ object, worker.cpp.)
#  2. A PostgreSQL error caught in C++ (PgException) is caught only where it
#     is re-raised (the boundary) or rolled back (subtransactions); anywhere
#     else the transaction would carry on after an error it did not undo. A
#     handler for std::exception or (...) catches a PgException too: outside
#     those two files it must rethrow (`throw;`).
#  3. src/pg/infra is the ground floor: it includes no capability's header.
# Prints each violation and exits non-zero if there is one.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
glue=(--include='*.cpp' --include='*.hpp' --include='*.h' --include='*.cc' --include='*.cxx')

if hits=$(grep -rnwE "${glue[@]}" 'PG_FUNCTION_INFO_V1' src | grep -vE '^src/pg/infra/boundary\.hpp:'); then
    echo "PG_FUNCTION_INFO_V1 outside CP_FUNCTION (src/pg/infra/boundary.hpp): define SQL-callable functions with CP_FUNCTION(name):"
    echo "$hits"
    status=1
fi

allowed='^src/pg/infra/(boundary|subtransaction)\.(cpp|hpp):'
if hits=$(grep -rnE "${glue[@]}" 'catch *\( *((const|volatile) +)*(:: *)?([[:alnum:]_]+ *:: *)*PgException\b|using +[[:alnum:]_]+ *= *([[:alnum:]_:]+ *:: *)?PgException\b|typedef +([[:alnum:]_:]+ *:: *)?PgException\b' src/pg |
          grep -vE "$allowed"); then
    echo "PgException caught outside infra/boundary.cpp and infra/subtransaction.cpp:"
    echo "$hits"
    status=1
fi
# A catch-all handler ends at the first line that closes its block at the
# indentation of the catch; it must contain `throw;`.
if hits=$(find src/pg -name '*.[ch]pp' | sort | xargs awk '
        FNR == 1 { open = 0 }
        open && $0 ~ "^" indent "}" { if (!rethrows) print where; open = 0 }
        open && /throw;/ { rethrows = 1 }
        /catch *\( *(\.\.\.|(const +)?std::exception *&?)/ {
            match($0, /^ */); indent = sprintf("%" RLENGTH "s", ""); open = 1; rethrows = 0
            where = FILENAME ":" FNR ":" $0
        }' | grep -vE "$allowed"); then
    echo "a handler that can catch a PgException (std::exception, ...) and does not rethrow it, outside infra/boundary.cpp and infra/subtransaction.cpp:"
    echo "$hits"
    status=1
fi

if hits=$(grep -rnE "${glue[@]}" '#include "(pg/|\.\./)' src/pg/infra | grep -vE '#include "pg/infra/'); then
    echo "src/pg/infra includes a capability's header (infra is used by the capabilities, never the reverse):"
    echo "$hits"
    status=1
fi
exit $status
