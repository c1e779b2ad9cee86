// Library entry: the module magic and _PG_init. Nothing else runs at load.
#include "pg/behavior/behavior_catalog.hpp"
#include "pg/infra/guc.hpp"
#include "pg/identity/identity_catalog.hpp"
#include "pg/matching/match_catalog.hpp"
#include "pg/segments/segment_stream.hpp"
#include "pg/segments/score_catalog.hpp"
#include "pg/profile/trait_catalog.hpp"
#include "pg/worker/worker.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

// Defines the settings, registers the catalog caches' invalidation
// callbacks, reserves our GUC prefix (so a typo such as
// customer_profile.batchsize is reported) and, when preloaded, registers the
// inbox workers of customer_profile.worker_databases.
void _PG_init(void) {
    customer_profile::pg::define_settings();
    CacheRegisterRelcacheCallback(customer_profile::pg::identity_catalog_invalidate, (Datum)0);
    CacheRegisterRelcacheCallback(customer_profile::pg::trait_catalog_invalidate, (Datum)0);
    CacheRegisterRelcacheCallback(customer_profile::pg::behavior_catalog_invalidate, (Datum)0);
    CacheRegisterRelcacheCallback(customer_profile::pg::segment_catalog_invalidate, (Datum)0);
    CacheRegisterRelcacheCallback(customer_profile::pg::score_catalog_invalidate, (Datum)0);
    CacheRegisterRelcacheCallback(customer_profile::pg::match_catalog_invalidate, (Datum)0);
    MarkGUCPrefixReserved("customer_profile");
    if (process_shared_preload_libraries_in_progress) customer_profile::pg::register_preloaded_workers();
}
