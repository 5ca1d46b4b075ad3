// Figures: valid PNGs whose size follows the data, colours that follow the colour scale, crisp
// thumbnails, and "no data" figures for empty inputs. PNG size is read from the IHDR bytes; pixels
// are decoded with Cairo's own PNG reader (independent of camscope's image decoder).
#include <cairo/cairo.h>
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "camscope/render/plot.hpp"
#include "camscope/render/plot_layout.hpp"
#include "camscope/util/error.hpp"

namespace camscope::plot {
namespace {

struct Size {
    int width = 0, height = 0;
};

/// Checks the 8-byte PNG signature and reads IHDR's width/height (big-endian at bytes 16..23).
Size png_size(const Png& png) {
    static const std::uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    EXPECT_GE(png.size(), 33u);
    if (png.size() < 33) return {};
    EXPECT_EQ(0, std::memcmp(png.data(), sig, 8)) << "bad PNG signature";
    EXPECT_EQ(0, std::memcmp(png.data() + 12, "IHDR", 4)) << "first chunk is not IHDR";
    auto be32 = [&](size_t o) {
        return static_cast<int>((std::uint32_t(png[o]) << 24) | (std::uint32_t(png[o + 1]) << 16) |
                                (std::uint32_t(png[o + 2]) << 8) | std::uint32_t(png[o + 3]));
    };
    return {be32(16), be32(20)};
}

/// A PNG decoded with cairo; pixel(x, y) gives RGB.
class Decoded {
public:
    explicit Decoded(const Png& png) {
        Reader r{&png, 0};
        surface_ = cairo_image_surface_create_from_png_stream(&Decoded::read, &r);
        if (cairo_surface_status(surface_) != CAIRO_STATUS_SUCCESS) {
            ADD_FAILURE() << "cairo cannot decode the PNG";
            return;
        }
        cairo_surface_flush(surface_);
        width = cairo_image_surface_get_width(surface_);
        height = cairo_image_surface_get_height(surface_);
        stride_ = cairo_image_surface_get_stride(surface_);
        data_ = cairo_image_surface_get_data(surface_);
    }
    ~Decoded() { cairo_surface_destroy(surface_); }
    Decoded(const Decoded&) = delete;
    Decoded& operator=(const Decoded&) = delete;

    std::array<int, 3> pixel(int x, int y) const {
        EXPECT_TRUE(x >= 0 && y >= 0 && x < width && y < height) << x << "," << y;
        if (!data_ || x < 0 || y < 0 || x >= width || y >= height) return {-1, -1, -1};
        std::uint32_t v = reinterpret_cast<const std::uint32_t*>(data_ + static_cast<size_t>(y) * stride_)[x];
        return {int((v >> 16) & 0xFF), int((v >> 8) & 0xFF), int(v & 0xFF)};
    }
    /// Number of pixels in [x0,x1)×[y0,y1) for which pred(rgb) holds.
    template <class Pred>
    int count(int x0, int y0, int x1, int y1, Pred pred) const {
        int n = 0;
        for (int y = y0; y < y1; ++y)
            for (int x = x0; x < x1; ++x) n += pred(pixel(x, y)) ? 1 : 0;
        return n;
    }
    template <class Pred>
    int count(Pred pred) const { return count(0, 0, width, height, pred); }

