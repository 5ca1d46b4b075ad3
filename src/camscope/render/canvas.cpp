// The drawing primitives of render/ (canvas.hpp): the Cairo canvas, text, shapes, ticks.
#include "camscope/render/canvas.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "camscope/render/plot_layout.hpp"
#include "camscope/util/error.hpp"

namespace camscope::plot::canvas {

// ------------------------------------------------------------------ colours
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

// ------------------------------------------------------------------ canvas
Canvas::Canvas(double width, double height) {
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

Png Canvas::png() {
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

Canvas& measurer() {
    thread_local Canvas c(1, 1);
    return c;
}

// ------------------------------------------------------------------ text
void set_font(cairo_t* cr, double px, bool bold) {
    cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, px);
}

double text_width(const std::string& s, double px, bool bold) {
    if (s.empty()) return 0;
    cairo_t* cr = measurer().cr();
    set_font(cr, px, bold);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s.c_str(), &te);
    return te.x_advance;
}

double max_text_width(const std::vector<std::string>& v, double px, bool bold) {
    double w = 0;
    for (const auto& s : v) w = std::max(w, text_width(s, px, bold));
    return w;
}

/// Shortens `s` (UTF-8 aware) with a trailing ellipsis until it fits `max_w` pixels.
std::string fit_text(const std::string& s, double px, double max_w, bool bold) {
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
               bool bold, double angle) {
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

namespace {

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

}  // namespace

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

}  // namespace camscope::plot::canvas
