#pragma once
// LibTorch's intra-op thread count is process-wide, and in a Python process it is PyTorch's too
// (torch.get_num_threads(): one libtorch). The CLI sets it once (configure_threads, engine.hpp);
// a caller that must leave its host's setting alone (the Python package) sets it only for the
// duration of a call and on the calling thread, with ScopedThreads. Torch-free.

namespace camscope {

/// For its lifetime LibTorch runs this thread's work with `threads` intra-op threads (at most one
/// per core, as configure_threads); the count in effect before is restored when it ends. Other
/// threads' counts, and the count a thread started meanwhile takes, do not change (with LibTorch's
/// OpenMP; without it, the process-wide count changes for the scope). `threads` <= 0: the current
/// setting is used and nothing changes.
class ScopedThreads {
public:
    explicit ScopedThreads(int threads);
    ~ScopedThreads();
    ScopedThreads(const ScopedThreads&) = delete;
    ScopedThreads& operator=(const ScopedThreads&) = delete;

private:
    int previous_ = 0;  // > 0: the count to restore
};

}  // namespace camscope
