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
SHLIB_LINK += -lphonenumber -lre2 -lstdc++ -Wl,-Bsymbolic-functions

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
	clang-format -i src/core/*.[ch]pp src/pg/*.[ch]pp test/unit/*.cpp test/integration/*.cpp bench/*.cpp

format-check:
	clang-format --dry-run --Werror src/core/*.[ch]pp src/pg/*.[ch]pp test/unit/*.cpp test/integration/*.cpp bench/*.cpp

# libFuzzer on the predicate language (clang, ASan + UBSan): FUZZ_SECONDS of
# mutations from test/fuzz/predicate_corpus (copied: the corpus in git stays
# as it is). Findings are written to build/fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_SRCS = test/fuzz/predicate_fuzz.cpp $(addprefix src/core/,predicate.cpp predicate_parser.cpp predicate_format.cpp \
	predicate_codec.cpp predicate_eval.cpp predicate_schedule.cpp predicate_sql.cpp profile.cpp behavior.cpp \
	text_literal.cpp timestamp_text.cpp)
build/fuzz/predicate_fuzz: $(FUZZ_SRCS) $(wildcard src/core/*.hpp)
	mkdir -p build/fuzz
	clang++ -std=c++17 -g -O1 -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $(FUZZ_SRCS)
fuzz: build/fuzz/predicate_fuzz
	rm -rf build/fuzz/corpus && mkdir -p build/fuzz/corpus && cp test/fuzz/predicate_corpus/* build/fuzz/corpus/
	cd build/fuzz && ./predicate_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 corpus
.PHONY: fuzz