    int width = 0, height = 0;

private:
    struct Reader {
        const Png* png;
        size_t pos;
    };
    static cairo_status_t read(void* closure, unsigned char* out, unsigned int len) {
        auto* r = static_cast<Reader*>(closure);
        if (r->pos + len > r->png->size()) return CAIRO_STATUS_READ_ERROR;
        std::memcpy(out, r->png->data() + r->pos, len);
        r->pos += len;
        return CAIRO_STATUS_SUCCESS;
    }
    cairo_surface_t* surface_ = nullptr;
    const unsigned char* data_ = nullptr;
    int stride_ = 0;
};

// ColorBrewer "Blues" 9-class anchors (colorbrewer2.org): lightest, middle, darkest.
constexpr std::array<int, 3> kBluesLow = {0xF7, 0xFB, 0xFF};
constexpr std::array<int, 3> kBluesMid = {0x6B, 0xAE, 0xD6};
constexpr std::array<int, 3> kBluesHigh = {0x08, 0x30, 0x6B};

void expect_rgb_near(std::array<int, 3> got, std::array<int, 3> want, int tol, const char* what) {
    for (int i = 0; i < 3; ++i)
        EXPECT_NEAR(got[i], want[i], tol) << what << " channel " << i << ": got (" << got[0] << "," << got[1] << ","
                                          << got[2] << ") want (" << want[0] << "," << want[1] << "," << want[2] << ")";
}

bool is_white(std::array<int, 3> c) { return c[0] >= 250 && c[1] >= 250 && c[2] >= 250; }
bool is_dark(std::array<int, 3> c) { return c[0] < 90 && c[1] < 90 && c[2] < 90; }

MatrixPlot square_matrix(int k) {
    MatrixPlot m;
    m.title = "Confusion matrix";
    m.rows = m.cols = k;
    m.values.assign(static_cast<size_t>(k) * k, 0.f);
    for (int i = 0; i < k; ++i) {
        m.values[static_cast<size_t>(i) * k + i] = 80.f + i % 20;
        m.values[static_cast<size_t>(i) * k + (i + 1) % k] = 5.f;
        m.row_labels.push_back("class_" + std::to_string(i));
        m.col_labels.push_back("class_" + std::to_string(i));
    }
    m.colorbar_label = "Images";
    return m;
}

/// Centre pixel of matrix cell (r, c).
std::array<int, 3> cell_pixel(const Decoded& d, const detail::MatrixLayout& L, int r, int c) {
    return d.pixel(static_cast<int>(L.x0 + (c + 0.5) * L.cell), static_cast<int>(L.y0 + (r + 0.5) * L.cell));
}

// ------------------------------------------------------------------ matrix
TEST(PlotMatrix, CanvasGrowsWithClassesAndStaysLegibleAt100) {
    Png small = render_matrix(square_matrix(10));
    Png large = render_matrix(square_matrix(100));
    Size s = png_size(small), l = png_size(large);
    EXPECT_GT(l.width, s.width);
    EXPECT_GT(l.height, s.height);
    EXPECT_GE(l.width, 1200);
    EXPECT_GE(l.height, 1200);
    auto L = detail::matrix_layout(square_matrix(100));
    EXPECT_GE(L.cell, 12);       // ~14 px per class
    EXPECT_GE(L.label_px, 9);    // labels still readable
    EXPECT_EQ(l.width, L.width);
    EXPECT_EQ(l.height, L.height);
    Decoded d(large);
    EXPECT_EQ(d.width, l.width);
    EXPECT_TRUE(is_white(d.pixel(2, 2))) << "white background";
}

TEST(PlotMatrix, ThousandClassesStayBoundedAndEveryCellKeepsItsColour) {
    // ImageNet's 1,000 classes: at the 14 px minimum the canvas would be 14,000 px a side (784 MB).
    MatrixPlot m = square_matrix(1000);
    auto L = detail::matrix_layout(m);
    EXPECT_LE(1000 * L.cell, detail::kMaxMatrixPx);
    EXPECT_GE(L.cell, 1);
    EXPECT_EQ(L.label_px, 0) << "no labels in 2 px cells";
    EXPECT_LE(L.width, 3400);
    EXPECT_LE(L.height, 3400);
    // Every cell is still its own colour: the maximum cell and a zero cell.
    std::fill(m.values.begin(), m.values.end(), 0.f);
    m.values[static_cast<size_t>(500) * 1000 + 700] = 9.f;
    L = detail::matrix_layout(m);  // the colour bar's ticks follow the new values
    Decoded d(render_matrix(m));
    EXPECT_EQ(d.width, L.width);
    expect_rgb_near(cell_pixel(d, L, 500, 700), kBluesHigh, 2, "max cell");
    expect_rgb_near(cell_pixel(d, L, 500, 701), kBluesLow, 2, "zero cell beside it");
}

TEST(PlotMatrix, CellColourFollowsTheColourScale) {
    MatrixPlot m;
    m.rows = m.cols = 3;
    m.values = {3.5f, 0, 0,  //
                0, 0, 7.f,   //
                0, 0, 0};
    m.row_labels = m.col_labels = {"a", "b", "c"};
    auto L = detail::matrix_layout(m);
    EXPECT_FLOAT_EQ(L.vmax, 7.f) << "vmax < vmin means the data's max";
    Decoded d(render_matrix(m));
    expect_rgb_near(cell_pixel(d, L, 1, 2), kBluesHigh, 2, "max cell");
    expect_rgb_near(cell_pixel(d, L, 2, 0), kBluesLow, 2, "zero cell");
    expect_rgb_near(cell_pixel(d, L, 0, 0), kBluesMid, 2, "half-max cell");
}

TEST(PlotMatrix, ExplicitVmaxSetsTheTopOfTheScale) {
    MatrixPlot m;
    m.rows = m.cols = 2;
    m.values = {7.f, 0, 0, 14.f};
    m.vmin = 0;
    m.vmax = 28;
    auto L = detail::matrix_layout(m);
    Decoded d(render_matrix(m));
    expect_rgb_near(cell_pixel(d, L, 1, 1), kBluesMid, 2, "14 of 28");
    EXPECT_LT(cell_pixel(d, L, 1, 1)[0], cell_pixel(d, L, 0, 0)[0]) << "larger values are darker";
}

TEST(PlotMatrix, AllZeroDataUsesTheLowestColour) {
    MatrixPlot m = square_matrix(4);
    std::fill(m.values.begin(), m.values.end(), 0.f);
    auto L = detail::matrix_layout(m);
    EXPECT_GT(L.vmax, L.vmin);
    Png png = render_matrix(m);
    Decoded d(png);
    for (int r = 0; r < 4; ++r) expect_rgb_near(cell_pixel(d, L, r, r), kBluesLow, 2, "zero cell");
}

TEST(PlotMatrix, BlocksAreOutlinedOnTheDiagonal) {
    MatrixPlot m = square_matrix(6);
    std::fill(m.values.begin(), m.values.end(), 0.f);
    m.blocks = {{0, 2}, {2, 5}};
    auto L = detail::matrix_layout(m);
    ASSERT_GE(L.cell, 20);
    Decoded d(render_matrix(m));
    auto at = [&](double col_edge, double row_mid) {
        return d.pixel(static_cast<int>(L.x0 + col_edge * L.cell), static_cast<int>(L.y0 + row_mid * L.cell));
    };
    EXPECT_TRUE(is_dark(at(2, 0.5))) << "right edge of block [0,2)";
    EXPECT_TRUE(is_dark(at(5, 3.5))) << "right edge of block [2,5)";
    EXPECT_FALSE(is_dark(at(1, 0.5))) << "inside a block, no outline";
    EXPECT_FALSE(is_dark(at(4, 0.5))) << "off-diagonal, outside every block";
}

TEST(PlotMatrix, AnnotationsSwitchToWhiteOnDarkCells) {
    MatrixPlot m;
    m.rows = m.cols = 2;
    m.values = {100.f, 0, 0, 0};
    m.annotate = true;
    auto L = detail::matrix_layout(m);
    ASSERT_GT(L.annot_px, 0);
    Decoded d(render_matrix(m));
    auto inside = [&](int r, int c, auto pred) {
        int x = static_cast<int>(L.x0 + c * L.cell) + 3, y = static_cast<int>(L.y0 + r * L.cell) + 3;
        int side = static_cast<int>(L.cell) - 6;
        return d.count(x, y, x + side, y + side, pred);
    };
    EXPECT_GT(inside(0, 0, [](auto c) { return c[0] > 200 && c[1] > 200 && c[2] > 200; }), 10) << "white \"100\"";
    EXPECT_GT(inside(1, 1, [](auto c) { return c[0] < 120 && c[1] < 120 && c[2] < 120; }), 5) << "dark \"0\"";
    m.annotate = false;
    Decoded plain(render_matrix(m));
    int x = static_cast<int>(L.x0) + 3, y = static_cast<int>(L.y0) + 3, side = static_cast<int>(L.cell) - 6;
    EXPECT_EQ(plain.count(x, y, x + side, y + side, [](auto c) { return c[0] > 200; }), 0) << "no text when off";
}

TEST(PlotMatrix, RejectsInconsistentInput) {
    MatrixPlot m = square_matrix(3);
    m.values.pop_back();
    EXPECT_THROW(render_matrix(m), UsageError);
    m = square_matrix(3);
    m.row_labels.pop_back();
    EXPECT_THROW(render_matrix(m), UsageError);
    m = square_matrix(3);
    m.value_format = "%s";  // would read a char* from a double
    EXPECT_THROW(render_matrix(m), UsageError);
    m = square_matrix(3);
    m.blocks = {{1, 4}};
    EXPECT_THROW(render_matrix(m), UsageError);
}

TEST(PlotMatrix, EmptyMatrixSaysNoData) {
    MatrixPlot m;
    Size s = png_size(render_matrix(m));
    EXPECT_EQ(s.width, detail::kNoDataWidth);
    EXPECT_EQ(s.height, detail::kNoDataHeight);
}

// ------------------------------------------------------------------ bars
BarPlot bars(int n, const std::string& prefix = "pair") {
    BarPlot b;
    b.title = "Top confusions";
    b.xlabel = "Count";
    for (int i = 0; i < n; ++i) {
        b.labels.push_back(prefix + " " + std::to_string(i));
        b.values.push_back(static_cast<float>(10 * (n - i)));
        b.value_text.push_back(std::to_string(10 * (n - i)));
    }
    return b;
}

TEST(PlotBarh, SizeFollowsBarsAndLabels) {
    Size few = png_size(render_barh(bars(3)));
    Size many = png_size(render_barh(bars(30)));
    Size wide = png_size(render_barh(bars(3, "a much longer label: cat -> dog")));
    EXPECT_GT(many.height, few.height);
    EXPECT_GT(wide.width, few.width) << "margin sized from the longest label";
}

TEST(PlotBarh, LongestBarReachesFurtherRight) {
    // Same canvas, one bar grown: more bar-coloured pixels.
    BarPlot a = bars(4), b = bars(4);
    b.values[3] = 30.f;
    b.value_text[3] = "10";  // same text, so only the bar changes
    auto blue = [](auto c) { return c[0] == 0x4C && c[1] == 0x72 && c[2] == 0xB0; };
    Decoded da(render_barh(a)), db(render_barh(b));
    ASSERT_EQ(da.width, db.width);
    EXPECT_GT(db.count(blue), da.count(blue));
}

TEST(PlotBarh, EmptySaysNoData) {
    BarPlot b;
    b.title = "Top confusions";
    Png png = render_barh(b);
    Size s = png_size(png);
    EXPECT_EQ(s.width, detail::kNoDataWidth);
    EXPECT_EQ(s.height, detail::kNoDataHeight);
    Decoded d(png);
    // The centred "no data" text leaves grey pixels in the middle band.
    EXPECT_GT(d.count(s.width / 4, s.height / 2, 3 * s.width / 4, s.height * 3 / 4 + 10,
                      [](auto c) { return c[0] < 200; }),
              20);
    b.labels = {"x"};
    EXPECT_THROW(render_barh(b), UsageError) << "labels without values";
}

// ------------------------------------------------------------------ reliability
ReliabilityPlot reliability(int bins) {
    ReliabilityPlot r;
    r.title = "Reliability";
    r.annotation = "ECE 4.21%  MCE 12.0%";
    for (int i = 0; i < bins; ++i) {
        r.bin_lower.push_back(float(i) / bins);
        r.bin_upper.push_back(float(i + 1) / bins);
        float conf = (i + 0.5f) / bins;
        r.bin_confidence.push_back(conf);
        r.bin_accuracy.push_back(conf * 0.85f);
        r.bin_count.push_back(i < 3 ? 0 : 10 * i * i);
    }
    return r;
}

TEST(PlotReliability, ReturnsPng) {
    Size s = png_size(render_reliability(reliability(15)));
    EXPECT_GE(s.width, 400);
    EXPECT_GE(s.height, 500) << "two panels";
}

TEST(PlotReliability, EmptyBinsDrawNothing) {
    ReliabilityPlot a = reliability(10), b = reliability(10);
    b.bin_accuracy[1] = 1.f;  // bin 1 has count 0: its accuracy must not show
    b.bin_confidence[1] = 0.f;
    EXPECT_EQ(render_reliability(a), render_reliability(b));
    b.bin_accuracy[5] = 1.f;  // bin 5 has samples: it must show
    EXPECT_NE(render_reliability(a), render_reliability(b));
}

TEST(PlotReliability, EmptySaysNoData) {
    ReliabilityPlot r;
    Size s = png_size(render_reliability(r));
    EXPECT_EQ(s.width, detail::kNoDataWidth);
    r = reliability(5);
    for (auto& c : r.bin_count) c = 0;
    EXPECT_EQ(png_size(render_reliability(r)).width, detail::kNoDataWidth) << "bins without samples";
    r.bin_count.pop_back();
    EXPECT_THROW(render_reliability(r), UsageError);
}

// ------------------------------------------------------------------ grid
Image solid(int w, int h, int channels, std::array<std::uint8_t, 3> rgb) {
    Image img{w, h, channels, {}};
    for (int i = 0; i < w * h; ++i)
        for (int c = 0; c < channels; ++c) img.pixels.push_back(rgb[c]);
    return img;
}

GridPlot grid_2x3(int cell) {
    GridPlot g;
    g.title = "Gallery";
    g.cell = cell;
    g.col_headers = {"a", "b", "c"};
    g.row_headers = {"first", "second"};
    g.footer = "green: correct, red: wrong";
    for (int r = 0; r < 2; ++r) {
        g.rows.emplace_back();
        for (int c = 0; c < 3; ++c)
            g.rows.back().push_back(Tile{solid(32, 32, 3, {200, 100, 50}), {"cat 0.91", "true: cat"}, 0x007000, {}});
    }
    return g;
}

TEST(PlotGrid, SizeFollowsTheCell) {
    Size s100 = png_size(render_grid(grid_2x3(100)));
    Size s60 = png_size(render_grid(grid_2x3(60)));
    EXPECT_EQ(s100.width - s60.width, 3 * 40) << "three columns of cells";
    EXPECT_EQ(s100.height - s60.height, 2 * 40) << "two rows of cells";
    EXPECT_GE(s100.width, 3 * 100);
    EXPECT_GE(s100.height, 2 * 100);
}

TEST(PlotGrid, SmallImagesAreScaledNearestNeighbour) {
    Image checker{4, 4, 3, {}};
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) {
            bool red = (x + y) % 2 == 0;
            checker.pixels.insert(checker.pixels.end(), {std::uint8_t(red ? 255 : 0), 0, std::uint8_t(red ? 0 : 255)});
        }
    GridPlot g;
    g.cell = 100;
    g.rows = {{Tile{checker, {}, 0, {}}}};
    Decoded d(render_grid(g));
    auto red = [](auto c) { return c[0] == 255 && c[1] == 0 && c[2] == 0; };
    auto blue = [](auto c) { return c[0] == 0 && c[1] == 0 && c[2] == 255; };
    auto blended = [](auto c) { return c[0] > 20 && c[2] > 20 && c[1] < 20; };
    EXPECT_EQ(d.count(red), 100 * 100 / 2);
    EXPECT_EQ(d.count(blue), 100 * 100 / 2);
    EXPECT_EQ(d.count(blended), 0) << "interpolated pixels between red and blue";
}

TEST(PlotGrid, GreyAndRgbImagesKeepTheirAspect) {
    GridPlot g;
    g.cell = 80;
    // Coloured captions: their antialiased edges are never grey nor the image's green.
    g.rows = {{Tile{solid(8, 4, 1, {77, 0, 0}), {"grey"}, 0xC00000, {}},
               Tile{solid(2, 2, 3, {10, 200, 30}), {"rgb"}, 0x007000, {}}}};
    Decoded d(render_grid(g));
    EXPECT_EQ(d.count([](auto c) { return c[0] == 77 && c[1] == 77 && c[2] == 77; }), 80 * 40) << "8x4 -> 80x40";
    EXPECT_EQ(d.count([](auto c) { return c[0] == 10 && c[1] == 200 && c[2] == 30; }), 80 * 80);
    EXPECT_GT(d.count([](auto c) { return c[0] > 150 && c[1] < 80 && c[2] < 80; }), 5) << "red caption";
}

TEST(PlotGrid, RaggedRowsAndEmptyGrid) {
    GridPlot g = grid_2x3(64);
    g.rows[1].resize(1);
    Size ragged = png_size(render_grid(g));
    EXPECT_EQ(ragged.width, png_size(render_grid(grid_2x3(64))).width);
    GridPlot empty;
    empty.title = "Nothing";
    EXPECT_EQ(png_size(render_grid(empty)).width, detail::kNoDataWidth);
    g.rows[0][0].image.channels = 2;
    EXPECT_THROW(render_grid(g), UsageError);
}

TEST(PlotGrid, StampedTileIsFramedAndLabelled) {
    // The same tile with and without a stamp: only the stamped one has the magenta frame, and its
    // middle carries the dark band (the image is a flat light colour, so dark pixels come from it).
    GridPlot g;
    g.cell = 96;
    g.rows = {{Tile{solid(32, 32, 3, {230, 230, 120}), {"pred: cat"}, 0, {}},
               Tile{solid(32, 32, 3, {230, 230, 120}), {"pred: cat"}, 0, "no positive evidence"}}};
    Decoded d(render_grid(g));
    const auto magenta = [](auto c) {
        return c[0] == ((kStampRgb >> 16) & 0xFF) && c[1] == ((kStampRgb >> 8) & 0xFF) && c[2] == (kStampRgb & 0xFF);
    };
    const long framed = d.count(magenta);
    EXPECT_GE(framed, 4 * (96 - 6) * 3) << "a 3-pixel frame on four sides";
    EXPECT_LT(framed, 4 * 96 * 3 + 1);
    GridPlot plain = g;
    plain.rows[0].pop_back();
    EXPECT_EQ(Decoded(render_grid(plain)).count(magenta), 0) << "no frame without a stamp";
    const auto dark = [](auto c) { return c[0] < 80 && c[1] < 80 && c[2] < 80; };
    EXPECT_GT(d.count(dark), Decoded(render_grid(plain)).count(dark) + 96 * 10) << "the band behind the stamp text";
}

}  // namespace
}  // namespace camscope::plot
