// ScopedThreads (threads.hpp).
#include "camscope/engine/threads.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <thread>

#include <ATen/Parallel.h>

namespace camscope {

namespace {

/// LibTorch's OpenMP runtime's omp_set_num_threads, which sets the calling thread's count only
/// (at::set_num_threads also sets the count every thread that starts meanwhile takes: another
/// Python thread's first torch call during ours would keep ours for good). Looked up at run time:
/// the runtime is loaded with libtorch, and linking it here would tie the build to it. Null when
/// LibTorch was not built with OpenMP.
using SetThreads = void (*)(int);
SetThreads omp_set_threads() {
    static const auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    return f;
}

void set_this_threads(int n) {
    if (auto f = omp_set_threads()) {
        f(n);
    } else {
        at::set_num_threads(n);
    }
}

}  // namespace

ScopedThreads::ScopedThreads(int threads) {
    if (threads <= 0) return;
    const int before = at::get_num_threads();  // (also sets this thread's count up, once, as LibTorch does)
    // configure_threads' rule (at most one thread per core), for this thread only
    const int n = std::min(threads, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    if (n == before) return;
    set_this_threads(n);
    previous_ = before;
}

ScopedThreads::~ScopedThreads() {
    if (previous_ > 0) set_this_threads(previous_);
}

}  // namespace camscope
