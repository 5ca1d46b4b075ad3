// image/cam_view: the one function that turns a CAM into what a person sees (overlay, heat layer,
// difference, or the "no positive evidence" stand-in) for figures, compare, the server, the CLI and
// Python.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "camscope/image/cam_view.hpp"
#include "camscope/image/image.hpp"

using namespace camscope;

namespace {

Image gradient_image(int w, int h) {
    Image img{w, h, 3, std::vector<std::uint8_t>(static_cast<size_t>(w) * h * 3)};
    for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>((i * 7) % 256);
    return img;
}

/// A map with evidence: a ramp 0..1 over h×w.
std::vector<float> ramp(int h, int w) {
    std::vector<float> m(static_cast<size_t>(h) * w);
    for (size_t i = 0; i < m.size(); ++i) m[i] = float(i) / float(m.size() - 1);
    return m;
}

}  // namespace

TEST(CamView, BlankMapsAreTheStandInNeverAFlatOverlay) {
    const Image img = gradient_image(6, 4);
    const std::vector<float> zeros(24, 0.f), flat(24, 0.5f), nan(24, std::nanf(""));
    for (const auto* m : {&zeros, &flat, &nan})
        for (CamLayer layer : {CamLayer::Overlay, CamLayer::Heat}) {
            const CamView v = view_cam(img, m->data(), 4, 6, layer);
            EXPECT_TRUE(v.blank);
            EXPECT_EQ(v.image.pixels, no_evidence_image(img, 4, 6).pixels);
        }
    // At the image's size even when the map is at another (the input) size; without an image, the map's.
    const std::vector<float> small(6, 0.f);
    EXPECT_EQ(view_cam(img, small.data(), 2, 3).image.pixels, no_evidence_image(img, 4, 6).pixels);
    const CamView bare = view_cam(Image{}, small.data(), 2, 3);
    EXPECT_TRUE(bare.blank);
    EXPECT_EQ(bare.image.width, 3);
    EXPECT_EQ(bare.image.height, 2);
    EXPECT_EQ(bare.image.pixels, no_evidence_image(Image{}, 2, 3).pixels);
}

TEST(CamView, OverlayAndHeatLayerAtTheImagesSize) {
    const Image img = gradient_image(6, 4);
    const auto m = ramp(4, 6);
    CamView v = view_cam(img, m.data(), 4, 6);
    EXPECT_FALSE(v.blank);
    EXPECT_EQ(v.image.pixels, overlay_cam(img, m.data()).pixels);
    v = view_cam(img, m.data(), 4, 6, CamLayer::Heat);
    EXPECT_EQ(v.image.pixels, colorize(m.data(), 4, 6).pixels);
    // The heat layer's first and last pixels: JET of 0 and of 1, (0, 0, 128) and (128, 0, 0).
    EXPECT_EQ(std::vector<int>(v.image.pixels.begin(), v.image.pixels.begin() + 3), (std::vector<int>{0, 0, 128}));
    EXPECT_EQ(std::vector<int>(v.image.pixels.end() - 3, v.image.pixels.end()), (std::vector<int>{128, 0, 0}));
    // A map at the input size (2×3) over a larger image: resized first (half-pixel bilinear).
    const auto in = ramp(2, 3);
    const auto up = resize_map(in.data(), 2, 3, 4, 6);
    EXPECT_EQ(view_cam(img, in.data(), 2, 3).image.pixels, overlay_cam(img, up.data()).pixels);
    EXPECT_EQ(view_cam(img, in.data(), 2, 3, CamLayer::Heat).image.pixels, colorize(up.data(), 4, 6).pixels);
    // No image: the heat layer at the map's size.
    EXPECT_EQ(view_cam(Image{}, in.data(), 2, 3).image.pixels, colorize(in.data(), 2, 3).pixels);
}

TEST(CamView, DifferenceOnTheDivergingScaleOrTheStandIn) {
    const Image img = gradient_image(3, 2);
    const std::vector<float> d{-5.f, -1.f, 0.f, 0.25f, 1.f, 7.f};
    const CamView v = view_cam_difference(img, d.data(), 2, 3, false);
    EXPECT_FALSE(v.blank);
    for (size_t i = 0; i < d.size(); ++i) {
        std::uint8_t want[3];
        diverging_rgb(std::max(-1.f, std::min(1.f, d[i])), want);  // clamped to [-1, 1]
        for (int c = 0; c < 3; ++c) EXPECT_EQ(v.image.pixels[3 * i + c], want[c]) << i;
    }
    EXPECT_EQ(v.image.pixels[0], v.image.pixels[3]);  // -5 is drawn as -1
    const CamView b = view_cam_difference(img, nullptr, 2, 3, true);
    EXPECT_TRUE(b.blank);
    EXPECT_EQ(b.image.pixels, no_evidence_image(img, 2, 3).pixels);
}

TEST(CamView, BlankAtTheLayersResolutionIffBlankAtTheInputSize) {
    // The report, `cam` and the server record degenerate_cam of the layer-resolution map; the
    // picture decides on the same map at the input size. Both agree: upsampling a map with no
    // positive value keeps it so, and one with evidence keeps a positive, varying value after the
    // second ReLU + min-max.
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    int blank = 0, shown = 0;
    for (int trial = 0; trial < 400; ++trial) {
        const int h = 1 + trial % 7, w = 1 + (trial / 7) % 7;
        std::vector<float> low(static_cast<size_t>(h) * w, 0.f);
        const int kind = trial % 4;
        if (kind == 1) low[rng() % low.size()] = u(rng) + 1e-6f;  // one cell of evidence
        if (kind == 2)
            for (auto& x : low) x = u(rng);
        if (kind == 3) std::fill(low.begin(), low.end(), 0.25f);  // constant
        const auto input = cam_to_input_size(low.data(), h, w, 32, 32);
        const bool b = degenerate_cam(low.data(), low.size());
        EXPECT_EQ(b, degenerate_cam(input.data(), input.size())) << h << "x" << w << " kind " << kind;
        EXPECT_EQ(b, view_cam(Image{}, input.data(), 32, 32).blank);
        (b ? blank : shown)++;
    }
    EXPECT_GT(blank, 0);
    EXPECT_GT(shown, 0);
}
