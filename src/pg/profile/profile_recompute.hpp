// Recomputing a profile's merged traits from the observations of its
// identities: after trait_observe (the observed traits), after a merge or a
// split (every trait), after trait_define (one trait).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace customer_profile::pg {

// only == nullptr recomputes every trait. Does nothing while the database
// runs extension version 1.0 (no trait tables). Runs inside SPI.
void recompute_profile_traits(std::int64_t profile_id, const std::vector<std::string>* only);

}  // namespace customer_profile::pg
