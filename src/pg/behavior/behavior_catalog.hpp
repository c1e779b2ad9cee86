// Per-backend cache of what behavior ingestion and segment evaluation need
// from the catalog: the declared measures per event type
// (customer_profile.event_measure) and the declared property types
// (customer_profile.event_property, 1.6), each reloaded after a relcache
// invalidation sent by its statement trigger; and the months known to have
// an event partition (forgotten whenever the partitioned table changes).
// `installed` is false before extension version 1.2.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/profile_json.hpp"
#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

struct BehaviorCatalog {
    bool installed = false;
    Oid measure_relid = InvalidOid, event_relid = InvalidOid, property_relid = InvalidOid;
    std::map<std::string, std::vector<std::string>> measures;   // event type -> sorted property names
    std::map<std::string, core::PropertyTypes> property_types;  // event type -> declared property types

    const std::vector<std::string>* measures_of(const std::string& event_type) const;
    // The declared types of an event type's properties (empty when none).
    const core::PropertyTypes& property_types_of(const std::string& event_type) const;
};

const BehaviorCatalog& behavior_catalog();
void behavior_catalog_invalidate(Datum arg, Oid relid);

// Makes sure a partition exists for every month of the given times (UTC),
// creating missing ones through event_partitions_ensure(). Runs inside SPI.
void ensure_event_partitions(const std::vector<TimestampTz>& times);

}  // namespace customer_profile::pg
