// The single table from core error codes to SQLSTATEs.
#include "pg/infra/boundary.hpp"

namespace customer_profile::pg {

int sqlstate_for(core::ErrorCode code) {
    switch (code) {
        case core::ErrorCode::invalid_parameter:
            return ERRCODE_INVALID_PARAMETER_VALUE;  // 22023
        case core::ErrorCode::null_value:
            return ERRCODE_NULL_VALUE_NOT_ALLOWED;  // 22004
        case core::ErrorCode::invalid_text:
            return ERRCODE_INVALID_TEXT_REPRESENTATION;  // 22P02
        case core::ErrorCode::value_too_long:
            return ERRCODE_STRING_DATA_RIGHT_TRUNCATION;  // 22001
        case core::ErrorCode::undefined_object:
            return ERRCODE_UNDEFINED_OBJECT;  // 42704
        case core::ErrorCode::limit_exceeded:
            return ERRCODE_PROGRAM_LIMIT_EXCEEDED;  // 54000
        case core::ErrorCode::out_of_range:
            return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;  // 22003
        case core::ErrorCode::query_canceled:
            return ERRCODE_QUERY_CANCELED;  // 57014
        case core::ErrorCode::serialization_failure:
            return ERRCODE_T_R_SERIALIZATION_FAILURE;  // 40001
        case core::ErrorCode::internal:
            return ERRCODE_INTERNAL_ERROR;  // XX000
    }
    return ERRCODE_INTERNAL_ERROR;
}

}  // namespace customer_profile::pg
