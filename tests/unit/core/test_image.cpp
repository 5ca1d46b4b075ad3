// Unit tests for camscope/image: decode/encode, resizing, colormaps, CAM overlays.
// Expected numbers are worked out by hand in the comments, or by an independent formula.
#include <gtest/gtest.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "camscope/image/image.hpp"
#include "camscope/util/error.hpp"
#include "support/errors.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using support::error_of;

namespace {

void put_be32(std::vector<std::uint8_t>& v, std::uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<std::uint8_t>(x >> s));
}

void put_chunk(std::vector<std::uint8_t>& png, const char* type, const std::vector<std::uint8_t>& data) {
    put_be32(png, static_cast<std::uint32_t>(data.size()));
    std::vector<std::uint8_t> body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    png.insert(png.end(), body.begin(), body.end());
    put_be32(png, static_cast<std::uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size()))));
}

// A PNG built by hand (not by the code under test): 8-bit, colour type 0 grey, 2 RGB, 4 grey+alpha,
// 6 RGBA; every row with filter 0. `declared_w/h` may differ from the pixel data (for bomb tests).
std::vector<std::uint8_t> hand_png(int w, int h, int color_type, const std::vector<std::uint8_t>& px,
                                   std::uint32_t declared_w = 0, std::uint32_t declared_h = 0) {
    const int comp = color_type == 0 ? 1 : color_type == 2 ? 3 : color_type == 4 ? 2 : 4;
    std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::vector<std::uint8_t> ihdr;
    put_be32(ihdr, declared_w ? declared_w : w);
    put_be32(ihdr, declared_h ? declared_h : h);
    ihdr.insert(ihdr.end(), {8, static_cast<std::uint8_t>(color_type), 0, 0, 0});
    put_chunk(png, "IHDR", ihdr);
    std::vector<std::uint8_t> raw;
    for (int y = 0; y < h; ++y) {
        raw.push_back(0);
        raw.insert(raw.end(), px.begin() + y * w * comp, px.begin() + (y + 1) * w * comp);
    }
    uLongf zlen = compressBound(raw.size());
    std::vector<std::uint8_t> z(zlen);
    EXPECT_EQ(compress(z.data(), &zlen, raw.data(), raw.size()), Z_OK);
    z.resize(zlen);
    put_chunk(png, "IDAT", z);
    put_chunk(png, "IEND", {});
    return png;
}

Image make(int w, int h, int c, std::vector<std::uint8_t> px) { return Image{w, h, c, std::move(px)}; }

}  // namespace

// ------------------------------------------------------------------------------ decode / encode

