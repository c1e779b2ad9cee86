// Library entry: the module magic and _PG_init. Nothing else runs at load.
#include "identity_catalog.hpp"
#include "trait_catalog.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

// Registers the catalog cache's invalidation callback and reserves our GUC
// prefix so a typo such as customer_profile.batchsize is reported.
void _PG_init(void) {
    CacheRegisterRelcacheCallback(customer_profile::pg::identity_catalog_invalidate, (Datum)0);
    CacheRegisterRelcacheCallback(customer_profile::pg::trait_catalog_invalidate, (Datum)0);
    MarkGUCPrefixReserved("customer_profile");
}
