// Whole-graph identity operations: identity_components() (compute only),
// identity_rebuild() (recompute every profile from the links, written back
// set-wise) and _identity_split() (re-partition one profile after a link or
// identity was withdrawn). The graph is read with heap scans, handed to the
// core's union-find as dense integer arrays, and written back with a few
// set-based statements.
//
// Locking: rebuild takes SHARE ROW EXCLUSIVE on identity, identity_link and
// profile (concurrent resolution waits; reads continue). Split runs with the
// profile row locked FOR UPDATE by its caller. The global lock order:
// docs/concurrency.md.
#include <algorithm>
#include <map>
#include <set>

#include "pg/infra/boundary.hpp"
#include "core/profile_assignment.hpp"
#include "core/union_find.hpp"
#include "pg/identity/identity_catalog.hpp"
#include "pg/identity/merge_writer.hpp"
#include "pg/behavior/behavior_catalog.hpp"
#include "pg/behavior/behavior_store.hpp"
#include "pg/profile/profile_recompute.hpp"
#include "pg/segments/segment_stream.hpp"
#include "pg/profile/trait_catalog.hpp"
#include "pg/infra/spi_util.hpp"

extern "C" {
#include "utils/acl.h"
}

namespace customer_profile::pg {
namespace {

struct Graph {
    std::vector<std::int64_t> identity_id;  // sorted ascending
    std::vector<std::int64_t> profile_id;   // empty when not read
    std::vector<std::int32_t> strength;     // empty when not read
    std::vector<core::Edge> edges;
    // identity_id -> index; a direct table when ids are dense (bigserial
    // usually is), else binary search over identity_id.
    std::int64_t dense_base = 0;
    std::vector<std::uint32_t> dense;

    void index_ids() {
        if (identity_id.empty()) return;
        std::int64_t span = identity_id.back() - identity_id.front() + 1;
        if (span > 4 * static_cast<std::int64_t>(identity_id.size()) + 1024) return;
        dense_base = identity_id.front();
        dense.assign(static_cast<std::size_t>(span), UINT32_MAX);
        for (std::size_t i = 0; i < identity_id.size(); ++i)
            dense[static_cast<std::size_t>(identity_id[i] - dense_base)] = static_cast<std::uint32_t>(i);
    }

    std::uint32_t index_of(std::int64_t id) const {
        if (!dense.empty()) {
            std::int64_t slot = id - dense_base;
            if (slot >= 0 && slot < static_cast<std::int64_t>(dense.size()) && dense[slot] != UINT32_MAX)
                return dense[slot];
        } else {
            auto it = std::lower_bound(identity_id.begin(), identity_id.end(), id);
            if (it != identity_id.end() && *it == id) return static_cast<std::uint32_t>(it - identity_id.begin());
        }
        throw core::Error(core::ErrorCode::internal,
                          "identity_link references a missing identity " + std::to_string(id), {},
                          "Run customer_profile.identity_check().");
    }
};

struct IdentityRow {
    std::int64_t id, profile;
    std::int32_t namespace_id;
};

Oid relation_oid(const char* name) {
    Oid oid = InvalidOid;
    pg_guard([&] {
        oid = RangeVarGetRelid(makeRangeVar(const_cast<char*>("customer_profile"), const_cast<char*>(name), -1), NoLock,
                               false);
    });
    return oid;
}

// Refuses (42501, as a SELECT would) unless the current user may read the
// column: a heap scan passes no executor permission check, and
// identity_components() would otherwise show identity_link to a role that
// may not SELECT it (issue 14, defect 5).
void check_column_privilege(Oid relid, AttrNumber attnum, const char* table) {
    pg_guard([&] {
        Oid user = GetUserId();
        if (pg_class_aclcheck(relid, user, ACL_SELECT) != ACLCHECK_OK &&
            pg_attribute_aclcheck(relid, attnum, user, ACL_SELECT) != ACLCHECK_OK)
            aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, table);
    });
}

// Scans a table and calls take(values) for each row with the named int columns.
template <typename Take>
void scan_columns(const char* table, std::vector<const char*> columns, Snapshot snapshot, Take&& take) {
    Oid relid = relation_oid(table);
    std::vector<AttrNumber> attnums;
    for (const char* c : columns) {
        AttrNumber a = InvalidAttrNumber;
        pg_guard([&] { a = get_attnum(relid, c); });
        if (a == InvalidAttrNumber) throw core::Error(core::ErrorCode::internal, std::string("missing column ") + c);
        check_column_privilege(relid, a, table);
        attnums.push_back(a);
    }
    std::vector<Datum> values(columns.size());
    std::uint64_t rows = 0;
    pg_guard([&] {
        Relation rel = table_open(relid, AccessShareLock);
        TableScanDesc scan = table_beginscan(rel, snapshot, 0, nullptr);
        TupleTableSlot* slot = table_slot_create(rel, nullptr);
        while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
            for (std::size_t i = 0; i < attnums.size(); ++i) {
                bool isnull = false;
                values[i] = slot_getattr(slot, attnums[i], &isnull);
                if (isnull) values[i] = 0;
            }
            take(values);  // only appends to vectors the caller owns
            if ((++rows & 0xFFFF) == 0) CHECK_FOR_INTERRUPTS();
        }
        ExecDropSingleTupleTableSlot(slot);
        table_endscan(scan);
        table_close(rel, AccessShareLock);
    });
}

