// Large images decoded at a reduced size: resize_area against hand-computed area means,
// reduced_size, and decode_image_reduced (PNG: exactly the area reduction of the full decode;
// JPEG: libjpeg-turbo's DCT-scaled decode, within a few grey levels of it).
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <cmath>
#include <cstdlib>
#include <memory>

#include "camscope/image/image.hpp"
#include "camscope/util/error.hpp"

using namespace camscope;

namespace {

// A smooth colour image (a few cycles across it): reductions of it differ only by rounding.
Image smooth_image(int w, int h, int channels) {
    Image img{w, h, channels, std::vector<std::uint8_t>(static_cast<size_t>(w) * h * channels)};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < channels; ++c) {
                const double u = (x + 0.5) / w, v = (y + 0.5) / h;
                const double val = 128 + 90 * std::sin(6.2832 * (1.3 * u + 0.7 * v) + 1.9 * c) * std::cos(3.1 * v - u);
                img.pixels[(static_cast<size_t>(y) * w + x) * channels + c] = static_cast<std::uint8_t>(std::lround(val));
            }
    return img;
}

std::vector<std::uint8_t> encode_jpeg(const Image& img, int quality) {
    std::unique_ptr<void, int (*)(tjhandle)> h(tjInitCompress(), tjDestroy);
    unsigned char* buf = nullptr;
    unsigned long size = 0;
    const int pf = img.channels == 1 ? TJPF_GRAY : TJPF_RGB;
    const int ss = img.channels == 1 ? TJSAMP_GRAY : TJSAMP_444;
    if (tjCompress2(h.get(), img.pixels.data(), img.width, 0, img.height, pf, &buf, &size, ss, quality, 0) != 0)
        throw std::runtime_error(tjGetErrorStr2(h.get()));
    std::vector<std::uint8_t> out(buf, buf + size);
    tjFree(buf);
    return out;
}

struct Diff {
    int max = 0;
    double mean = 0;
};
Diff diff(const Image& a, const Image& b) {
    Diff d;
    for (size_t i = 0; i < a.pixels.size(); ++i) {
        const int e = std::abs(int(a.pixels[i]) - int(b.pixels[i]));
        d.max = std::max(d.max, e);
        d.mean += e;
    }
    d.mean /= static_cast<double>(a.pixels.size());
    return d;
}

}  // namespace

TEST(ImageReduce, ResizeAreaIsTheMeanOfTheCoveredArea) {
    // 5×2 grey -> 2×1: each output pixel covers 2.5 columns and both rows. Column means are
    // 35 45 55 65 75, so out = (35 + 45 + 0.5·55)/2.5 = 43 and (0.5·55 + 65 + 75)/2.5 = 67.
    const Image g{5, 2, 1, {10, 20, 30, 40, 50, 60, 70, 80, 90, 100}};
    const Image r = resize_area(g, 2, 1);
    ASSERT_EQ(r.width, 2);
    ASSERT_EQ(r.height, 1);
    EXPECT_EQ(r.pixels, (std::vector<std::uint8_t>{43, 67}));
    // RGB 4×2 -> 2×1: plain 2×2 block means per channel (rounded to nearest: 2.5 -> 3).
    Image c{4, 2, 3, std::vector<std::uint8_t>(24)};
    for (int i = 0; i < 8; ++i)
        for (int k = 0; k < 3; ++k) c.pixels[3 * i + k] = static_cast<std::uint8_t>(10 * i + k);
    const Image rc = resize_area(c, 2, 1);
    // Block 0: pixels 0,1,4,5 -> 10·(0+1+4+5)/4 = 25 (+k); block 1: pixels 2,3,6,7 -> 45 (+k).
    EXPECT_EQ(rc.pixels, (std::vector<std::uint8_t>{25, 26, 27, 45, 46, 47}));
    // Same size: a copy; a constant image stays constant at any reduction.
    EXPECT_EQ(resize_area(g, 5, 2).pixels, g.pixels);
    const Image flat{97, 41, 3, std::vector<std::uint8_t>(97 * 41 * 3, 200)};
    const Image rf = resize_area(flat, 13, 6);
    for (auto v : rf.pixels) ASSERT_EQ(v, 200);
    EXPECT_THROW(resize_area(g, 6, 1), Error);  // enlarging
    EXPECT_THROW(resize_area(g, 0, 1), Error);
}

