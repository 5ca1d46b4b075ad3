#pragma once
// Helpers of the CLI tests: run the real camscope binary and read what it wrote. They live in
// tests/support/ (shared with the server and unit tests); this header keeps the CLI tests'
// namespace camscope::testing.
#include "camscope/util/strings.hpp"  // format, split: the CLI tests use them
#include "support/cli.hpp"

namespace camscope::testing {
using namespace camscope::support;
}  // namespace camscope::testing
