// Figures drawn with Cairo's image surface and toy text API (DejaVu Sans through fontconfig).
// Every figure: white background, a bold title, axis labels, one colour scale per figure.
// Layout sizes are in pixels; canvases grow with the number of labels so text never shrinks below
// ~9.5 px for the 100-class case.
#include "camscope/render/plot.hpp"

#include <cairo.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "camscope/render/plot_layout.hpp"
#include "camscope/util/error.hpp"

namespace camscope::plot {
namespace {

constexpr const char* kFont = "DejaVu Sans";
constexpr int kMaxSide = 32000;  // cairo image surfaces stop at 32767
constexpr double kMargin = 16;
constexpr double kTitlePx = 18;
constexpr double kAxisLabelPx = 14;
constexpr double kTickPx = 11;
constexpr double kHalfPi = std::numbers::pi / 2;  // rotate by -kHalfPi: text reads bottom to top

// ------------------------------------------------------------------ colours
struct Rgb {
    double r, g, b;
};
constexpr Rgb hex(std::uint32_t v) {
    return {((v >> 16) & 0xFF) / 255.0, ((v >> 8) & 0xFF) / 255.0, (v & 0xFF) / 255.0};
}
constexpr Rgb kWhite = hex(0xFFFFFF), kText = hex(0x222222), kAxis = hex(0x444444),
              kGrid = hex(0xE3E3E3), kMuted = hex(0x777777), kBar = hex(0x4C72B0), kBarEdge = hex(0x2F4B7C),
              kGap = hex(0xD62728), kOutline = hex(0x111111);

// ColorBrewer "Blues" (9 classes), as matplotlib's Blues: white for 0, so mostly-empty confusion
// matrices read as white with the confusions standing out.
constexpr std::uint32_t kBlues[9] = {0xF7FBFF, 0xDEEBF7, 0xC6DBEF, 0x9ECAE1, 0x6BAED6,
                                     0x4292C6, 0x2171B5, 0x08519C, 0x08306B};

Rgb blues(double t) {
    if (!(t >= 0)) t = 0;  // also NaN
    if (t > 1) t = 1;
    double pos = t * 8;
    int i = std::min(7, static_cast<int>(pos));
    double f = pos - i;
    Rgb a = hex(kBlues[i]), b = hex(kBlues[i + 1]);
    return {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f};
}

double luminance(Rgb c) { return 0.299 * c.r + 0.587 * c.g + 0.114 * c.b; }

// ------------------------------------------------------------------ cairo RAII
struct SurfaceDeleter {
    void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
    void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using ContextPtr = std::unique_ptr<cairo_t, ContextDeleter>;

/// An RGB24 image surface with a context, white background and the figure font set up.
class Canvas {
public:
    Canvas(double width, double height) {
        w_ = static_cast<int>(std::ceil(width));
        h_ = static_cast<int>(std::ceil(height));
        if (w_ < 1 || h_ < 1 || w_ > kMaxSide || h_ > kMaxSide)
            throw Error("plot: figure of " + std::to_string(w_) + "x" + std::to_string(h_) +
                        " px is outside 1.." + std::to_string(kMaxSide) + " px per side (too many labels or tiles)");
        surface_.reset(cairo_image_surface_create(CAIRO_FORMAT_RGB24, w_, h_));
        if (cairo_surface_status(surface_.get()) != CAIRO_STATUS_SUCCESS)
            throw Error(std::string("plot: cannot create a cairo surface: ") +
                        cairo_status_to_string(cairo_surface_status(surface_.get())));
        cr_.reset(cairo_create(surface_.get()));
        cairo_t* c = cr_.get();
        cairo_set_source_rgb(c, 1, 1, 1);
        cairo_paint(c);
        // Grey antialiasing: sub-pixel (coloured) fringes would be baked into the PNG.
        cairo_font_options_t* fo = cairo_font_options_create();
        cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
        cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
        cairo_set_font_options(c, fo);
        cairo_font_options_destroy(fo);
        cairo_select_font_face(c, kFont, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    }
    cairo_t* cr() const { return cr_.get(); }
    int width() const { return w_; }
    int height() const { return h_; }

    Png png() {
        if (cairo_status(cr_.get()) != CAIRO_STATUS_SUCCESS)
            throw Error(std::string("plot: drawing failed: ") + cairo_status_to_string(cairo_status(cr_.get())));
        // Through camscope's encode_png, not cairo_surface_write_to_png: libpng's defaults (every
        // filter tried on every row, zlib level 6) made PNG encoding most of a report's drawing time.
        cairo_surface_flush(surface_.get());
        const unsigned char* data = cairo_image_surface_get_data(surface_.get());
        const int stride = cairo_image_surface_get_stride(surface_.get());
        Image img{w_, h_, 3, std::vector<std::uint8_t>(static_cast<size_t>(w_) * h_ * 3)};
        std::uint8_t* o = img.pixels.data();
        for (int y = 0; y < h_; ++y) {
            const auto* row = reinterpret_cast<const std::uint32_t*>(data + static_cast<size_t>(y) * stride);
            for (int x = 0; x < w_; ++x, o += 3) {  // RGB24 is native-endian 0x00RRGGBB
                o[0] = static_cast<std::uint8_t>(row[x] >> 16);
                o[1] = static_cast<std::uint8_t>(row[x] >> 8);
                o[2] = static_cast<std::uint8_t>(row[x]);
            }
        }
        return encode_png(img);
    }

private:
    int w_ = 0, h_ = 0;
    SurfacePtr surface_;
    ContextPtr cr_;
};

/// A 1×1 canvas to measure text before the figure size is known (same font options).
Canvas& measurer() {
    thread_local Canvas c(1, 1);
    return c;
}

/// Restores the cairo state on scope exit.
class Saved {
public:
    explicit Saved(cairo_t* cr) : cr_(cr) { cairo_save(cr_); }
    ~Saved() { cairo_restore(cr_); }
    Saved(const Saved&) = delete;
    Saved& operator=(const Saved&) = delete;

private:
    cairo_t* cr_;
};

// ------------------------------------------------------------------ text
enum class VAlign { Baseline, Top, Middle, Bottom };

void set_font(cairo_t* cr, double px, bool bold) {
    cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, px);
}

double text_width(const std::string& s, double px, bool bold = false) {
    if (s.empty()) return 0;
    cairo_t* cr = measurer().cr();
    set_font(cr, px, bold);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s.c_str(), &te);
    return te.x_advance;
}

double max_text_width(const std::vector<std::string>& v, double px, bool bold = false) {
    double w = 0;
    for (const auto& s : v) w = std::max(w, text_width(s, px, bold));
    return w;
}

/// Shortens `s` (UTF-8 aware) with a trailing ellipsis until it fits `max_w` pixels.
std::string fit_text(const std::string& s, double px, double max_w, bool bold = false) {
    if (text_width(s, px, bold) <= max_w) return s;
    std::string t = s;
    while (!t.empty()) {
        t.pop_back();
        while (!t.empty() && (static_cast<unsigned char>(t.back()) & 0xC0) == 0x80) t.pop_back();
        if (!t.empty() && (static_cast<unsigned char>(t.back()) & 0xC0) == 0xC0) t.pop_back();  // lead byte
        std::string cand = t + "\u2026";
        if (text_width(cand, px, bold) <= max_w) return cand;
    }
    return "";
}

/// Draws `s` anchored at (x, y): halign 0 left, 0.5 centre, 1 right (along the text direction);
/// `angle` in radians, counter-clockwise as seen (so -pi/2 reads bottom to top).
void draw_text(cairo_t* cr, const std::string& s, double x, double y, double px, double halign, VAlign va, Rgb col,
               bool bold = false, double angle = 0) {
    if (s.empty()) return;
    Saved saved(cr);
    set_font(cr, px, bold);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s.c_str(), &te);
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double base = 0;
    switch (va) {
        case VAlign::Baseline: base = 0; break;
        case VAlign::Top: base = fe.ascent; break;
        case VAlign::Middle: base = (fe.ascent - fe.descent) / 2; break;
        case VAlign::Bottom: base = -fe.descent; break;
    }
    cairo_translate(cr, x, y);
    if (angle != 0) cairo_rotate(cr, angle);
    cairo_set_source_rgb(cr, col.r, col.g, col.b);
    cairo_move_to(cr, -halign * te.x_advance, base);
    cairo_show_text(cr, s.c_str());
}

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t nl = s.find('\n', start);
        if (nl == std::string::npos) nl = s.size();
        out.push_back(s.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

// ------------------------------------------------------------------ shapes
void fill_rect(cairo_t* cr, double x, double y, double w, double h, Rgb c) {
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
}
void stroke_rect(cairo_t* cr, double x, double y, double w, double h, Rgb c, double lw) {
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, lw);
    cairo_rectangle(cr, x, y, w, h);
    cairo_stroke(cr);
}
void line(cairo_t* cr, double x0, double y0, double x1, double y1, Rgb c, double lw) {
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, lw);
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
}
/// Pixel-aligned coordinate for a 1 px line.
double crisp(double v) { return std::floor(v) + 0.5; }

