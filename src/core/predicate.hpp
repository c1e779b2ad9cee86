// Segment predicates as plain C++ values: the tree that predicate_parser
// builds from text and predicate_format writes back in normalized form.
//
// The language (see README, "Segments"):
//   tier = 'gold' AND ltv BETWEEN 100 AND 500
//   email_domain ILIKE '%.edu' OR NOT has(phone)
//   last_seen > now() - 7 days AND known
//   count(purchase within 30 days) >= 2 AND sum(purchase.revenue within 90 days) > 100
//   count(email_open where campaign = 'spring' within 14 days) > 0
//   in_segment('vip') AND consent(email_marketing)
//   city IS DISTINCT FROM 'Paris' AND email ~* '@(gmail|yahoo)\.'
//   count(purchase between timestamp '2026-11-01T00:00:00Z' and timestamp '2026-12-01T00:00:00Z') >= 1
//   last_seen(visit) >= today('Europe/Paris') - 7 days
//   any(interests where key = 'cars' and value > 45) AND distance(home, 48.8566, 2.3522) < 50
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "profile.hpp"

namespace customer_profile::core {

enum class CompareOp : std::uint8_t { eq, ne, lt, le, gt, ge };
const char* compare_op_text(CompareOp op);

struct PredicateNode;

// Something with a value: a trait, a literal, now() (plus or minus an
// interval), today (a calendar day's start in a time zone, plus or minus
// days), last_seen([event type]), a behavior aggregate over a sliding window
// or between two instants, or the distance from a point trait.
struct Operand {
    enum class Kind : std::uint8_t {
        trait,
        literal,
        now,
        last_seen,
        count,
        sum,
        count_between,  // count(type [where ...] between timestamp 'a' and timestamp 'b'): a <= occurred_at < b
        sum_between,
        today,    // the start of today in the time zone `name` ("": UTC), plus `offset` (whole days)
        distance  // distance(point trait `name`, lat, lon) in kilometres
    } kind = Kind::literal;
    std::string name;                  // trait name; event type for last_seen/count/sum ("" = any, last_seen only)
    std::string property;              // sum: the measure
    TraitValue literal;                // literal
    Micros offset = 0;                 // now() + offset, last_seen() + offset, today + offset
    Micros within = 0;                 // count/sum window (0 = all time)
    Micros from = 0, to = 0;           // count_between/sum_between: the half-open range [from, to)
    double lat = 0, lon = 0;           // distance: the point measured from
    std::vector<PredicateNode> where;  // count/sum: at most one filter over event properties

    bool is_aggregate() const {
        return kind == Kind::count || kind == Kind::sum || kind == Kind::count_between || kind == Kind::sum_between;
    }
    bool is_ranged() const { return kind == Kind::count_between || kind == Kind::sum_between; }
    // Answered from the stored events rather than the daily buckets: a
    // where filter, or a range whose ends are not UTC midnights.
    bool reads_events() const {
        return !where.empty() ||
               (is_ranged() && (from % (INT64_C(86400) * 1000000) != 0 || to % (INT64_C(86400) * 1000000) != 0));
    }
    bool counts() const { return kind == Kind::count || kind == Kind::count_between; }
};

struct PredicateNode {
    enum class Kind : std::uint8_t {
        and_,
        or_,
        not_,        // children
        compare,     // left op right
        in_list,     // left [NOT] IN (list)
        between,     // left [NOT] BETWEEN right AND upper
        like,        // left [NOT] LIKE|ILIKE pattern
        is_null,     // left IS [NOT] NULL
        has,         // has(name)
        in_segment,  // in_segment('name')
        known,
        anonymous,
        consent,     // consent(purpose): the person's latest statement on the purpose granted it
        in_cluster,  // in_cluster(n): profile_cluster() put the person in cluster n (name holds n)
        distinct,    // left IS DISTINCT FROM right (negated: IS NOT DISTINCT FROM): never unknown
        regex,       // left ~ pattern (case_insensitive: ~*, negated: !~), RE2 syntax
        any_element  // any(name where children[0]): some object of a list-of-objects trait matches
    } kind = Kind::known;
    std::vector<PredicateNode> children;
    CompareOp op = CompareOp::eq;
    bool negated = false;           // NOT IN, NOT BETWEEN, NOT LIKE, IS NOT NULL, IS NOT DISTINCT FROM, !~
    bool case_insensitive = false;  // ILIKE
    Operand left, right, upper;
    std::vector<TraitValue> list;
    std::string name;  // has(), in_segment(), consent() purpose, LIKE and regex pattern, any() trait
};

// Limits that keep a hostile predicate from using unbounded memory or stack.
constexpr std::size_t kMaxPredicateBytes = 65536;
constexpr int kMaxPredicateDepth = 64;
constexpr std::size_t kMaxPredicateNodes = 2000;
constexpr std::size_t kMaxPredicateNameBytes = 1024;  // trait, event, property and segment names
// Intervals (now() - 7 days, within 30 days) up to 36,500 days (100 years).
constexpr Micros kMaxPredicateInterval = INT64_C(36500) * 86400 * 1000000;
// Time zone names (today('Europe/Paris')): as in the tz database, checked
// against it by the glue.
constexpr std::size_t kMaxTimeZoneNameBytes = 64;
bool plausible_time_zone_name(std::string_view zone);

// A consent purpose: 1-63 lower-case letters, digits and underscores,
// starting with a letter (the rule consent_set() applies).
bool valid_consent_purpose(std::string_view purpose);
// A cluster number as in_cluster() takes it: 1 to kMaxClusters, in decimal.
constexpr int kMaxClusters = 1000;
bool valid_cluster_number(std::string_view digits);

}  // namespace customer_profile::core

namespace customer_profile::core {

bool operator==(const Operand& a, const Operand& b);

// The segments named by in_segment() anywhere in the tree, sorted, unique.
std::vector<std::string> referenced_segments(const PredicateNode& node);
// The time zones named by today('zone') anywhere in the tree, sorted, unique.
std::vector<std::string> referenced_time_zones(const PredicateNode& node);
// The same tree with every today without a zone reading `zone`, and every
// today reading `old_zone` reading `zone` (a segment's time zone changed).
PredicateNode with_time_zone(PredicateNode node, const std::string& zone, const std::string& old_zone = "");

// What a predicate reads, so that a change re-evaluates only the segments
// it can affect.
struct PredicateDeps {
    std::vector<std::string> traits;       // sorted
    std::vector<std::string> event_types;  // sorted; from count/sum/last_seen(type)
    bool any_event = false;                // last_seen() of any type
    bool known = false;                    // known / anonymous
    bool time = false;                     // now() or a window: the result can change as time passes
    bool filtered = false;                 // a count/sum with a where filter (reads events)
    std::vector<std::string> consents;     // sorted; purposes read by consent()
    bool clusters = false;                 // in_cluster()
};
PredicateDeps predicate_dependencies(const PredicateNode& node);

// The same predicate with the operands of every AND and OR ordered cheapest
// first (traits, then the behavior summary, then what needs a query:
// known/anonymous, consent, other segments, filtered counts). AND and OR give the
// same result in any order; evaluation stops sooner.
PredicateNode cheapest_first(PredicateNode node);
bool operator==(const PredicateNode& a, const PredicateNode& b);
inline bool operator!=(const PredicateNode& a, const PredicateNode& b) {
    return !(a == b);
}

}  // namespace customer_profile::core
