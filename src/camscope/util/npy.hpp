#pragma once
// Minimal NumPy .npy reader (format 1.0/2.0; <f4 <f8 <i8 <i4 |u1 |b1, C order) and writer
// (format 1.0, the same dtypes). Enough for CAM maps (N×H×W float32) and test fixtures written by numpy.
#include <cstdint>
#include <string>
#include <vector>

namespace camscope {

struct NpyArray {
    std::string dtype;                 // "<f4", "<f8", "<i8", "<i4", "|u1", "|b1"
    std::vector<std::int64_t> shape;
    std::vector<std::uint8_t> bytes;   // raw little-endian data
    std::vector<float> as_float() const;   // converts any supported dtype
    std::vector<std::int64_t> as_int() const;  // integer dtypes only; throws Error for floats
    std::int64_t count() const;
};

/// An array of `dtype` (one of NpyArray's) from raw little-endian items, C order.
std::vector<std::uint8_t> encode_npy(const void* data, const std::string& dtype, const std::vector<std::int64_t>& shape);
std::vector<std::uint8_t> encode_npy_f32(const float* data, const std::vector<std::int64_t>& shape);
/// Atomic write of a float32 array.
void write_npy(const std::string& path, const float* data, const std::vector<std::int64_t>& shape);
/// Throws Error naming the file on bad magic, unsupported dtype, Fortran order, truncation.
NpyArray read_npy(const std::string& path);

}  // namespace camscope