// ------------------------------------------------------------------ numbers
/// 1, 2, 2.5, 5 × 10^k at or above `raw`.
double nice_step(double raw) {
    if (!(raw > 0) || !std::isfinite(raw)) return 1;
    double e = std::floor(std::log10(raw));
    double base = std::pow(10.0, e);
    double f = raw / base;
    double n = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return n * base;
}

std::vector<double> ticks_with_step(double lo, double hi, double step) {
    std::vector<double> t;
    double k0 = std::ceil(lo / step - 1e-9);
    for (double k = k0; k * step <= hi + step * 1e-9 && t.size() < 1000; k += 1) {
        double v = k * step;
        if (std::fabs(v) < step * 1e-9) v = 0;
        t.push_back(v);
    }
    return t;
}

/// A label like "12", "0.25", "1.5e+06" (shortest of %g that round-trips to 6 digits).
std::string num_label(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

/// Accepts one floating-point conversion (%[flags][width][.prec]{f,F,e,E,g,G}) plus "%%" escapes.
void check_value_format(const std::string& f) {
    int conversions = 0;
    for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] != '%') continue;
        if (i + 1 < f.size() && f[i + 1] == '%') {
            ++i;
            continue;
        }
        size_t j = i + 1;
        while (j < f.size() && std::string("-+ #0").find(f[j]) != std::string::npos) ++j;
        while (j < f.size() && std::isdigit(static_cast<unsigned char>(f[j]))) ++j;
        if (j < f.size() && f[j] == '.') {
            ++j;
            while (j < f.size() && std::isdigit(static_cast<unsigned char>(f[j]))) ++j;
        }
        if (j >= f.size() || std::string("fFeEgG").find(f[j]) == std::string::npos)
            throw UsageError("plot: value_format \"" + f +
                             "\" must hold one floating-point conversion such as %.0f, %.2f or %.3g");
        ++conversions;
        i = j;
    }
    if (conversions != 1)
        throw UsageError("plot: value_format \"" + f + "\" must hold exactly one conversion such as %.0f or %.2f");
}

std::string format_value(const std::string& f, double v) {
    char buf[128];
    std::snprintf(buf, sizeof buf, f.c_str(), v);
    return buf;
}

/// Whether the number printed in `label` is `v` (a tick at 2.5 printed "2" with %.0f is a lie).
bool label_matches(const std::string& label, double v, double step) {
    size_t i = label.find_first_of("+-0123456789.");
    if (i == std::string::npos) return true;  // nothing numeric to check
    const char* begin = label.c_str() + i;
    char* end = nullptr;
    double parsed = std::strtod(begin, &end);
    if (end == begin) return true;
    return std::fabs(parsed - v) <= step * 1e-3;
}

/// Colour-bar ticks whose printed labels (with the user's format) are exact and distinct.
std::vector<double> format_safe_ticks(double lo, double hi, const std::string& fmt, int target) {
    double step = nice_step((hi - lo) / std::max(1, target));
    for (int iter = 0; iter < 30; ++iter) {
        auto t = ticks_with_step(lo, hi, step);
        bool ok = true;
        for (double v : t) ok = ok && label_matches(format_value(fmt, v), v, step);
        if (ok || t.size() <= 1) return t;
        step = nice_step(step * 1.5);
    }
    return {lo, hi};
}

