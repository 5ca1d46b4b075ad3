#pragma once
// A small parallel loop for independent CPU work (perturbed inputs, figures, overlays): no pool
// that outlives the call, no work stealing; the items are handed out one at a time from an atomic
// counter, so uneven items balance themselves. Results must go to per-item slots: the order in
// which items run is not defined.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace camscope {

/// Threads to use for `requested` (<= 0: every core the system reports, at least 1).
inline int worker_threads(int requested) {
    if (requested > 0) return requested;
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

/// f(0) … f(n-1) on up to `threads` threads (the caller's included; <= 1 runs them in order on the
/// caller's thread). Every item runs even when one throws; the first exception is rethrown after
/// all threads have joined.
template <class F>
void parallel_for(std::size_t n, int threads, F&& f) {
    const std::size_t t = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, threads)), n);
    if (t <= 1) {
        for (std::size_t i = 0; i < n; ++i) f(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr err;
    std::mutex mu;
    auto work = [&] {
        for (std::size_t i; (i = next++) < n;) {
            try {
                f(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu);
                if (!err) err = std::current_exception();
            }
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(t - 1);
    for (std::size_t k = 1; k < t; ++k) pool.emplace_back(work);
    work();
    for (auto& th : pool) th.join();
    if (err) std::rethrow_exception(err);
}

}  // namespace camscope