TEST(ImageCodec, DecodesHandMadePngsKeepingOneOrThreeChannels) {
    Image grey = decode_image(hand_png(2, 1, 0, {7, 200}).data(), hand_png(2, 1, 0, {7, 200}).size(), "g.png");
    EXPECT_EQ(grey.channels, 1);
    EXPECT_EQ(grey.pixels, (std::vector<std::uint8_t>{7, 200}));

    auto ga = hand_png(2, 1, 4, {7, 255, 200, 0});  // grey+alpha -> grey, alpha dropped
    Image g2 = decode_image(ga.data(), ga.size(), "ga.png");
    EXPECT_EQ(g2.channels, 1);
    EXPECT_EQ(g2.pixels, (std::vector<std::uint8_t>{7, 200}));

    auto rgba = hand_png(1, 2, 6, {1, 2, 3, 255, 4, 5, 6, 0});  // RGBA -> RGB
    Image rgb = decode_image(rgba.data(), rgba.size(), "rgba.png");
    EXPECT_EQ(rgb.width, 1);
    EXPECT_EQ(rgb.height, 2);
    EXPECT_EQ(rgb.channels, 3);
    EXPECT_EQ(rgb.pixels, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(ImageCodec, EncodePngRoundTripsThroughFile) {
    const fs::path dir = fs::temp_directory_path() / ("camscope_img_" + std::to_string(::getpid()));
    Image rgb = make(3, 2, 3, {0, 1, 2, 3, 4, 5, 250, 251, 252, 9, 8, 7, 100, 110, 120, 255, 0, 128});
    write_png((dir / "rgb.png").string(), rgb);
    Image back = read_image_file((dir / "rgb.png").string());
    EXPECT_EQ(back.width, 3);
    EXPECT_EQ(back.height, 2);
    EXPECT_EQ(back.channels, 3);
    EXPECT_EQ(back.pixels, rgb.pixels);

    Image grey = make(2, 2, 1, {0, 64, 128, 255});
    auto png = encode_png(grey);
    Image g = decode_image(png.data(), png.size(), "mem");
    EXPECT_EQ(g.channels, 1);
    EXPECT_EQ(g.pixels, grey.pixels);
    fs::remove_all(dir);
}

TEST(ImageCodec, EncodedPngDecodesToTheSamePixels) {
    // Decoded by stb_image (an independent decoder): every pixel back, RGB and grey, odd sizes.
    std::uint64_t s = 3;
    for (const auto& [w, h, ch] : std::vector<std::tuple<int, int, int>>{{97, 33, 3}, {1, 1, 3}, {40, 7, 1}}) {
        Image img{w, h, ch, std::vector<std::uint8_t>(size_t(w) * h * ch)};
        for (size_t i = 0; i < img.pixels.size(); ++i) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            // Smooth ramps with noise: rows that differ, wrap-around of the Up difference.
            img.pixels[i] = static_cast<std::uint8_t>((i / ch) % 200 + (s >> 60));
        }
        const auto png = encode_png(img);
        const Image back = decode_image(png.data(), png.size(), "encoded.png");
        ASSERT_EQ(back.width, w);
        ASSERT_EQ(back.height, h);
        ASSERT_EQ(back.channels, ch);
        EXPECT_EQ(back.pixels, img.pixels) << w << "x" << h << "x" << ch;
    }
    EXPECT_THROW(encode_png(Image{}), Error);
}

TEST(ImageCodec, CorruptChunkIsAnErrorNamingTheFile) {
    Image rgb = make(4, 4, 3, std::vector<std::uint8_t>(48, 77));
    auto png = encode_png(rgb);
    std::string s(png.begin(), png.end());
    const size_t idat = s.find("IDAT");
    ASSERT_NE(idat, std::string::npos);
    png[idat + 6] ^= 0xFF;  // a byte inside the compressed pixel data
    std::string msg = error_of([&] { decode_image(png.data(), png.size(), "shots/corrupt.png"); });
    EXPECT_NE(msg.find("shots/corrupt.png"), std::string::npos) << msg;
    EXPECT_NE(msg.find("IDAT"), std::string::npos) << msg;

    std::vector<std::uint8_t> junk = {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'};
    msg = error_of([&] { decode_image(junk.data(), junk.size(), "notes.jpg"); });
    EXPECT_NE(msg.find("notes.jpg"), std::string::npos) << msg;
}

TEST(ImageCodec, RefusesHugeDeclaredSizeBeforeDecoding) {
    // A few dozen bytes that claim 20000×20000 grey pixels (4·10^8 > 64 Mi, yet under stb's own
    // 2^30-byte limit, so it is our check that must refuse it).
    auto bomb = hand_png(1, 1, 0, {0}, 20000, 20000);
    std::string msg = error_of([&] { decode_image(bomb.data(), bomb.size(), "bomb.png"); });
    EXPECT_NE(msg.find("bomb.png"), std::string::npos) << msg;
    EXPECT_NE(msg.find("20000x20000"), std::string::npos) << msg;
    // The limit is a parameter: a 10×10 image against a 99-pixel limit.
    auto small = hand_png(10, 10, 0, std::vector<std::uint8_t>(100, 1));
    EXPECT_THROW(decode_image(small.data(), small.size(), "s.png", 99), Error);
    EXPECT_NO_THROW(decode_image(small.data(), small.size(), "s.png", 100));
}

// ------------------------------------------------------------------------------ resizing

TEST(Resize, MapUpsample2x2To4x4MatchesHalfPixelWeights) {
    // Half-pixel centres, 2 -> 4: src = (d+0.5)/2 - 0.5 = -0.25 (clamped 0), 0.25, 0.75, 1.25 (upper
    // neighbour clamped), so a row [a, b] becomes [a, .75a+.25b, .25a+.75b, b].
    // [[0,4],[8,12]]: columns give 0,1,3,4; rows add 0,2,6,8.
    const float src[4] = {0, 4, 8, 12};
    auto out = resize_map(src, 2, 2, 4, 4);
    const float want[16] = {0, 1, 3, 4, 2, 3, 5, 6, 6, 7, 9, 10, 8, 9, 11, 12};
    for (int i = 0; i < 16; ++i) EXPECT_NEAR(out[i], want[i], 1e-6) << "index " << i;
}

TEST(Resize, MapDownsampleAndNonSquare) {
    // 3 -> 2: scale 1.5, src = 0.25 and 1.75: [0,4,8] -> [.75·0+.25·4, .25·4+.75·8] = [1, 7].
    const float row[3] = {0, 4, 8};
    auto out = resize_map(row, 1, 3, 1, 2);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_NEAR(out[0], 1.0f, 1e-6);
    EXPECT_NEAR(out[1], 7.0f, 1e-6);
    // 1×2 -> 3×2: every output row equals the single input row.
    const float one[2] = {5, -3};
    auto tall = resize_map(one, 1, 2, 3, 2);
    EXPECT_EQ(tall, (std::vector<float>{5, -3, 5, -3, 5, -3}));
    EXPECT_THROW(resize_map(one, 1, 2, 0, 2), Error);
}

TEST(Resize, BilinearImageRoundsToNearest) {
    // 1×2 grey [0,255] -> 1×4: [0, 63.75, 191.25, 255] -> [0, 64, 191, 255].
    Image img = make(2, 1, 1, {0, 255});
    Image out = resize_bilinear(img, 4, 1);
    EXPECT_EQ(out.pixels, (std::vector<std::uint8_t>{0, 64, 191, 255}));
    // RGB channels are interpolated independently.
    Image rgb = make(2, 1, 3, {0, 100, 255, 255, 100, 0});
    Image r = resize_bilinear(rgb, 4, 1);
    EXPECT_EQ(r.pixels, (std::vector<std::uint8_t>{0, 100, 255, 64, 100, 191, 191, 100, 64, 255, 100, 0}));
}

TEST(Resize, ConvertChannelsAndUpscale) {
    // BT.601: 0.299·255 = 76.245 -> 76; 0.299·10 + 0.587·20 + 0.114·30 = 18.15 -> 18.
    Image rgb = make(2, 1, 3, {255, 0, 0, 10, 20, 30});
    EXPECT_EQ(convert_channels(rgb, 1).pixels, (std::vector<std::uint8_t>{76, 18}));
    Image grey = make(2, 1, 1, {9, 200});
    EXPECT_EQ(convert_channels(grey, 3).pixels, (std::vector<std::uint8_t>{9, 9, 9, 200, 200, 200}));
    EXPECT_THROW(convert_channels(grey, 2), Error);

    Image up = upscale_nearest(grey, 2);
    EXPECT_EQ(up.width, 4);
    EXPECT_EQ(up.height, 2);
    EXPECT_EQ(up.pixels, (std::vector<std::uint8_t>{9, 9, 200, 200, 9, 9, 200, 200}));
}

// ------------------------------------------------------------------------------ colormaps

TEST(Colormap, JetEndsMatchOpenCV) {
    std::uint8_t c[3];
    jet_rgb(0.0f, c);  // OpenCV COLORMAP_JET index 0: BGR (128,0,0) = RGB (0,0,128)
    EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{0, 0, 128}));
    jet_rgb(1.0f, c);  // index 255: BGR (0,0,128) = RGB (128,0,0)
    EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{128, 0, 0}));
    jet_rgb(-3.0f, c);  // clamped
    EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{0, 0, 128}));
    jet_rgb(std::nanf(""), c);
    EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{0, 0, 128}));
    // 0.5 -> index uint8(127.5) = 127, x = 127/255: r = 255·(1.5-|4x-3|) = 125.5 -> 126,
    // g saturates at 255, b = 255·(1.5-|4x-1|) = 129.5 -> 130.
    jet_rgb(0.5f, c);
    EXPECT_EQ(std::vector<int>(c, c + 3), (std::vector<int>{126, 255, 130}));
}

