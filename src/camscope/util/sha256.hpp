#pragma once
// SHA-256 (FIPS 180-4), for the identity of the files a report was made from (the model file):
// a result folder records the digest of the model that produced it, and `camscope serve --results`
// compares it with the model it runs. Plain, portable code; ~200–300 MB/s.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace camscope {

class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t size);
    void update(std::string_view s) { update(s.data(), s.size()); }
    /// `v` as 8 little-endian bytes (counts, indices and sizes in fingerprints).
    void update_u64(std::uint64_t v) {
        std::uint8_t b[8];
        for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
        update(b, 8);
    }
    /// The digest; the object is spent afterwards.
    std::array<std::uint8_t, 32> finish();
    /// The digest as 64 lower-case hex digits.
    std::string hex();

private:
    void block(const std::uint8_t* p);
    std::uint32_t h_[8];
    std::uint8_t buf_[64];
    std::size_t used_ = 0;
    std::uint64_t bytes_ = 0;
};

/// SHA-256 of `data` as 64 hex digits.
std::string sha256_hex(std::string_view data);
/// SHA-256 of a whole file as 64 hex digits (streamed). Throws Error naming the path.
std::string sha256_file(const std::string& path);

}  // namespace camscope