TEST(ImageReduce, ReducedSizeCoversTheModelInput) {
    // A 4000×3000 photo for a 28×28 model: scale 28/3000, 37×28 (aspect ratio kept).
    EXPECT_EQ(reduced_size(4000, 3000, 28, 28), std::make_pair(37, 28));
    EXPECT_EQ(reduced_size(3000, 4000, 32, 32), std::make_pair(32, 43));
    EXPECT_EQ(reduced_size(64, 64, 32, 32), std::make_pair(32, 32));  // exactly 2x: reduced
    EXPECT_EQ(reduced_size(60, 64, 32, 32), std::make_pair(60, 64));  // less than 2x: untouched
    EXPECT_EQ(reduced_size(28, 28, 32, 32), std::make_pair(28, 28));  // smaller than the input
    EXPECT_EQ(reduced_size(4000, 3000, 0, 0), std::make_pair(4000, 3000));  // no input size given
    // A panorama still covers the input in its short dimension.
    EXPECT_EQ(reduced_size(8000, 400, 64, 64), std::make_pair(1280, 64));
}

TEST(ImageReduce, LargePngDecodesToTheAreaReductionOfTheFullImage) {
    const Image big = smooth_image(1200, 900, 3);
    const auto png = encode_png(big);
    const Image r = decode_image_reduced(png.data(), png.size(), "big.png", 32, 32);
    EXPECT_EQ(r.width, 43);
    EXPECT_EQ(r.height, 32);
    EXPECT_EQ(r.channels, 3);
    EXPECT_EQ(r.pixels, resize_area(big, 43, 32).pixels);
    // Grey PNG too; and an image under 2x the input decodes as before, byte for byte.
    const Image grey = smooth_image(300, 200, 1);
    const auto gpng = encode_png(grey);
    const Image gr = decode_image_reduced(gpng.data(), gpng.size(), "grey.png", 28, 28);
    EXPECT_EQ(gr.width, 42);
    EXPECT_EQ(gr.height, 28);
    EXPECT_EQ(gr.channels, 1);
    const Image small = smooth_image(40, 36, 3);
    const auto spng = encode_png(small);
    EXPECT_EQ(decode_image_reduced(spng.data(), spng.size(), "s.png", 32, 32).pixels, small.pixels);
}

TEST(ImageReduce, LargeJpegDecodesAtAReducedScaleCloseToTheFullDecode) {
    for (int channels : {3, 1}) {
        const Image big = smooth_image(1600, 1200, channels);
        const auto jpg = encode_jpeg(big, 95);
        const Image full = decode_image(jpg.data(), jpg.size(), "big.jpg");
        ASSERT_EQ(full.width, 1600);
        const Image r = decode_image_reduced(jpg.data(), jpg.size(), "big.jpg", 32, 32);
        ASSERT_EQ(r.width, 43) << channels;
        ASSERT_EQ(r.height, 32) << channels;
        ASSERT_EQ(r.channels, channels);
        // DCT scaling (here 1/8: 200×150) then the area reduction, against the area reduction of the
        // full decode: the same picture within a few grey levels.
        const Diff d = diff(r, resize_area(full, 43, 32));
        EXPECT_LE(d.max, 4) << channels;
        EXPECT_LE(d.mean, 1.0) << channels;
        // And against the image before compression.
        const Diff d0 = diff(r, resize_area(big, 43, 32));
        EXPECT_LE(d0.max, 6) << channels;
    }
    // Corrupt data is refused on the reduced path too, naming the file.
    const auto jpg = encode_jpeg(smooth_image(640, 480, 3), 90);
    std::vector<std::uint8_t> cut(jpg.begin(), jpg.begin() + static_cast<long>(jpg.size() / 2));
    try {
        decode_image_reduced(cut.data(), cut.size(), "cut.jpg", 32, 32);
        FAIL() << "a truncated JPEG decoded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cut.jpg"), std::string::npos) << e.what();
    }
}