// ------------------------------------------------------------------ common pieces
/// Title + centred grey "no data" for empty inputs.
Png no_data(const std::string& title) {
    Canvas cv(detail::kNoDataWidth, detail::kNoDataHeight);
    cairo_t* cr = cv.cr();
    if (!title.empty())
        draw_text(cr, fit_text(title, kTitlePx, cv.width() - 2 * kMargin, true), cv.width() / 2.0, kMargin, kTitlePx,
                  0.5, VAlign::Top, kText, true);
    stroke_rect(cr, crisp(kMargin), crisp(56), cv.width() - 2 * kMargin - 1, cv.height() - 56 - kMargin - 1, kGrid, 1);
    draw_text(cr, "no data", cv.width() / 2.0, (56 + cv.height() - kMargin) / 2.0, 20, 0.5, VAlign::Middle, kMuted);
    return cv.png();
}

void draw_title(cairo_t* cr, const std::string& title, double center_x, double max_w) {
    if (title.empty()) return;
    draw_text(cr, fit_text(title, kTitlePx, max_w, true), center_x, kMargin, kTitlePx, 0.5, VAlign::Top, kText, true);
}
constexpr double kTitleBand = 36;  // title height + gap below it

}  // namespace

// ================================================================== matrix
namespace detail {

void matrix_colormap(double t, unsigned char rgb[3]) {
    Rgb c = blues(t);
    rgb[0] = static_cast<unsigned char>(std::lround(c.r * 255));
    rgb[1] = static_cast<unsigned char>(std::lround(c.g * 255));
    rgb[2] = static_cast<unsigned char>(std::lround(c.b * 255));
}

namespace {
constexpr double kCbarGap = 24, kCbarW = 18, kTickLen = 4;
constexpr double kMaxLabelW = 240;  // longer class names are shortened with an ellipsis
}  // namespace

MatrixLayout matrix_layout(const MatrixPlot& p) {
    if (p.rows < 0 || p.cols < 0)
        throw UsageError("plot: matrix size " + std::to_string(p.rows) + "x" + std::to_string(p.cols) + " is negative");
    if (p.values.size() != static_cast<size_t>(p.rows) * static_cast<size_t>(p.cols))
        throw UsageError("plot: matrix values has " + std::to_string(p.values.size()) + " entries, expected rows*cols = " +
                         std::to_string(static_cast<long long>(p.rows) * p.cols));
    if (!p.row_labels.empty() && p.row_labels.size() != static_cast<size_t>(p.rows))
        throw UsageError("plot: matrix row_labels has " + std::to_string(p.row_labels.size()) + " entries, expected " +
                         std::to_string(p.rows));
    if (!p.col_labels.empty() && p.col_labels.size() != static_cast<size_t>(p.cols))
        throw UsageError("plot: matrix col_labels has " + std::to_string(p.col_labels.size()) + " entries, expected " +
                         std::to_string(p.cols));
    for (const auto& [b, e] : p.blocks)
        if (b < 0 || e < b || e > std::min(p.rows, p.cols))
            throw UsageError("plot: matrix block [" + std::to_string(b) + ", " + std::to_string(e) +
                             ") is outside the diagonal 0.." + std::to_string(std::min(p.rows, p.cols)));
    check_value_format(p.value_format);

    MatrixLayout L;
    double vmin = p.vmin, vmax = p.vmax;
    if (vmax < vmin) {
        vmax = vmin;
        for (float v : p.values)
            if (std::isfinite(v)) vmax = std::max(vmax, static_cast<double>(v));
    }
    if (!(vmax > vmin)) vmax = vmin + 1;  // constant (e.g. all-zero) data: lowest colour, no 0/0
    L.vmin = vmin;
    L.vmax = vmax;

    // ~1400 px of cells whatever K is, clamped so K=100 gets 14 px cells with 9.8 px labels and
    // small K get big cells that hold their annotation. At most kMaxMatrixPx of cells: beyond ~200
    // classes the cells shrink (labels go below 8 px cells, a pixel per class at 2,800): a
    // 1,000-class matrix at 14 px would be a 14,000-pixel canvas of 784 MB, unreadable anyway
    // (the report adds a labelled sub-matrix of the most confused classes).
    int k = std::max({p.rows, p.cols, 1});
    L.cell = std::clamp(std::floor(1400.0 / k), 14.0, 56.0);
    if (k * L.cell > kMaxMatrixPx) L.cell = std::max(1.0, std::floor(kMaxMatrixPx / k));
    L.label_px = L.cell >= 8 ? std::min(13.0, L.cell * 0.7) : 0;
    L.annot_px = (p.annotate && L.cell >= 20) ? std::clamp(L.cell * 0.3, 8.0, 14.0) : 0;

    auto row_labels = p.row_labels, col_labels = p.col_labels;
    double row_w = 0, col_h = 0;
    if (L.label_px > 0) {
        row_w = std::min(kMaxLabelW, max_text_width(row_labels, L.label_px));
        col_h = std::min(kMaxLabelW, max_text_width(col_labels, L.label_px));
    }
    double ylabel_band = p.ylabel.empty() ? 0 : kAxisLabelPx + 10;
    double xlabel_band = p.xlabel.empty() ? 0 : kAxisLabelPx + 12;

    // Whole-pixel origin: cell edges (and block outlines) land on pixel boundaries.
    L.x0 = std::ceil(kMargin + ylabel_band + (row_w > 0 ? row_w + 8 : 0));
    L.y0 = kMargin + (p.title.empty() ? 0 : kTitleBand);
    double mw = p.cols * L.cell, mh = p.rows * L.cell;

    L.cbar_x = L.x0 + mw + kCbarGap;
    L.cbar_y = L.y0;
    L.cbar_w = kCbarW;
    L.cbar_h = std::max(mh, 120.0);
    double tick_w = 0;
    for (double t : format_safe_ticks(vmin, vmax, p.value_format, 6))
        tick_w = std::max(tick_w, text_width(format_value(p.value_format, t), kTickPx));
    double right = L.cbar_x + L.cbar_w + kTickLen + 4 + tick_w + (p.colorbar_label.empty() ? 0 : 8 + kAxisLabelPx) +
                   kMargin;
    double bottom = std::max(L.y0 + mh + (col_h > 0 ? 6 + col_h : 0) + (xlabel_band > 0 ? 8 + xlabel_band : 0),
                             L.cbar_y + L.cbar_h) +
                    kMargin;
    double title_w = text_width(p.title, kTitlePx, true) + 2 * kMargin;
    L.width = static_cast<int>(std::ceil(std::max(right, title_w)));
    L.height = static_cast<int>(std::ceil(bottom));
    return L;
}

}  // namespace detail

