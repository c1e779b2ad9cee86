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
# Calls inside the library bind locally (no PLT, inlinable): nothing outside
# it may replace our functions anyway. Exports stay as they are (PostgreSQL
# 15 does not mark PGDLLEXPORT symbols, so no -fvisibility=hidden).
VISIBILITY = -fno-semantic-interposition
PG_CXXFLAGS = -std=c++17 -Wno-register $(WARNINGS) $(VISIBILITY)
SHLIB_LINK += -lphonenumber -lre2 -licuuc -lstdc++ -Wl,-Bsymbolic-functions

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
CORE_CXXFLAGS = -std=c++17 -O2 -g -fPIC $(VISIBILITY) $(WARNINGS) -Isrc
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
	clang-format -i src/core/*.[ch]pp src/pg/*.[ch]pp test/unit/*.cpp test/integration/*.cpp test/fuzz/*.cpp bench/*.cpp

format-check:
	clang-format --dry-run --Werror src/core/*.[ch]pp src/pg/*.[ch]pp test/unit/*.cpp test/integration/*.cpp test/fuzz/*.cpp bench/*.cpp

# libFuzzer on every parser of the core (clang, ASan + UBSan): FUZZ_RUNS
# mutations per target (at most FUZZ_SECONDS), from test/fuzz/<target>_corpus
# (copied: the corpus in git stays as it is), with a fixed seed so that a
# run is repeatable: CI finds exactly what `make fuzz` finds here. Set
# FUZZ_SEED=0 for a new random walk. Findings go to build/fuzz/<target>/.
FUZZ_RUNS ?= 300000
FUZZ_SECONDS ?= 120
FUZZ_SEED ?= 1
FUZZ_TARGETS = predicate profile identifier
FUZZ_FLAGS = -std=c++17 -g -O1 -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_predicate = $(addprefix src/core/,predicate.cpp like_match.cpp predicate_parser.cpp predicate_format.cpp predicate_codec.cpp \
	predicate_eval.cpp predicate_schedule.cpp predicate_sql.cpp predicate_check.cpp profile.cpp behavior.cpp \
	text_literal.cpp timestamp_text.cpp unicode_case.cpp)
FUZZ_LIBS_predicate = -licuuc
FUZZ_profile = $(addprefix src/core/,profile.cpp profile_codec.cpp profile_json.cpp behavior.cpp timestamp_text.cpp \
	text_literal.cpp)
FUZZ_identifier = $(addprefix src/core/,identity_normalize.cpp profile.cpp)
FUZZ_LIBS_identifier = -lphonenumber -lre2
build/fuzz/%_fuzz: test/fuzz/%_fuzz.cpp $(wildcard src/core/*.cpp) $(wildcard src/core/*.hpp)
	mkdir -p build/fuzz
	clang++ $(FUZZ_FLAGS) -o $@ $< $(FUZZ_$*) $(FUZZ_LIBS_$*)
fuzz: $(addprefix build/fuzz/,$(addsuffix _fuzz,$(FUZZ_TARGETS)))
	for t in $(FUZZ_TARGETS); do \
		rm -rf build/fuzz/$$t && mkdir -p build/fuzz/$$t/corpus && cp test/fuzz/$${t}_corpus/* build/fuzz/$$t/corpus/ && \
		(cd build/fuzz/$$t && ../$${t}_fuzz -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) -max_len=4096 -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 corpus) || exit 1; \
	done
.PHONY: fuzz
