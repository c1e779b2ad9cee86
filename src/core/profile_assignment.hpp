// After connected components are (re)computed, decides which existing
// profile id each component keeps, so ids stay stable: a component keeps the
// profile that holds its strongest identities (then most of them); each old
// id goes to at most one component; the rest need new profiles.
#pragma once

#include <cstdint>
#include <vector>

namespace customer_profile::core {

// labels[i]: component of node i; current_profile[i]: its profile now;
// strength[i]: its namespace priority. Returns, per node, the profile id its
// component keeps, or -(label + 1) for a component that needs a new profile
// (so all nodes of one new component share the same negative marker).
std::vector<std::int64_t> assign_component_profiles(const std::vector<std::uint32_t>& labels,
                                                    const std::vector<std::int64_t>& current_profile,
                                                    const std::vector<std::int32_t>& strength);

}  // namespace customer_profile::core