Png render_matrix(const MatrixPlot& p) {
    detail::MatrixLayout L = detail::matrix_layout(p);
    if (p.rows == 0 || p.cols == 0) return no_data(p.title);
    Canvas cv(L.width, L.height);
    cairo_t* cr = cv.cr();
    const double mw = p.cols * L.cell, mh = p.rows * L.cell;
    const double span = L.vmax - L.vmin;

    draw_title(cr, p.title, L.width / 2.0, L.width - 2 * kMargin);

    // Cells. Rectangles snap to whole pixels so neighbouring cells share an edge without seams.
    {
        Saved s(cr);
        cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
        for (int r = 0; r < p.rows; ++r)
            for (int c = 0; c < p.cols; ++c) {
                float v = p.values[static_cast<size_t>(r) * p.cols + c];
                Rgb col = std::isfinite(v) ? blues((v - L.vmin) / span) : hex(0xBBBBBB);
                fill_rect(cr, L.x0 + c * L.cell, L.y0 + r * L.cell, L.cell, L.cell, col);
            }
    }
    // Light separators only where cells are big enough for them to help.
    if (L.cell >= 20) {
        for (int c = 1; c < p.cols; ++c)
            line(cr, L.x0 + c * L.cell, L.y0, L.x0 + c * L.cell, L.y0 + mh, kWhite, 1);
        for (int r = 1; r < p.rows; ++r)
            line(cr, L.x0, L.y0 + r * L.cell, L.x0 + mw, L.y0 + r * L.cell, kWhite, 1);
    }
    if (L.annot_px > 0) {
        for (int r = 0; r < p.rows; ++r)
            for (int c = 0; c < p.cols; ++c) {
                float v = p.values[static_cast<size_t>(r) * p.cols + c];
                if (!std::isfinite(v)) continue;
                std::string s = format_value(p.value_format, v);
                double px = L.annot_px;
                double w = text_width(s, px);
                if (w > L.cell - 4) px *= (L.cell - 4) / w;
                if (px < 6) continue;
                Rgb bg = blues((v - L.vmin) / span);
                draw_text(cr, s, L.x0 + (c + 0.5) * L.cell, L.y0 + (r + 0.5) * L.cell, px, 0.5, VAlign::Middle,
                          luminance(bg) < 0.5 ? kWhite : kText);
            }
    }
    stroke_rect(cr, L.x0 - 0.5, L.y0 - 0.5, mw + 1, mh + 1, kAxis, 1);
    for (const auto& [b, e] : p.blocks) {
        if (e == b) continue;
        stroke_rect(cr, L.x0 + b * L.cell, L.y0 + b * L.cell, (e - b) * L.cell, (e - b) * L.cell, kOutline, 2);
    }

    // Row labels right-aligned at the left, column labels rotated to read bottom-to-top.
    if (L.label_px > 0) {
        for (int r = 0; r < p.rows && r < static_cast<int>(p.row_labels.size()); ++r)
            draw_text(cr, fit_text(p.row_labels[r], L.label_px, detail::kMaxLabelW), L.x0 - 6, L.y0 + (r + 0.5) * L.cell,
                      L.label_px, 1, VAlign::Middle, kText);
        for (int c = 0; c < p.cols && c < static_cast<int>(p.col_labels.size()); ++c)
            draw_text(cr, fit_text(p.col_labels[c], L.label_px, detail::kMaxLabelW), L.x0 + (c + 0.5) * L.cell,
                      L.y0 + mh + 6, L.label_px, 1, VAlign::Middle, kText, false, -kHalfPi);
    }
    double col_h = 0;
    if (L.label_px > 0) col_h = std::min(detail::kMaxLabelW, max_text_width(p.col_labels, L.label_px));
    if (!p.xlabel.empty())
        draw_text(cr, p.xlabel, L.x0 + mw / 2, L.y0 + mh + (col_h > 0 ? 6 + col_h : 0) + 8, kAxisLabelPx, 0.5,
                  VAlign::Top, kText, true);
    if (!p.ylabel.empty())
        draw_text(cr, p.ylabel, kMargin, L.y0 + mh / 2, kAxisLabelPx, 0.5, VAlign::Top, kText, true, -kHalfPi);

    // Colour bar: a vertical gradient sampled per pixel row (same map as the cells), ticks at
    // values whose printed label is exact.
    {
        Saved s(cr);
        cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
        int n = static_cast<int>(std::ceil(L.cbar_h));
        for (int i = 0; i < n; ++i) {
            double t = 1.0 - (i + 0.5) / n;
            fill_rect(cr, L.cbar_x, L.cbar_y + i, L.cbar_w, 1, blues(t));
        }
    }
    stroke_rect(cr, L.cbar_x - 0.5, L.cbar_y - 0.5, L.cbar_w + 1, L.cbar_h + 1, kAxis, 1);
    for (double t : format_safe_ticks(L.vmin, L.vmax, p.value_format, 6)) {
        double y = L.cbar_y + L.cbar_h * (1 - (t - L.vmin) / span);
        double xr = L.cbar_x + L.cbar_w;
        line(cr, xr, crisp(y), xr + detail::kTickLen, crisp(y), kAxis, 1);
        draw_text(cr, format_value(p.value_format, t), xr + 8, y, kTickPx, 0, VAlign::Middle, kText);
    }
    if (!p.colorbar_label.empty())
        draw_text(cr, p.colorbar_label, L.width - kMargin, L.cbar_y + L.cbar_h / 2, kAxisLabelPx, 0.5, VAlign::Bottom,
                  kText, true, -kHalfPi);
    return cv.png();
}

