#pragma once
// glibc's malloc and LibTorch's tensors.
//
// glibc serves every allocation above its mmap threshold with a fresh mmap() and returns it with
// munmap() when freed, so each intermediate tensor of a forward pass costs page faults and the
// kernel's zeroing of fresh pages. The threshold is dynamic (it rises to the size of the largest
// mmapped block freed so far, up to 32 MiB), so whether a process pays depends on what it freed
// before: measured on a CIFAR ResNet-56 forward this alone halves LibTorch's throughput.
// tune_allocator() fixes the threshold at its maximum (32 MiB on 64-bit) and keeps freed memory at
// the top of the heap (trim threshold 1 GiB) so that the next batch reuses it. Called once per
// process by everything that runs a model (Model::load, training); no user setting needed.
// CAMSCOPE_ALLOCATOR=system leaves glibc's defaults (for benchmarks that measure the trap).
#include <string>

namespace camscope {

/// Applies the setting once per process (thread-safe). Returns a one-line description of the
/// allocator in effect, for benchmark headers and `--version`-like notes.
const std::string& tune_allocator();

}  // namespace camscope
