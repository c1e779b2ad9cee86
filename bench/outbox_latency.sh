#!/usr/bin/env bash
# How long after its commit a segment change reaches an outbox consumer
# (bench/outbox_latency.cpp): 1.5's position rule, the snapshot batches of
# segment_outbox_read(), and an "older than the oldest running transaction"
# rule, without and with another session holding a transaction id open.
# Small on purpose (one writer, OUTBOX_CHANGES changes per phase, default
# 300): it measures a delay, not a throughput.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
ensure_packages
cd "$PROJECT_ROOT"
cmake -S . -B build/core >/dev/null
cmake --build build/core -j"$(nproc)" --target outbox_latency >/dev/null
build_and_install
start_cluster
psql -q -X -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE cp_outbox_latency"
psql -q -X -v ON_ERROR_STOP=1 -d cp_outbox_latency -c "CREATE EXTENSION customer_profile"
build/core/outbox_latency "host=$PGHOST port=$PGPORT user=$PGUSER dbname=cp_outbox_latency" "${OUTBOX_CHANGES:-300}"