// ================================================================== bars
Png render_barh(const BarPlot& p) {
    const size_t n = p.labels.size();
    if (p.values.size() != n)
        throw UsageError("plot: bar chart has " + std::to_string(n) + " labels but " + std::to_string(p.values.size()) +
                         " values");
    if (!p.value_text.empty() && p.value_text.size() != n)
        throw UsageError("plot: bar chart value_text has " + std::to_string(p.value_text.size()) +
                         " entries, expected 0 or " + std::to_string(n));
    if (n == 0) return no_data(p.title);

    constexpr double kLabelPx = 12, kValuePx = 11, kPitch = 26, kBarH = 18, kPlotW = 560;
    double lo = 0, hi = 0;
    for (float v : p.values)
        if (std::isfinite(v)) lo = std::min(lo, static_cast<double>(v)), hi = std::max(hi, static_cast<double>(v));
    if (!(hi > lo)) hi = lo + 1;
    double step = nice_step((hi - lo) / 5);
    lo = std::floor(lo / step + 1e-9) * step;
    hi = std::ceil(hi / step - 1e-9) * step;
    auto ticks = ticks_with_step(lo, hi, step);

    double label_w = std::min(360.0, max_text_width(p.labels, kLabelPx));
    double value_w = max_text_width(p.value_text, kValuePx);
    double x0 = kMargin + label_w + 10;
    double y0 = kMargin + (p.title.empty() ? 0 : kTitleBand);
    double ph = n * kPitch;
    double width = x0 + kPlotW + (value_w > 0 ? value_w + 8 : 0) + kMargin;
    width = std::max(width, text_width(p.title, kTitlePx, true) + 2 * kMargin);
    double height = y0 + ph + 6 + kTickPx + 6 + (p.xlabel.empty() ? 0 : kAxisLabelPx + 8) + kMargin;
    Canvas cv(width, height);
    cairo_t* cr = cv.cr();
    auto X = [&](double v) { return x0 + (v - lo) / (hi - lo) * kPlotW; };

    draw_title(cr, p.title, cv.width() / 2.0, cv.width() - 2 * kMargin);
    for (double t : ticks) {
        line(cr, crisp(X(t)), y0, crisp(X(t)), y0 + ph, kGrid, 1);
        line(cr, crisp(X(t)), y0 + ph, crisp(X(t)), y0 + ph + 4, kAxis, 1);
        draw_text(cr, num_label(t), X(t), y0 + ph + 6, kTickPx, 0.5, VAlign::Top, kText);
    }
    for (size_t i = 0; i < n; ++i) {
        double yc = y0 + (i + 0.5) * kPitch;
        draw_text(cr, fit_text(p.labels[i], kLabelPx, 360), x0 - 6, yc, kLabelPx, 1, VAlign::Middle, kText);
        float v = p.values[i];
        if (!std::isfinite(v)) continue;
        double a = X(0), b = X(v);
        double left = std::min(a, b), w = std::fabs(b - a);
        fill_rect(cr, left, yc - kBarH / 2, w, kBarH, kBar);
        if (w >= 1) stroke_rect(cr, left + 0.5, yc - kBarH / 2 + 0.5, w - 1, kBarH - 1, kBarEdge, 1);
        if (!p.value_text.empty()) {
            // Positive bars: text after the bar end; negative bars: right of the zero line.
            double tx = v >= 0 ? b + 4 : a + 4;
            draw_text(cr, p.value_text[i], tx, yc, kValuePx, 0, VAlign::Middle, kText);
        }
    }
    line(cr, crisp(X(0)), y0, crisp(X(0)), y0 + ph, kAxis, 1);
    line(cr, x0, crisp(y0 + ph), x0 + kPlotW, crisp(y0 + ph), kAxis, 1);
    if (!p.xlabel.empty())
        draw_text(cr, p.xlabel, x0 + kPlotW / 2, y0 + ph + 6 + kTickPx + 8, kAxisLabelPx, 0.5, VAlign::Top, kText, true);
    return cv.png();
}