// Reads the whole graph. With with_profiles false only identity ids are read
// (identity_components() needs nothing else), which keeps the scan cheap.
Graph read_graph(Snapshot snapshot, const IdentityCatalog& catalog, bool with_profiles) {
    Graph g;
    if (with_profiles) {
        std::vector<IdentityRow> rows;
        scan_columns("identity", {"identity_id", "profile_id", "namespace_id"}, snapshot,
                     [&](const std::vector<Datum>& v) {
                         rows.push_back({DatumGetInt64(v[0]), DatumGetInt64(v[1]), DatumGetInt32(v[2])});
                     });
        auto by_id = [](const IdentityRow& a, const IdentityRow& b) { return a.id < b.id; };
        if (!std::is_sorted(rows.begin(), rows.end(), by_id)) std::sort(rows.begin(), rows.end(), by_id);
        g.identity_id.reserve(rows.size());
        for (const auto& r : rows) {
            g.identity_id.push_back(r.id);
            g.profile_id.push_back(r.profile);
            const NamespaceConfig* ns = catalog.by_id(r.namespace_id);
            g.strength.push_back(ns ? ns->priority : 0);
        }
    } else {
        scan_columns("identity", {"identity_id"}, snapshot,
                     [&](const std::vector<Datum>& v) { g.identity_id.push_back(DatumGetInt64(v[0])); });
        if (!std::is_sorted(g.identity_id.begin(), g.identity_id.end()))
            std::sort(g.identity_id.begin(), g.identity_id.end());
    }
    g.index_ids();
    // Links are mapped to dense indices as they are read: no second pass.
    scan_columns("identity_link", {"identity_a", "identity_b"}, snapshot, [&](const std::vector<Datum>& v) {
        g.edges.emplace_back(g.index_of(DatumGetInt64(v[0])), g.index_of(DatumGetInt64(v[1])));
    });
    return g;
}

CachedPlan next_profile_ids_plan{
    "SELECT nextval('customer_profile.unified_profile_profile_id_seq') FROM generate_series(1, $1)", 1, {INT4OID}};
CachedPlan create_profiles_plan{
    "INSERT INTO customer_profile.unified_profile (profile_id) SELECT unnest($1::int8[])", 1, {INT8ARRAYOID}};
CachedPlan record_splits_plan{
    "INSERT INTO customer_profile.profile_split (profile_id, new_profile_id, cause) "
    "SELECT *, $3 FROM unnest($1::int8[], $2::int8[])",
    3,
    {INT8ARRAYOID, INT8ARRAYOID, TEXTOID}};

CachedPlan any_observation_plan{"SELECT 1 FROM customer_profile.trait_observation LIMIT 1", 0, {}};

// Whether any trait was ever observed (1.0 databases have no trait tables).
bool traits_observed() {
    if (!trait_catalog().installed) return false;
    return spi_run(any_observation_plan, nullptr, nullptr, false) > 0;
}

CachedPlan any_event_plan{"SELECT 1 FROM customer_profile.event LIMIT 1", 0, {}};

bool events_stored() {
    if (!behavior_catalog().installed) return false;
    return spi_run(any_event_plan, nullptr, nullptr, false) > 0;
}

struct WriteStats {
    std::int64_t moved = 0, created = 0, merged = 0, split = 0;
};

