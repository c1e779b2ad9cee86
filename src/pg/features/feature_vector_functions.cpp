// Feature vectors: value expressions of the predicate language evaluated on
// stored profiles, the numbers behind customer value and the vectors that
// clustering and look-alikes compare (cluster_functions.cpp):
//   _operand_describe(expression)  normalized text and the event type it reads
//   _operand_values(profile_id, data, behavior, expressions[])  float8[]
//   _feature_vector(...)  standardized numbers and one-hot categories, real[]
// A number is itself, a boolean 1 or 0, a time the days before now; text and
// missing values are NULL. PARALLEL SAFE: a scan over every profile can use
// parallel workers.
#include "pg/behavior/behavior_store.hpp"
#include "pg/infra/boundary.hpp"
#include "core/predicate_eval.hpp"
#include "core/predicate_format.hpp"
#include "core/predicate_parser.hpp"
#include "core/profile_codec.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/infra/function_cache.hpp"
#include "pg/profile/profile_datum.hpp"
#include "pg/infra/spi_util.hpp"

namespace cp = customer_profile;

namespace customer_profile::pg {
namespace {

// A value expression, refused when it cannot be evaluated from the stored
// profile alone (a where filter reads events one by one).
core::Operand checked_operand(const std::string& text) {
    core::Operand o = core::parse_operand(text);
    if (!o.where.empty())
        throw core::Error(core::ErrorCode::invalid_parameter,
                          "a where filter is not allowed in a value expression: it reads events one by one", {},
                          "Declare the property as a measure and use sum(type.measure) instead.");
    return o;
}

// The parsed expressions, kept for the whole query in fn_extra.
struct OperandCache {
    bool parsed = false;
    std::vector<std::string> texts;
    std::vector<core::Operand> operands;
};

const OperandCache& operand_cache(FunctionCallInfo fcinfo, int arg) {
    std::vector<std::string> texts = text_array_arg(fcinfo, arg, "expressions");
    OperandCache* cache = &function_cache<OperandCache>(fcinfo);
    if (cache->parsed && cache->texts == texts) return *cache;
    cache->parsed = false;  // until every expression parsed
    cache->operands.clear();
    for (const auto& t : texts) cache->operands.push_back(checked_operand(t));
    cache->texts = std::move(texts);
    cache->parsed = true;
    return *cache;
}

std::optional<double> numeric(const core::TraitValue& v, core::Micros now) {
    switch (v.type) {
        case core::TraitType::number:
            return v.number;
        case core::TraitType::boolean:
            return v.boolean ? 1.0 : 0.0;
        case core::TraitType::timestamp:
            return static_cast<double>(now - v.timestamp) / static_cast<double>(core::kMicrosPerDay);
        default:
            return std::nullopt;
    }
}

}  // namespace
}  // namespace customer_profile::pg

// _operand_describe(expression text, OUT normalized text, OUT event_type text)
CP_FUNCTION(operand_describe) {
    cp::core::Operand o = cp::pg::checked_operand(cp::pg::text_arg(fcinfo, 0));
    std::string normalized = cp::core::format_operand(o);
    bool reads_events = o.kind == cp::core::Operand::Kind::count || o.kind == cp::core::Operand::Kind::sum ||
                        (o.kind == cp::core::Operand::Kind::last_seen && !o.name.empty());
    TupleDesc desc = nullptr;
    HeapTuple tuple = nullptr;
    cp::pg::pg_guard([&] {
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "customer_profile: _operand_describe must return a record");
        desc = BlessTupleDesc(desc);
    });
    Datum values[2] = {cp::pg::text_datum(normalized), reads_events ? cp::pg::text_datum(o.name) : (Datum)0};
    bool nulls[2] = {false, !reads_events};
    cp::pg::pg_guard([&] { tuple = heap_form_tuple(desc, values, nulls); });
    return HeapTupleGetDatum(tuple);
}

// _operand_values(profile_id bigint, data profile, behavior bytea, expressions text[]) returns float8[]
CP_FUNCTION(operand_values) {
    if (PG_ARGISNULL(3)) PG_RETURN_NULL();
    const cp::pg::OperandCache& cache = cp::pg::operand_cache(fcinfo, 3);
    cp::core::Profile traits;
    cp::core::Behavior behavior;
    if (!PG_ARGISNULL(1)) traits = cp::core::decode_profile(cp::pg::profile_arg(fcinfo, 1));
    if (!PG_ARGISNULL(2)) behavior = cp::pg::behavior_from_datum(PG_GETARG_DATUM(2));
    cp::core::EvaluationContext context;
    context.cancel = cp::pg::cancel_requested;
    context.traits = &traits;
    context.behavior = &behavior;
    context.now = GetCurrentTransactionStartTimestamp();
    std::vector<Datum> values;
    std::vector<bool> nulls;
    for (const auto& o : cache.operands) {
        auto v = cp::pg::numeric(cp::core::operand_value(o, context), context.now);
        values.push_back(v ? Float8GetDatum(*v) : (Datum)0);
        nulls.push_back(!v);
    }
    return cp::pg::datum_array(values, nulls, FLOAT8OID);
}

// _feature_vector(profile_id, data, behavior, expressions text[], means float8[], stddevs float8[],
//                 category_traits text[], category_values text[]) returns real[]:
// the standardized numbers ((x - mean) / stddev; 0 when missing or constant),
// then one slot per (trait, value) category, 1 when the trait holds it.
CP_FUNCTION(feature_vector) {
    for (int i = 3; i <= 7; ++i)
        if (PG_ARGISNULL(i)) PG_RETURN_NULL();
    const cp::pg::OperandCache& cache = cp::pg::operand_cache(fcinfo, 3);
    std::vector<double> means = cp::pg::float8_array_values(PG_GETARG_DATUM(4));
    std::vector<double> stddevs = cp::pg::float8_array_values(PG_GETARG_DATUM(5));
    std::vector<std::string> traits = cp::pg::text_array_arg(fcinfo, 6, "category_traits");
    std::vector<std::string> values = cp::pg::text_array_arg(fcinfo, 7, "category_values");
    if (means.size() != cache.operands.size() || stddevs.size() != cache.operands.size() ||
        traits.size() != values.size())
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "feature arrays differ in length");
    cp::core::Profile profile;
    cp::core::Behavior behavior;
    if (!PG_ARGISNULL(1)) profile = cp::core::decode_profile(cp::pg::profile_arg(fcinfo, 1));
    if (!PG_ARGISNULL(2)) behavior = cp::pg::behavior_from_datum(PG_GETARG_DATUM(2));
    cp::core::EvaluationContext context;
    context.cancel = cp::pg::cancel_requested;
    context.traits = &profile;
    context.behavior = &behavior;
    context.now = GetCurrentTransactionStartTimestamp();
    std::vector<float> vector;
    for (std::size_t i = 0; i < cache.operands.size(); ++i) {
        auto v = cp::pg::numeric(cp::core::operand_value(cache.operands[i], context), context.now);
        double z = v && stddevs[i] > 0 ? (*v - means[i]) / stddevs[i] : 0.0;
        vector.push_back(static_cast<float>(z));
    }
    for (std::size_t i = 0; i < traits.size(); ++i) {
        const cp::core::Trait* t = profile.find(traits[i]);
        bool holds = t != nullptr && t->value.type == cp::core::TraitType::text && t->value.text == values[i];
        vector.push_back(holds ? 1.0f : 0.0f);
    }
    return cp::pg::float4_array(vector);
}