// ================================================================== reliability
Png render_reliability(const ReliabilityPlot& p) {
    const size_t n = p.bin_lower.size();
    for (auto [name, size] : {std::pair{"bin_upper", p.bin_upper.size()}, std::pair{"bin_confidence", p.bin_confidence.size()},
                              std::pair{"bin_accuracy", p.bin_accuracy.size()}, std::pair{"bin_count", p.bin_count.size()}})
        if (size != n)
            throw UsageError(std::string("plot: reliability ") + name + " has " + std::to_string(size) +
                             " entries, expected " + std::to_string(n) + " (size of bin_lower)");
    long long total = 0, cmax = 0, cmin_pos = 0;
    for (long long c : p.bin_count)
        if (c > 0) {
            total += c;
            cmax = std::max(cmax, c);
            cmin_pos = cmin_pos == 0 ? c : std::min(cmin_pos, c);
        }
    if (n == 0 || total == 0) return no_data(p.title);

    constexpr double kSize = 440, kHistH = 140, kLeft = 84;
    const double top = kMargin + (p.title.empty() ? 0 : kTitleBand);
    const double hist_top = top + kSize + 6 + kTickPx + 20;
    const double width = kLeft + kSize + 40;
    const double height = hist_top + kHistH + 6 + kTickPx + 8 + kAxisLabelPx + kMargin;
    Canvas cv(std::max(width, text_width(p.title, kTitlePx, true) + 2 * kMargin), height);
    cairo_t* cr = cv.cr();
    auto X = [&](double v) { return kLeft + std::clamp(v, 0.0, 1.0) * kSize; };
    auto Y = [&](double v) { return top + (1 - std::clamp(v, 0.0, 1.0)) * kSize; };
    draw_title(cr, p.title, cv.width() / 2.0, cv.width() - 2 * kMargin);

    // ---- top panel: accuracy bars, gap to the bin's mean confidence, diagonal
    const auto ticks01 = ticks_with_step(0, 1, 0.2);
    for (double t : ticks01) {
        line(cr, crisp(X(t)), top, crisp(X(t)), top + kSize, kGrid, 1);
        line(cr, kLeft, crisp(Y(t)), kLeft + kSize, crisp(Y(t)), kGrid, 1);
    }
    for (size_t i = 0; i < n; ++i) {
        if (p.bin_count[i] <= 0) continue;
        double x = X(p.bin_lower[i]), w = X(p.bin_upper[i]) - x;
        double acc = p.bin_accuracy[i];
        if (std::isfinite(acc)) {
            fill_rect(cr, x, Y(acc), w, top + kSize - Y(acc), kBar);
            stroke_rect(cr, x, Y(acc), w, top + kSize - Y(acc), kBarEdge, 1);
        }
    }
    // Gap drawn over the bars: translucent red with a red hatch so it reads in greyscale too.
    for (size_t i = 0; i < n; ++i) {
        if (p.bin_count[i] <= 0) continue;
        double acc = p.bin_accuracy[i], conf = p.bin_confidence[i];
        if (!std::isfinite(acc) || !std::isfinite(conf)) continue;
        double x = X(p.bin_lower[i]), w = X(p.bin_upper[i]) - x;
        double y_top = Y(std::max(acc, conf)), y_bot = Y(std::min(acc, conf));
        if (y_bot - y_top < 0.5) continue;
        Saved s(cr);
        cairo_rectangle(cr, x, y_top, w, y_bot - y_top);
        cairo_set_source_rgba(cr, kGap.r, kGap.g, kGap.b, 0.28);
        cairo_fill_preserve(cr);
        cairo_clip_preserve(cr);
        cairo_set_source_rgb(cr, kGap.r, kGap.g, kGap.b);
        cairo_set_line_width(cr, 1.2);
        cairo_stroke(cr);
        for (double d = -(y_bot - y_top); d < w; d += 6) {  // 45° hatch
            cairo_move_to(cr, x + d, y_bot);
            cairo_line_to(cr, x + d + (y_bot - y_top), y_top);
        }
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
    }
    {
        Saved s(cr);
        const double dash[] = {6, 4};
        cairo_set_dash(cr, dash, 2, 0);
        line(cr, X(0), Y(0), X(1), Y(1), kMuted, 1.5);
    }
    stroke_rect(cr, crisp(kLeft), crisp(top), kSize, kSize, kAxis, 1);
    for (double t : ticks01) {
        line(cr, crisp(X(t)), top + kSize, crisp(X(t)), top + kSize + 4, kAxis, 1);
        draw_text(cr, num_label(t), X(t), top + kSize + 6, kTickPx, 0.5, VAlign::Top, kText);
        line(cr, kLeft - 4, crisp(Y(t)), kLeft, crisp(Y(t)), kAxis, 1);
        draw_text(cr, num_label(t), kLeft - 6, Y(t), kTickPx, 1, VAlign::Middle, kText);
    }
    draw_text(cr, "Accuracy", kMargin + 4, top + kSize / 2, kAxisLabelPx, 0.5, VAlign::Top, kText, true, -kHalfPi);

    // Legend and annotation in the upper-left, the corner an over-confident model leaves empty.
    {
        const double lx = kLeft + 10, lpx = 12, row = 18;
        std::vector<std::string> ann = p.annotation.empty() ? std::vector<std::string>{} : split_lines(p.annotation);
        double lw = std::max({text_width("Perfect calibration", lpx), text_width("Accuracy", lpx),
                              text_width("Gap to confidence", lpx)}) + 34;
        double aw = max_text_width(ann, 13, true);
        double bw = std::max(lw, aw + 4) + 12;
        double bh = 3 * row + (ann.empty() ? 0 : ann.size() * 18 + 6) + 10;
        double ly = top + 10;
        Saved s(cr);
        cairo_set_source_rgba(cr, 1, 1, 1, 0.92);
        cairo_rectangle(cr, lx, ly, bw, bh);
        cairo_fill(cr);
        stroke_rect(cr, crisp(lx), crisp(ly), bw, bh, hex(0xAAAAAA), 1);
        double y = ly + 5;
        for (const auto& a : ann) {
            draw_text(cr, a, lx + 8, y, 13, 0, VAlign::Top, kText, true);
            y += 18;
        }
        if (!ann.empty()) y += 6;
        fill_rect(cr, lx + 8, y + 3, 20, 11, kBar);
        draw_text(cr, "Accuracy", lx + 34, y + row / 2 - 1, lpx, 0, VAlign::Middle, kText);
        y += row;
        cairo_set_source_rgba(cr, kGap.r, kGap.g, kGap.b, 0.28);
        cairo_rectangle(cr, lx + 8, y + 3, 20, 11);
        cairo_fill(cr);
        stroke_rect(cr, lx + 8.5, y + 3.5, 19, 10, kGap, 1);
        draw_text(cr, "Gap to confidence", lx + 34, y + row / 2 - 1, lpx, 0, VAlign::Middle, kText);
        y += row;
        {
            Saved s2(cr);
            const double dash[] = {6, 4};
            cairo_set_dash(cr, dash, 2, 0);
            line(cr, lx + 8, y + row / 2 - 1, lx + 28, y + row / 2 - 1, kMuted, 1.5);
        }
        draw_text(cr, "Perfect calibration", lx + 34, y + row / 2 - 1, lpx, 0, VAlign::Middle, kText);
    }

    // ---- bottom panel: samples per bin; log scale once counts span two decades
    const bool log_scale = cmin_pos > 0 && cmax >= 100 * cmin_pos;
    double hmax = 0;
    std::vector<double> hticks;
    if (log_scale) {
        hmax = std::ceil(std::log10(static_cast<double>(cmax)) + 1e-9);
        for (int e = 0; e <= static_cast<int>(hmax); ++e) hticks.push_back(e);
    } else {
        double step = nice_step(cmax / 4.0);
        hmax = std::ceil(cmax / step - 1e-9) * step;
        hticks = ticks_with_step(0, hmax, step);
    }
    auto HY = [&](double c) {
        double v = log_scale ? (c > 0 ? std::log10(c) : 0) : c;
        return hist_top + kHistH * (1 - std::clamp(v / hmax, 0.0, 1.0));
    };
    for (double t : hticks) {
        double y = hist_top + kHistH * (1 - t / hmax);
        line(cr, kLeft, crisp(y), kLeft + kSize, crisp(y), kGrid, 1);
        line(cr, kLeft - 4, crisp(y), kLeft, crisp(y), kAxis, 1);
        std::string lab = log_scale ? num_label(std::pow(10.0, t)) : num_label(t);
        draw_text(cr, lab, kLeft - 6, y, kTickPx, 1, VAlign::Middle, kText);
    }
    for (size_t i = 0; i < n; ++i) {
        if (p.bin_count[i] <= 0) continue;
        double x = X(p.bin_lower[i]), w = X(p.bin_upper[i]) - x;
        double y = HY(static_cast<double>(p.bin_count[i]));
        double h = hist_top + kHistH - y;
        if (h < 1) y = hist_top + kHistH - 1, h = 1;  // a log-scale count of 1 is still visible
        fill_rect(cr, x, y, w, h, hex(0x8C8C8C));
        stroke_rect(cr, x, y, w, h, hex(0x555555), 1);
    }
    stroke_rect(cr, crisp(kLeft), crisp(hist_top), kSize, kHistH, kAxis, 1);
    for (double t : ticks01) {
        line(cr, crisp(X(t)), hist_top + kHistH, crisp(X(t)), hist_top + kHistH + 4, kAxis, 1);
        draw_text(cr, num_label(t), X(t), hist_top + kHistH + 6, kTickPx, 0.5, VAlign::Top, kText);
    }
    draw_text(cr, log_scale ? "Samples (log)" : "Samples", kMargin + 4, hist_top + kHistH / 2, kAxisLabelPx - 1, 0.5,
              VAlign::Top, kText, true, -kHalfPi);
    draw_text(cr, "Confidence", kLeft + kSize / 2, hist_top + kHistH + 6 + kTickPx + 8, kAxisLabelPx, 0.5, VAlign::Top,
              kText, true);
    return cv.png();
}