// Writes an assignment back: creates profiles for new components, moves
// identities, records merges (old profile gone) and splits (new profile
// carved out of an old one), and drops emptied profiles.
//
// Every profile that gained or lost identities (and `also_changed`, a profile
// whose identities changed before the call, e.g. one identifier removed) gets
// its traits and behavior recomputed and its segments re-evaluated, as a
// merge or an event would.
WriteStats write_assignment(const Graph& g, std::vector<std::int64_t> owner, const std::string& cause,
                            std::int64_t also_changed = 0) {
    WriteStats stats;
    std::map<std::int64_t, std::int64_t> fresh;  // negative marker -> new profile id
    for (auto o : owner)
        if (o < 0) fresh[o] = 0;
    if (!fresh.empty()) {
        Datum args[1] = {Int32GetDatum(static_cast<std::int32_t>(fresh.size()))};
        std::uint64_t n = spi_run(next_profile_ids_plan, args, nullptr, false);
        std::vector<std::int64_t> ids;
        for (std::uint64_t row = 0; row < n; ++row) ids.push_back(spi_int8(row, 1));
        std::size_t k = 0;
        for (auto& kv : fresh) kv.second = ids.at(k++);
        Datum create_args[1] = {int8_array(ids)};
        spi_run(create_profiles_plan, create_args, nullptr, false);
        stats.created = static_cast<std::int64_t>(ids.size());
        for (auto& o : owner)
            if (o < 0) o = fresh[o];
    }
    std::vector<std::int64_t> moved_ids, moved_to;
    std::set<std::int64_t> old_profiles, new_profiles;
    std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> flows;  // (old, new) -> identities
    for (std::size_t i = 0; i < owner.size(); ++i) {
        old_profiles.insert(g.profile_id[i]);
        new_profiles.insert(owner[i]);
        if (owner[i] != g.profile_id[i]) {
            moved_ids.push_back(g.identity_id[i]);
            moved_to.push_back(owner[i]);
            flows[{g.profile_id[i], owner[i]}]++;
        }
    }
    stats.moved = static_cast<std::int64_t>(moved_ids.size());
    // An old profile that no component kept merged into where most of it
    // went; identities flowing from a kept profile into a new one split off.
    std::set<std::int64_t> created;
    for (const auto& kv : fresh) created.insert(kv.second);
    std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> best_target;  // old -> (count, new)
    std::vector<std::int64_t> split_from, split_to;
    for (const auto& [pair, count] : flows) {
        auto [old_p, new_p] = pair;
        if (!new_profiles.count(old_p)) {
            auto& best = best_target[old_p];
            if (count > best.first) best = {count, new_p};
        } else if (created.count(new_p)) {
            split_from.push_back(old_p);
            split_to.push_back(new_p);
        }
    }
    std::vector<std::int64_t> merged_away, merged_into;
    for (const auto& [old_p, best] : best_target) {
        merged_away.push_back(old_p);
        merged_into.push_back(best.second);
    }
    write_repartition(moved_ids, moved_to, merged_away, merged_into, cause);
    stats.merged = static_cast<std::int64_t>(merged_away.size());
    if (!split_from.empty()) {
        Datum cause_text = 0;
        pg_guard([&] { cause_text = CStringGetTextDatum(cause.c_str()); });
        Datum args[3] = {int8_array(split_from), int8_array(split_to), cause_text};
        spi_run(record_splits_plan, args, nullptr, false);
        stats.split = static_cast<std::int64_t>(split_from.size());
    }
    // Traits and behavior follow identities: recompute every profile that
    // gained or lost some, then re-evaluate its segments.
    std::set<std::int64_t> touched;
    for (const auto& [pair, count] : flows) {
        touched.insert(pair.second);
        if (new_profiles.count(pair.first)) touched.insert(pair.first);
    }
    if (also_changed != 0 && new_profiles.count(also_changed)) touched.insert(also_changed);
    bool traits = !touched.empty() && traits_observed();
    bool events = !touched.empty() && events_stored();
    for (std::int64_t p : touched) {
        if (events) recompute_profile_behavior(p);         // from stored events: a split divides them
        if (traits) recompute_profile_traits(p, nullptr);  // last: it re-evaluates every segment
    }
    stream_deleted_profiles(merged_away);  // merged-away profiles leave their segments
    if (!touched.empty() && !traits) {
        ProfileChange change;
        change.profiles.assign(touched.begin(), touched.end());
        change.everything = true;
        stream_segments(change);
    }
    return stats;
}

// Fresh snapshot taken after our locks, so we see every committed change.
template <typename Fn>
void with_latest_snapshot(Fn&& fn) {
    Snapshot snapshot = nullptr;
    pg_guard([&] { snapshot = RegisterSnapshot(GetLatestSnapshot()); });
    try {
        fn(snapshot);
    } catch (...) {
        pg_guard([&] { UnregisterSnapshot(snapshot); });
        throw;
    }
    pg_guard([&] { UnregisterSnapshot(snapshot); });
}

CachedPlan split_identities_plan{
    "SELECT identity_id, profile_id, namespace_id FROM customer_profile.identity WHERE profile_id = $1 "
    "ORDER BY identity_id",
    1,
    {INT8OID}};
CachedPlan split_links_plan{
    "SELECT l.identity_a, l.identity_b FROM customer_profile.identity_link l "
    "JOIN customer_profile.identity i ON i.identity_id = l.identity_a WHERE i.profile_id = $1",
    1,
    {INT8OID}};

}  // namespace
}  // namespace customer_profile::pg

namespace cp = customer_profile;

