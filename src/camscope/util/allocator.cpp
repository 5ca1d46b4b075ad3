#include "camscope/util/allocator.hpp"

#include <cstdlib>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace camscope {

const std::string& tune_allocator() {
    static std::once_flag once;
    static std::string description;
    std::call_once(once, [] {
#if defined(__GLIBC__)
        const char* env = std::getenv("CAMSCOPE_ALLOCATOR");
        if (env && std::string(env) == "system") {
            description = "glibc malloc, defaults (dynamic mmap threshold; CAMSCOPE_ALLOCATOR=system)";
            return;
        }
        // glibc caps M_MMAP_THRESHOLD at HEAP_MAX_SIZE / 2 = 32 MiB on 64-bit; try that, then less.
        long threshold = 0;
        for (long t : {32L << 20, 16L << 20}) {
            if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(t)) == 1) {
                threshold = t;
                break;
            }
        }
        const bool trim = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
        description = threshold ? "glibc malloc, mmap threshold fixed at " + std::to_string(threshold >> 20) +
                                      " MiB" + (trim ? ", trim threshold 1 GiB" : "")
                                : "glibc malloc, defaults (mallopt refused the mmap threshold)";
#else
        description = "system malloc (not glibc: no tuning)";
#endif
    });
    return description;
}

}  // namespace camscope
