// libFuzzer target: the analysis store (camscope/report/store.cpp) that `merge`, `compare` and
// `analyze --resume` read — folders that come from other processes and other machines — and the
// .npy reader under it (camscope/util/npy.cpp).
// Input layout: 2-byte big-endian length of manifest.json, manifest.json, then `rest`:
//   - `rest` itself is read as a .npy file: whatever read_npy accepts must hold exactly
//     product(shape) × item size bytes;
//   - if the manifest parses (parse_store_manifest) and its arrays are small, the store's arrays are
//     written with the shapes it names, their items taken cyclically from `rest` (the first byte of
//     `rest` chooses whether index.npy holds the expected row numbers), and read_store must either
//     refuse with camscope::Error or give rows that hold what build_report relies on.
// Only camscope::Error may escape.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/report/store.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/npy.hpp"
#include "fuzz_common.hpp"

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

std::size_t item_size(const std::string& dtype) {
    if (dtype == "<f8" || dtype == "<i8") return 8;
    if (dtype == "<f4" || dtype == "<i4") return 4;
    return 1;
}

// Items of a .npy array of `count` items of `isz` bytes, taken cyclically from `src`.
std::vector<std::uint8_t> cyclic(const std::uint8_t* src, std::size_t size, std::size_t bytes) {
    std::vector<std::uint8_t> out(bytes);
    for (std::size_t i = 0; i < bytes; ++i) out[i] = size ? src[i % size] : 0;
    return out;
}

void put_npy(const std::string& name, const std::string& dtype, const std::vector<std::int64_t>& shape,
             const std::vector<std::uint8_t>& items) {
    const auto bytes = camscope::encode_npy(items.data(), dtype, shape);
    camscope::fuzz::put(name, bytes.data(), bytes.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace fs = std::filesystem;
    if (size < 2) return 0;
    const std::size_t len = std::min<std::size_t>((std::size_t(data[0]) << 8) | data[1], size - 2);
    const std::uint8_t* manifest = data + 2;
    const std::uint8_t* rest = data + 2 + len;
    const std::size_t rest_size = size - 2 - len;

    // 1. The .npy reader on arbitrary bytes.
    try {
        const auto raw = camscope::fuzz::put("raw.npy", rest, rest_size);
        const camscope::NpyArray a = camscope::read_npy(raw);
        std::size_t items = 1;
        for (auto d : a.shape) {
            require(d >= 0);
            require(!__builtin_mul_overflow(items, static_cast<std::size_t>(d), &items));
        }
        require(a.bytes.size() == items * item_size(a.dtype));
    } catch (const camscope::Error&) {
    }

    // 2. A store folder built from the manifest.
    const fs::path dir = camscope::fuzz::scratch_dir() / "store";
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir);
    const std::string mtext(reinterpret_cast<const char*>(manifest), len);
    const nlohmann::json j = nlohmann::json::parse(mtext, nullptr, false);
    camscope::StoreManifest m;
    try {
        m = camscope::parse_store_manifest(j, "manifest.json");
    } catch (const camscope::Error&) {
        return 0;
    }
    const std::int64_t n = static_cast<std::int64_t>(m.end - m.begin);
    const std::int64_t k = m.num_classes, hw = std::int64_t{m.fh} * m.fw;
    if (n > 256 || k > 256 || hw > 256) return 0;  // keep each run small
    camscope::fuzz::put("store/manifest.json", manifest, len);
    const bool right_index = rest_size == 0 || (rest[0] & 1) == 0;
    std::vector<std::int64_t> index(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) index[i] = static_cast<std::int64_t>(m.begin) + i;
    std::vector<std::uint8_t> index_bytes(index.size() * 8);
    if (!index.empty()) std::memcpy(index_bytes.data(), index.data(), index_bytes.size());
    put_npy("store/index.npy", "<i8", {n}, right_index ? index_bytes : cyclic(rest, rest_size, std::size_t(n) * 8));
    put_npy("store/label.npy", "<i8", {n}, cyclic(rest, rest_size, std::size_t(n) * 8));
    put_npy("store/logits.npy", "<f4", {n, k}, cyclic(rest, rest_size, std::size_t(n * k) * 4));
    put_npy("store/cam_pred.npy", "<f4", {n, m.fh, m.fw}, cyclic(rest, rest_size, std::size_t(n * hw) * 4));
    put_npy("store/cam_true.npy", "<f4", {n, m.fh, m.fw}, cyclic(rest + (rest_size > 1), rest_size - (rest_size > 1),
                                                                  std::size_t(n * hw) * 4));
    try {
        const camscope::Store s = camscope::read_store(dir.string());
        const auto& in = s.rows;
        require(in.n == static_cast<std::size_t>(n));
        require(in.indices.size() == in.n && in.labels.size() == in.n);
        require(in.logits.size() == in.n * static_cast<std::size_t>(k) && in.probs.size() == in.logits.size());
        require(in.cam_pred.size() == in.n * static_cast<std::size_t>(hw) && in.cam_true.size() == in.cam_pred.size());
        for (std::size_t i = 0; i < in.n; ++i) {
            require(static_cast<std::int64_t>(in.indices[i]) == static_cast<std::int64_t>(m.begin + i));
            require(in.labels[i] >= 0 && in.labels[i] < k);
        }
        require(in.class_names.size() == static_cast<std::size_t>(k));
    } catch (const camscope::Error&) {
    }
    return 0;
}