TEST(Colormap, JetFollowsPiecewiseFormulaAtEveryIndex) {
    auto ch = [](double x, double k) { return 255.0 * std::clamp(1.5 - std::fabs(4 * x - k), 0.0, 1.0); };
    for (int i = 0; i < 256; ++i) {
        std::uint8_t c[3];
        // (i + 0.5)/255 truncates to index i under uint8(255·v).
        jet_rgb(static_cast<float>((i + 0.5) / 255.0), c);
        const double x = i / 255.0;
        EXPECT_NEAR(c[0], ch(x, 3), 0.5 + 1e-9) << "index " << i;
        EXPECT_NEAR(c[1], ch(x, 2), 0.5 + 1e-9) << "index " << i;
        EXPECT_NEAR(c[2], ch(x, 1), 0.5 + 1e-9) << "index " << i;
    }
}

TEST(Colormap, DivergingBlueWhiteRed) {
    std::uint8_t c[3];
    auto rgb = [&](float v) {
        diverging_rgb(v, c);
        return std::vector<int>(c, c + 3);
    };
    EXPECT_EQ(rgb(-1.0f), (std::vector<int>{0, 0, 255}));
    EXPECT_EQ(rgb(0.0f), (std::vector<int>{255, 255, 255}));
    EXPECT_EQ(rgb(1.0f), (std::vector<int>{255, 0, 0}));
    EXPECT_EQ(rgb(0.5f), (std::vector<int>{255, 128, 128}));   // 127.5 -> 128
    EXPECT_EQ(rgb(-0.5f), (std::vector<int>{128, 128, 255}));
    EXPECT_EQ(rgb(7.0f), (std::vector<int>{255, 0, 0}));       // clamped
}

