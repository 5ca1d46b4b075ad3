#pragma once
// Shared by the libFuzzer targets: the dataset readers take paths (they stream with pread), so
// the fuzzed bytes are written to files in a per-process folder on /dev/shm (tmpfs: no disk I/O).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "camscope/data/dataset.hpp"
#include "camscope/util/error.hpp"

namespace camscope::fuzz {

inline const std::filesystem::path& scratch_dir() {
    static const std::filesystem::path dir = [] {
        std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
        auto d = base / ("camscope-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        std::atexit([] { std::error_code ec; std::filesystem::remove_all(scratch_dir(), ec); });
        return d;
    }();
    return dir;
}

inline std::string put(const std::string& name, const std::uint8_t* data, std::size_t size) {
    const auto p = scratch_dir() / name;
    FILE* f = std::fopen(p.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return p.string();
}

/// Reads every sample (at most `limit`) and checks what the Dataset interface promises.
inline void read_all(const Dataset& ds, std::size_t limit = 64) {
    const std::size_t n = ds.size() < limit ? ds.size() : limit;
    for (std::size_t i = 0; i < n; ++i) {
        try {
            Sample s = ds.get(i);
            if (s.label < 0 || static_cast<std::size_t>(s.label) >= ds.num_classes()) std::abort();
            if (s.image.pixels.size() !=
                static_cast<std::size_t>(s.image.width) * s.image.height * s.image.channels)
                std::abort();
        } catch (const Error&) {
            // A malformed record is reported, not fatal: the next one may be fine.
        }
    }
}

}  // namespace camscope::fuzz
