// SHA-256 via pg_cryptohash (see sha256.hpp).
#include "pg/infra/sha256.hpp"

#include "pg/infra/boundary.hpp"

namespace customer_profile::pg {

std::string sha256(std::initializer_list<std::string_view> parts) {
    uint8 digest[32];
    pg_guard([&] {
        pg_cryptohash_ctx* ctx = pg_cryptohash_create(PG_SHA256);
        bool ok = ctx != nullptr && pg_cryptohash_init(ctx) == 0;
        for (std::string_view p : parts)
            ok = ok && pg_cryptohash_update(ctx, reinterpret_cast<const uint8*>(p.data()), p.size()) == 0;
        ok = ok && pg_cryptohash_final(ctx, digest, sizeof digest) == 0;
        if (!ok) elog(ERROR, "customer_profile: SHA-256 failed: %s", pg_cryptohash_error(ctx));
        pg_cryptohash_free(ctx);
    });
    return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

}  // namespace customer_profile::pg
