// The cluster's system identifier, as SQL sees it. Transaction ids (xid8)
// and snapshots mean something only inside the cluster that handed them
// out: outbox rows and outbox consumers record the identifier next to them,
// so that after a restore into another cluster (or pg_upgrade) a consumer
// knows its stored snapshot no longer applies and starts again from a safe
// position instead of trusting foreign transaction ids.
#include <cstdint>

#include "pg/infra/boundary.hpp"

extern "C" {
#include "access/xlog.h"
}

// _cluster_id() returns bigint: the system identifier of this cluster (the
// same bits as pg_control_system().system_identifier, read from shared
// memory instead of the control file).
CP_FUNCTION(cluster_id) {
    std::uint64_t id = 0;
    customer_profile::pg::pg_guard([&] { id = GetSystemIdentifier(); });
    return Int64GetDatum(static_cast<std::int64_t>(id));
}
