#pragma once
// Error types shared by every camscope area. Errors say where (file, record, offset, layer)
// and what was expected; the CLI maps them to exit codes (UsageError -> 2, Error -> 1).
#include <stdexcept>
#include <string>

namespace camscope {

/// A runtime failure: unreadable or malformed input, a model that does not fit, I/O errors.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The user asked for something impossible (bad flag value, unknown method). Exit code 2.
class UsageError : public Error {
public:
    using Error::Error;
};

/// "FILE: what" / "FILE: record N (offset M): what" — one format for all input errors.
std::string where(const std::string& file, const std::string& what);
std::string where(const std::string& file, long long record, long long offset, const std::string& what);

}  // namespace camscope
