// ScopedThreads (threads.hpp).
#include "camscope/engine/threads.hpp"

#include <ATen/Parallel.h>

#include "camscope/engine/engine.hpp"

namespace camscope {

ScopedThreads::ScopedThreads(int threads) {
    if (threads <= 0) return;
    const int before = at::get_num_threads();
    if (configure_threads(threads) != before) previous_ = before;
}

ScopedThreads::~ScopedThreads() {
    if (previous_ > 0) at::set_num_threads(previous_);
}

}  // namespace camscope
