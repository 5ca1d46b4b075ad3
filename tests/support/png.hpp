#pragma once
// Test support: PNGs read back (decoded by camscope's own decoder, which tests/unit/core/test_image.cpp
// checks against hand-built files) and their pixels counted or compared.
#include <cstdint>
#include <filesystem>
#include <string>

#include "camscope/image/image.hpp"

namespace camscope::support {

/// Whether `bytes` start with the PNG signature (and hold more than it).
bool is_png_data(const std::string& bytes);
/// Whether the file at `p` is a PNG (is_png_data of its bytes).
bool is_png(const std::filesystem::path& p);

/// `bytes` (a PNG, or any format decode_image reads) decoded; `what` names it in an error.
Image decode_png(const std::string& bytes, const std::string& what = "png");
/// The image file at `p` decoded.
Image read_png(const std::filesystem::path& p);

/// How many pixels of `img` (3 or more channels) have exactly the colour 0xRRGGBB; 0 for grey images.
long count_rgb(const Image& img, std::uint32_t rgb);
/// Whether every pixel of `img` (3 or more channels) has R == G == B: no colour at all.
bool is_grey(const Image& img);

}  // namespace camscope::support