// ================================================================== grid
namespace {

/// Copies an Image (grey or RGB) into an RGB24 cairo surface.
SurfacePtr image_surface(const Image& img) {
    if (img.channels != 1 && img.channels != 3 && img.channels != 4)
        throw UsageError("plot: grid image has " + std::to_string(img.channels) + " channels, expected 1 or 3");
    if (img.width <= 0 || img.height <= 0 ||
        img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
        throw UsageError("plot: grid image " + std::to_string(img.width) + "x" + std::to_string(img.height) + "x" +
                         std::to_string(img.channels) + " holds " + std::to_string(img.pixels.size()) + " bytes");
    SurfacePtr s(cairo_image_surface_create(CAIRO_FORMAT_RGB24, img.width, img.height));
    if (cairo_surface_status(s.get()) != CAIRO_STATUS_SUCCESS)
        throw Error("plot: cannot create a surface for a " + std::to_string(img.width) + "x" +
                    std::to_string(img.height) + " image");
    cairo_surface_flush(s.get());
    unsigned char* data = cairo_image_surface_get_data(s.get());
    const int stride = cairo_image_surface_get_stride(s.get());
    for (int y = 0; y < img.height; ++y) {
        auto* row = reinterpret_cast<std::uint32_t*>(data + static_cast<size_t>(y) * stride);
        for (int x = 0; x < img.width; ++x) {
            const std::uint8_t* px = &img.pixels[(static_cast<size_t>(y) * img.width + x) * img.channels];
            std::uint32_t r = px[0], g = img.channels == 1 ? px[0] : px[1], b = img.channels == 1 ? px[0] : px[2];
            row[x] = (r << 16) | (g << 8) | b;  // RGB24 is native-endian 0x00RRGGBB
        }
    }
    cairo_surface_mark_dirty(s.get());
    return s;
}

}  // namespace

Png render_grid(const GridPlot& p) {
    if (p.cell < 8 || p.cell > 4096) throw UsageError("plot: grid cell " + std::to_string(p.cell) + " px is outside 8..4096");
    size_t ncols = p.col_headers.size();
    size_t tiles = 0;
    for (const auto& r : p.rows) ncols = std::max(ncols, r.size()), tiles += r.size();
    const size_t nrows = std::max(p.rows.size(), p.row_headers.size());
    if (tiles == 0) return no_data(p.title);

    constexpr double kCapPx = 12, kCapLine = 15, kHeaderPx = 13, kGap = 12;
    const double cell = p.cell;
    size_t cap_lines = 0;
    for (const auto& r : p.rows)
        for (const auto& t : r) cap_lines = std::max(cap_lines, t.caption.size());
    const double cap_h = cap_lines * kCapLine;
    const double row_hdr_w = p.row_headers.empty() ? 0 : std::min(240.0, max_text_width(p.row_headers, kHeaderPx, true)) + 12;
    const double col_hdr_h = p.col_headers.empty() ? 0 : kHeaderPx + 10;
    const auto footer = p.footer.empty() ? std::vector<std::string>{} : split_lines(p.footer);

    const double x0 = kMargin + row_hdr_w;
    const double y0 = kMargin + (p.title.empty() ? 0 : kTitleBand) + col_hdr_h;
    const double pitch_x = cell + kGap, pitch_y = cell + 4 + cap_h + kGap;
    double width = x0 + ncols * pitch_x - kGap + kMargin;
    width = std::max(width, text_width(p.title, kTitlePx, true) + 2 * kMargin);
    width = std::max(width, max_text_width(footer, kCapPx) + 2 * kMargin);
    const double grid_bottom = y0 + nrows * pitch_y - kGap;
    const double height = grid_bottom + (footer.empty() ? 0 : 10 + footer.size() * kCapLine) + kMargin;
    Canvas cv(width, height);
    cairo_t* cr = cv.cr();
    draw_title(cr, p.title, cv.width() / 2.0, cv.width() - 2 * kMargin);

    for (size_t c = 0; c < p.col_headers.size(); ++c)
        draw_text(cr, fit_text(p.col_headers[c], kHeaderPx, cell, true), x0 + c * pitch_x + cell / 2, y0 - 8, kHeaderPx,
                  0.5, VAlign::Bottom, kText, true);
    for (size_t r = 0; r < p.row_headers.size(); ++r)
        draw_text(cr, fit_text(p.row_headers[r], kHeaderPx, 240, true), x0 - 12, y0 + r * pitch_y + cell / 2, kHeaderPx,
                  1, VAlign::Middle, kText, true);

    for (size_t r = 0; r < p.rows.size(); ++r) {
        for (size_t c = 0; c < p.rows[r].size(); ++c) {
            const Tile& t = p.rows[r][c];
            const double cx = x0 + c * pitch_x, cy = y0 + r * pitch_y;
            if (!t.image.empty()) {
                SurfacePtr img = image_surface(t.image);
                const int iw = t.image.width, ih = t.image.height;
                double s = cell / std::max(iw, ih);
                // Whole-number magnification keeps every source pixel the same size (crisp 32×32
                // thumbnails) when that costs at most 20% of the cell.
                if (s >= 2 && std::floor(s) / s >= 0.8) s = std::floor(s);
                const double dw = std::round(iw * s), dh = std::round(ih * s);
                const double dx = std::round(cx + (cell - dw) / 2), dy = std::round(cy + (cell - dh) / 2);
                Saved sv(cr);
                cairo_rectangle(cr, dx, dy, dw, dh);
                cairo_clip(cr);
                cairo_translate(cr, dx, dy);
                cairo_scale(cr, dw / iw, dh / ih);
                cairo_set_source_surface(cr, img.get(), 0, 0);
                cairo_pattern_set_filter(cairo_get_source(cr), s >= 1 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
                cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
                cairo_paint(cr);
            } else {
                stroke_rect(cr, crisp(cx), crisp(cy), cell - 1, cell - 1, kGrid, 1);
            }
            if (!t.stamp.empty()) {  // frame + a dark band with the text, over the middle of the cell
                stroke_rect(cr, cx + 1.5, cy + 1.5, cell - 3, cell - 3, hex(kStampRgb), 3);
                const double band = std::min(cell - 6, kCapLine + 8);
                Saved sv(cr);
                cairo_set_source_rgba(cr, 0, 0, 0, 0.72);
                cairo_rectangle(cr, cx + 3, cy + (cell - band) / 2, cell - 6, band);
                cairo_fill(cr);
                draw_text(cr, fit_text(t.stamp, kCapPx, cell - 10, true), cx + cell / 2, cy + cell / 2, kCapPx, 0.5,
                          VAlign::Middle, kWhite, true);
            }
            const Rgb cap = hex(t.caption_rgb);
            for (size_t k = 0; k < t.caption.size(); ++k)
                draw_text(cr, fit_text(t.caption[k], kCapPx, cell + kGap - 2), cx + cell / 2, cy + cell + 4 + k * kCapLine,
                          kCapPx, 0.5, VAlign::Top, cap);
        }
    }
    for (size_t k = 0; k < footer.size(); ++k)
        draw_text(cr, footer[k], kMargin, grid_bottom + 10 + k * kCapLine, kCapPx, 0, VAlign::Top, kMuted);
    return cv.png();
}

// ================================================================== bar panels
Png render_barh_panels(const PanelBarPlot& p) {
    const size_t n = p.labels.size(), panels = p.values.size();
    if (p.panel_titles.size() != panels)
        throw UsageError("plot: bar panels have " + std::to_string(panels) + " value rows but " +
                         std::to_string(p.panel_titles.size()) + " panel titles");
    if (!p.highlight.empty() && p.highlight.size() != panels)
        throw UsageError("plot: bar panels highlight has " + std::to_string(p.highlight.size()) +
                         " entries, expected 0 or " + std::to_string(panels));
    for (size_t k = 0; k < panels; ++k)
        if (p.values[k].size() != n)
            throw UsageError("plot: bar panel " + std::to_string(k) + " has " + std::to_string(p.values[k].size()) +
                             " values for " + std::to_string(n) + " labels");
    check_value_format(p.value_format);
    if (n == 0 || panels == 0) return no_data(p.title);

    constexpr double kLabelPx = 12, kValuePx = 11, kPitch = 22, kBarH = 15, kPlotW = 420, kPanelTitle = 24;
    constexpr Rgb kAccent = hex(0xDD8452);
    const double label_w = std::min(300.0, max_text_width(p.labels, kLabelPx));
    const double x0 = kMargin + label_w + 10;
    const double top = kMargin + (p.title.empty() ? 0 : kTitleBand);
    const double panel_h = kPanelTitle + n * kPitch + 14;
    double width = x0 + kPlotW + 80 + kMargin;
    width = std::max(width, text_width(p.title, kTitlePx, true) + 2 * kMargin);
    for (const auto& t : p.panel_titles) width = std::max(width, x0 + text_width(t, kAxisLabelPx, true) + kMargin);
    const double height = top + panels * panel_h + (p.footer.empty() ? 0 : kTickPx + 12) + kMargin;
    Canvas cv(width, height);
    cairo_t* cr = cv.cr();
    draw_title(cr, p.title, cv.width() / 2.0, cv.width() - 2 * kMargin);
    for (size_t k = 0; k < panels; ++k) {
        const double py = top + k * panel_h;
        draw_text(cr, p.panel_titles[k], x0, py, kAxisLabelPx, 0, VAlign::Top, kText, true);
        double lo = 0, hi = 0;  // the scale always includes 0; negative bars extend left of it
        for (float v : p.values[k])
            if (std::isfinite(v)) lo = std::min(lo, static_cast<double>(v)), hi = std::max(hi, static_cast<double>(v));
        if (!(hi > lo)) hi = lo + 1;
        auto X = [&](double v) { return x0 + (v - lo) / (hi - lo) * kPlotW; };
        const double y0 = py + kPanelTitle;
        for (size_t i = 0; i < n; ++i) {
            const double yc = y0 + (i + 0.5) * kPitch;
            draw_text(cr, fit_text(p.labels[i], kLabelPx, 300), x0 - 6, yc, kLabelPx, 1, VAlign::Middle, kText);
            const float v = p.values[k][i];
            if (!std::isfinite(v)) {
                draw_text(cr, "n/a", x0 + 4, yc, kValuePx, 0, VAlign::Middle, kMuted);
                continue;
            }
            const double a = X(0), b = X(v), left = std::min(a, b), w = std::fabs(b - a);
            const bool hl = !p.highlight.empty() && std::find(p.highlight[k].begin(), p.highlight[k].end(),
                                                              static_cast<int>(i)) != p.highlight[k].end();
            fill_rect(cr, left, yc - kBarH / 2, w, kBarH, hl ? kAccent : kBar);
            if (w >= 1) stroke_rect(cr, left + 0.5, yc - kBarH / 2 + 0.5, w - 1, kBarH - 1, kBarEdge, 1);
            draw_text(cr, format_value(p.value_format, v), std::max(a, b) + 4, yc, kValuePx, 0, VAlign::Middle, kText, hl);
        }
        line(cr, crisp(X(0)), y0, crisp(X(0)), y0 + n * kPitch, kAxis, 1);
    }
    if (!p.footer.empty())
        draw_text(cr, fit_text(p.footer, kTickPx, cv.width() - 2 * kMargin), kMargin, top + panels * panel_h + 4,
                  kTickPx, 0, VAlign::Top, kMuted);
    return cv.png();
}

}  // namespace camscope::plot
