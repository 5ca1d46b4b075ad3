// Linked into every test binary (keeps each target non-empty while its folder fills up, and
// documents the environment the tests expect).
#include <cstdlib>

namespace {
// Two OpenMP threads spin-wait and collapse when another process is busy; tests run beside others.
const int kPassiveOmp = [] { return setenv("OMP_WAIT_POLICY", "PASSIVE", 0); }();
}  // namespace
