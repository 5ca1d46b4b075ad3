#pragma once
// Test support: the message of the camscope::Error a call throws.
#include <string>

#include "camscope/util/error.hpp"

namespace camscope::support {

/// The message of the Error `f` throws; "<no error>" when it throws none (which no expected
/// wording contains, so a check of the message fails).
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "<no error>";
}

}  // namespace camscope::support
