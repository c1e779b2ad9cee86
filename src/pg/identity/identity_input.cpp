// Validation, normalization and hashing of the identities argument.
#include "pg/identity/identity_input.hpp"

#include <algorithm>
#include <optional>

#include "pg/infra/boundary.hpp"

namespace customer_profile::pg {
namespace {

struct RawIdentifier {
    std::string key;
    std::string value;
};

[[noreturn]] void bad_shape(const std::string& message, const std::string& hint = {}) {
    throw core::Error(core::ErrorCode::invalid_parameter, message, {}, hint);
}

const char* json_type_name(enum jbvType type) {
    switch (type) {
        case jbvNumeric:
            return "number";
        case jbvBool:
            return "boolean";
        case jbvString:
            return "string";
        case jbvNull:
            return "null";
        default:
            return "object or array";
    }
}

// Walks the jsonb object; returns key/value pairs, or throws on a bad shape.
std::vector<RawIdentifier> read_pairs(Jsonb* jb) {
    std::vector<RawIdentifier> pairs;
    std::string error;  // set instead of throwing while PostgreSQL iterates
    std::string key;    // lives outside the guarded lambda: a longjmp must not skip it
    bool is_object = false;
    pg_guard([&] {
        is_object = JB_ROOT_IS_OBJECT(jb) && !JB_ROOT_IS_SCALAR(jb);
        if (!is_object) return;
        JsonbIterator* it = JsonbIteratorInit(&jb->root);
        JsonbValue v;
        JsonbIteratorToken tok;
        int depth = 0;
        while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE && error.empty()) {
            switch (tok) {
                case WJB_BEGIN_OBJECT:
                    if (++depth > 1)
                        error = "value of \"" + key + "\" is an object; expected a string or an array of strings";
                    break;
                case WJB_BEGIN_ARRAY:
                    if (++depth > 2) error = "value of \"" + key + "\" contains a nested array; expected strings";
                    break;
                case WJB_END_OBJECT:
                case WJB_END_ARRAY:
                    --depth;
                    break;
                case WJB_KEY:
                    key.assign(v.val.string.val, v.val.string.len);
                    break;
                case WJB_VALUE:
                case WJB_ELEM:
                    if (v.type == jbvString)
                        pairs.push_back({key, std::string(v.val.string.val, v.val.string.len)});
                    else if (v.type != jbvNull)
                        error = "value of \"" + key + "\" is a " + json_type_name(v.type) +
                                "; identifiers must be JSON strings";
                    break;
                default:
                    break;
            }
        }
    });
    if (!is_object)
        bad_shape("identities must be a JSON object",
                  "Example: {\"email\": \"ann@example.com\", \"cookie\": \"c-19\"}");
    if (!error.empty()) bad_shape(error, "Write numbers as strings, e.g. {\"crm_id\": \"42\"}.");
    return pairs;
}

// One identifier: its namespace, its normalized value and the blocklist's
// verdict. Throws core::Error for an unknown namespace or a malformed value.
struct CheckedIdentifier {
    const NamespaceConfig* ns = nullptr;
    std::string normalized;  // empty when a placeholder was blocked before normalizing
    core::BlockMatch match;
};

CheckedIdentifier check_identifier(const IdentityCatalog& catalog, const std::string& key, const std::string& value) {
    CheckedIdentifier out;
    out.ns = &namespace_or_throw(catalog, key);
    out.match = out.ns->blocklist.check_placeholder(value);
    if (out.match.rule != core::BlockMatch::Rule::none) return out;
    try {
        out.normalized = core::normalize_identifier(out.ns->normalizer, value, catalog.options);
    } catch (const core::Error& e) {
        throw core::Error(e.code(), "invalid \"" + key + "\" identifier: " + e.what(), e.detail(), e.hint());
    }
    out.match = out.ns->blocklist.check(out.normalized);
    return out;
}

}  // namespace

std::optional<core::Error> identifier_refusal(const IdentityCatalog& catalog, const std::string& key,
                                              const std::string& value) {
    try {
        check_identifier(catalog, key, value);
    } catch (const core::Error& e) {
        return e;
    }
    return std::nullopt;
}

PreparedInput prepare_identities(Jsonb* identities, const IdentityCatalog& catalog) {
    std::vector<RawIdentifier> pairs = read_pairs(identities);
    if (pairs.empty())
        bad_shape("identities holds no identifier", "Pass at least one namespace key with a string value.");
    if (pairs.size() > kMaxIdentifiersPerCall)
        throw core::Error(core::ErrorCode::limit_exceeded,
                          "identities holds " + std::to_string(pairs.size()) + " identifiers; at most " +
                              std::to_string(kMaxIdentifiersPerCall) + " are accepted per call");
    PreparedInput out;
    for (const auto& pair : pairs) {
        CheckedIdentifier checked = check_identifier(catalog, pair.key, pair.value);
        const NamespaceConfig& ns = *checked.ns;
        const core::BlockMatch& match = checked.match;
        std::string& normalized = checked.normalized;
        if (match.rule != core::BlockMatch::Rule::none) {
            out.blocked.push_back(
                {&ns, match.rule == core::BlockMatch::Rule::blocked_value ? "blocked_value" : "blocked_pattern",
                 match.what});
            continue;
        }
        std::string hash = identity_hash(catalog, ns, normalized);
        bool duplicate = std::any_of(out.identifiers.begin(), out.identifiers.end(),
                                     [&](const PreparedIdentifier& p) { return p.hash == hash; });
        if (!duplicate) out.identifiers.push_back({&ns, std::move(normalized), std::move(hash)});
    }
    return out;
}

}  // namespace customer_profile::pg
