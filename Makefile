# customer_profile: PGXS build of the extension (C++17).
# Pure core: src/core (compiled here without PostgreSQL headers, see the
# src/core rule below); glue: src/pg; SQL scripts: src/sql.
# Tests: `make installcheck` (pg_regress + isolation) against a running
# server; scripts/test.sh runs every suite end to end.

EXTENSION = customer_profile
MODULE_big = customer_profile

CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
GLUE_SRCS = $(sort $(wildcard src/pg/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(GLUE_SRCS:.cpp=.o)
DATA = $(sort $(wildcard src/sql/customer_profile--*.sql))

# Every file in sql/ is scheduled (setup first: shared helpers); a test file
# without an expected output fails the run.
REGRESS = setup $(filter-out setup,$(basename $(notdir $(sort $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --load-extension=customer_profile
ISOLATION = $(basename $(notdir $(sort $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=customer_profile

PG_CONFIG ?= pg_config
PG_INCLUDE_SERVER := $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)
WARNINGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
ifdef WERROR
WARNINGS += -Werror
endif
# Server headers as -isystem: their warnings are not ours.
PG_CPPFLAGS = -isystem $(PG_INCLUDE_SERVER) -Isrc
PG_CXXFLAGS = -std=c++17 -Wno-register $(WARNINGS)
SHLIB_LINK += -lphonenumber -lre2 -lstdc++

# Debian's PGXS would also emit LLVM bitcode with clang, which ignores
# PG_CXXFLAGS; the extension has no use for JIT inlining.
override with_llvm = no

# `make test` and `make demo` must work on a machine without the server
# headers yet (the scripts install them), so PGXS is optional here.
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
endif

# The core must compile without any PostgreSQL include path.
CORE_CXXFLAGS = -std=c++17 -O2 -g -fPIC $(WARNINGS) -Isrc
src/core/%.o: src/core/%.cpp $(wildcard src/core/*.hpp)
	$(CXX) $(CORE_CXXFLAGS) -c -o $@ $<

$(GLUE_SRCS:.cpp=.o): $(wildcard src/pg/*.hpp) $(wildcard src/core/*.hpp)

.PHONY: unit bench demo test format format-check
unit:
	cmake -S . -B build/core -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/core -j2
	cd build/core && ctest --output-on-failure

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

bench:
	bash bench/run.sh

format:
	clang-format -i src/core/*.[ch]pp src/pg/*.[ch]pp test/unit/*.cpp test/integration/*.cpp bench/*.cpp

format-check:
	clang-format --dry-run --Werror src/core/*.[ch]pp src/pg/*.[ch]pp test/unit/*.cpp test/integration/*.cpp bench/*.cpp