// identity_components() returns table(identity_id bigint, component_id bigint):
// connected components of the link graph, computed in memory, nothing written.
CP_FUNCTION(identity_components) {
    const auto& catalog = cp::pg::identity_catalog();
    cp::pg::Graph g = cp::pg::read_graph(GetActiveSnapshot(), catalog, false);
    std::vector<std::uint32_t> labels = cp::core::connected_components(static_cast<std::uint32_t>(g.identity_id.size()),
                                                                       g.edges, cp::pg::cancel_requested);
    cp::pg::pg_guard([&] {
        InitMaterializedSRF(fcinfo, 0);
        ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
        Datum values[2];
        bool nulls[2] = {false, false};
        for (std::size_t i = 0; i < labels.size(); ++i) {
            values[0] = Int64GetDatum(g.identity_id[i]);
            values[1] = Int64GetDatum(g.identity_id[labels[i]]);
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        }
    });
    return (Datum)0;
}

// identity_rebuild() returns record: recomputes every profile from the links.
CP_FUNCTION(identity_rebuild) {
    TupleDesc desc = nullptr;
    cp::pg::pg_guard([&] {
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "identity_rebuild must return a composite type");
        desc = BlessTupleDesc(desc);
    });
    const auto& catalog = cp::pg::identity_catalog();
    cp::pg::spi_connect();
    cp::pg::spi_exec(
        "LOCK TABLE customer_profile.identity, customer_profile.identity_link, "
        "customer_profile.unified_profile IN SHARE ROW EXCLUSIVE MODE",
        false);
    std::int64_t identities = 0, components = 0;
    cp::pg::WriteStats stats;
    cp::pg::with_latest_snapshot([&](Snapshot snapshot) {
        cp::pg::Graph g = cp::pg::read_graph(snapshot, catalog, true);
        auto labels = cp::core::connected_components(static_cast<std::uint32_t>(g.identity_id.size()), g.edges,
                                                     cp::pg::cancel_requested);
        identities = static_cast<std::int64_t>(labels.size());
        for (std::size_t i = 0; i < labels.size(); ++i) components += labels[i] == i;
        std::vector<std::int32_t> flat(labels.size(), 0);  // rebuild keeps the plurality id
        auto owner = cp::core::assign_component_profiles(labels, g.profile_id, flat);
        stats = cp::pg::write_assignment(g, std::move(owner), "identity_rebuild");
    });
    cp::pg::spi_finish();
    Datum result = 0;
    cp::pg::pg_guard([&] {
        Datum values[5] = {Int64GetDatum(identities), Int64GetDatum(components), Int64GetDatum(stats.moved),
                           Int64GetDatum(stats.created), Int64GetDatum(stats.merged)};
        bool nulls[5] = {false, false, false, false, false};
        result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
    return result;
}

// _identity_split(profile_id bigint, cause text) returns int: re-partitions one
// profile by its remaining links; returns how many profiles were carved out.
CP_FUNCTION(identity_split) {
    std::int64_t profile = PG_GETARG_INT64(0);
    std::string cause = "split";
    if (!PG_ARGISNULL(1)) {
        cp::pg::pg_guard([&] { cause = text_to_cstring(PG_GETARG_TEXT_PP(1)); });
    }
    const auto& catalog = cp::pg::identity_catalog();
    cp::pg::spi_connect();
    Datum args[1] = {Int64GetDatum(profile)};
    cp::pg::Graph g;
    std::uint64_t n = cp::pg::spi_run(cp::pg::split_identities_plan, args, nullptr, false);
    for (std::uint64_t row = 0; row < n; ++row) {
        g.identity_id.push_back(cp::pg::spi_int8(row, 1));
        g.profile_id.push_back(cp::pg::spi_int8(row, 2));
        const auto* ns = catalog.by_id(cp::pg::spi_int4(row, 3));
        g.strength.push_back(ns ? ns->priority : 0);
    }
    n = cp::pg::spi_run(cp::pg::split_links_plan, args, nullptr, false);
    g.index_ids();
    for (std::uint64_t row = 0; row < n; ++row)
        g.edges.emplace_back(g.index_of(cp::pg::spi_int8(row, 1)), g.index_of(cp::pg::spi_int8(row, 2)));
    auto labels = cp::core::connected_components(static_cast<std::uint32_t>(g.identity_id.size()), g.edges,
                                                 cp::pg::cancel_requested);
    auto owner = cp::core::assign_component_profiles(labels, g.profile_id, g.strength);
    // The profile itself changed (a link or an identifier was withdrawn), even
    // when it does not fall apart.
    cp::pg::WriteStats stats = cp::pg::write_assignment(g, std::move(owner), cause, profile);
    cp::pg::spi_finish();
    PG_RETURN_INT32(static_cast<std::int32_t>(stats.created));
}
