// A C++ object kept in fn_extra for the whole query (one per call site),
// deleted when the function's memory context is reset: how a function keeps
// what it parsed from an argument that is the same on every row.
#pragma once

#include <memory>

#include "pg/infra/boundary.hpp"
#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

// The call site's T, created (default-constructed) on first use.
template <typename T>
T& function_cache(FunctionCallInfo fcinfo) {
    auto* cache = static_cast<T*>(fcinfo->flinfo->fn_extra);
    if (cache != nullptr) return *cache;
    auto fresh = std::make_unique<T>();
    pg_guard([&] {
        auto* callback = static_cast<MemoryContextCallback*>(
            MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(MemoryContextCallback)));
        callback->func = [](void* arg) { delete static_cast<T*>(arg); };
        callback->arg = fresh.get();
        MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, callback);
    });
    cache = fresh.release();
    fcinfo->flinfo->fn_extra = cache;
    return *cache;
}

}  // namespace customer_profile::pg