TEST(Colormap, ColorizeMapsEachPixel) {
    const float map[2] = {0.0f, 1.0f};
    Image img = colorize(map, 1, 2);
    EXPECT_EQ(img.channels, 3);
    EXPECT_EQ(img.pixels, (std::vector<std::uint8_t>{0, 0, 128, 128, 0, 0}));
}

TEST(Overlay, MatchesShowCamOnImageByHand) {
    // Pixel (100,150,200), cam 1 -> heat JET[255] = (128,0,0)/255.
    // mix = 0.5·heat + 0.5·img/255 = (114, 75, 100)/255; max = 114/255;
    // out = uint8(255·mix/max) = (255, uint8(167.76), uint8(223.68)) = (255, 167, 223).
    Image img = make(1, 1, 3, {100, 150, 200});
    const float cam1 = 1.0f;
    EXPECT_EQ(overlay_cam(img, &cam1).pixels, (std::vector<std::uint8_t>{255, 167, 223}));

    // Grey 255 replicated; cam 0 -> heat (0,0,128): mix = (127.5, 127.5, 191.5)/255;
    // 127.5/191.5·255 = 169.78 -> 169.
    Image grey = make(1, 1, 1, {255});
    const float cam0 = 0.0f;
    Image o = overlay_cam(grey, &cam0);
    EXPECT_EQ(o.channels, 3);
    EXPECT_EQ(o.pixels, (std::vector<std::uint8_t>{169, 169, 255}));

    // The maximum is global over the image: black pixels, cam [1, 0] -> heats (128,0,0), (0,0,128),
    // both mixes peak at 64/255 -> (255,0,0) and (0,0,255).
    Image black = make(2, 1, 3, std::vector<std::uint8_t>(6, 0));
    const float cam[2] = {1.0f, 0.0f};
    EXPECT_EQ(overlay_cam(black, cam).pixels, (std::vector<std::uint8_t>{255, 0, 0, 0, 0, 255}));
}

// JPEG goes through libjpeg-turbo: an image compressed losslessly enough (quality 100, no chroma
// subsampling) comes back with its size, channel count and channel order, grey stays grey.
TEST(ImageJpeg, DecodesColourAndGrey) {
    const int w = 24, h = 16;
    for (int channels : {3, 1}) {
        std::vector<unsigned char> px(static_cast<size_t>(w) * h * channels);
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                for (int c = 0; c < channels; ++c)
                    px[(static_cast<size_t>(y) * w + x) * channels + c] =
                        static_cast<unsigned char>(c == 0 ? 10 * x : c == 1 ? 15 * y : 200);
        tjhandle tj = tjInitCompress();
        unsigned char* jpeg = nullptr;
        unsigned long size = 0;
        ASSERT_EQ(tjCompress2(tj, px.data(), w, 0, h, channels == 3 ? TJPF_RGB : TJPF_GRAY, &jpeg, &size,
                              channels == 3 ? TJSAMP_444 : TJSAMP_GRAY, 100, 0),
                  0);
        const Image img = decode_image(jpeg, size, "gradient.jpg");
        tjFree(jpeg);
        tjDestroy(tj);
        ASSERT_EQ(img.width, w);
        ASSERT_EQ(img.height, h);
        ASSERT_EQ(img.channels, channels);
        int worst = 0;
        for (size_t i = 0; i < px.size(); ++i) worst = std::max(worst, std::abs(int(img.pixels[i]) - int(px[i])));
        EXPECT_LE(worst, 4) << channels << " channels";
    }
}

