#pragma once
// The engine tests' fixtures: tests/support/fixtures.hpp, in the engine tests' namespace
// camscope::testing.
#include "support/fixtures.hpp"

namespace camscope::testing {
using camscope::support::fixture_manifest;
using camscope::support::kFixtures;
using camscope::support::max_abs_diff;
using camscope::support::spec_of;
}  // namespace camscope::testing
