// Reading and writing profiles' behavior summaries (unified_profile.behavior):
// the binary Datum form, measures taken from event properties, summaries
// merged when profiles merge and recomputed from stored events when a
// profile's identities change otherwise (split, unlink, rebuild).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/behavior.hpp"
#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

// First day inside the horizon (customer_profile.behavior_horizon) as of the
// transaction's start.
core::Day horizon_oldest_day();

// (Datum)0 or SQL NULL -> an empty summary. Throws on a corrupt value.
core::Behavior behavior_from_datum(Datum bytes);
// A bytea Datum in the current memory context.
Datum behavior_to_datum(const core::Behavior& behavior);

// The declared measures found in an event's properties. Throws core::Error
// when a declared measure is present but not a number in range.
std::vector<std::pair<std::string, double>> event_measures(Jsonb* properties, const std::vector<std::string>* declared);

// The survivor's summary absorbs the merged profiles' (all rows already
// locked by the caller). No-op before version 1.2. Runs inside SPI.
void merge_profile_behaviors(std::int64_t survivor, const std::vector<std::int64_t>& merged);

// Rebuilds a profile's summary from the stored events of its identities.
// No-op before version 1.2. Manages its own SPI connection.
void recompute_profile_behavior(std::int64_t profile_id);

}  // namespace customer_profile::pg
