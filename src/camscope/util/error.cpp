#include "camscope/util/error.hpp"

namespace camscope {

std::string where(const std::string& file, const std::string& what) { return file + ": " + what; }

std::string where(const std::string& file, long long record, long long offset, const std::string& what) {
    return file + ": record " + std::to_string(record) + " (byte offset " + std::to_string(offset) + "): " + what;
}

}  // namespace camscope
