#pragma once
// Private to render/: the drawing primitives every figure of plot.hpp is made of, over Cairo's image
// surface and toy text API (DejaVu Sans through fontconfig): colours, the canvas (RGB24 surface with
// a white background, encoded to PNG by camscope's encode_png), text measured and drawn, shapes,
// axis ticks and number labels, the title and the "no data" figure. One file per figure kind uses
// them (matrix.cpp, bars.cpp, reliability.cpp, grid.cpp). Layout sizes are in pixels.
#include <cairo.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "camscope/render/plot.hpp"

namespace camscope::plot::canvas {

inline constexpr const char* kFont = "DejaVu Sans";
inline constexpr int kMaxSide = 32000;  // cairo image surfaces stop at 32767
inline constexpr double kMargin = 16;
inline constexpr double kTitlePx = 18;
inline constexpr double kAxisLabelPx = 14;
inline constexpr double kTickPx = 11;
inline constexpr double kHalfPi = std::numbers::pi / 2;  // rotate by -kHalfPi: text reads bottom to top
inline constexpr double kTitleBand = 36;                 // title height + gap below it

// ------------------------------------------------------------------ colours
struct Rgb {
    double r, g, b;
};
constexpr Rgb hex(std::uint32_t v) {
    return {((v >> 16) & 0xFF) / 255.0, ((v >> 8) & 0xFF) / 255.0, (v & 0xFF) / 255.0};
}
inline constexpr Rgb kWhite = hex(0xFFFFFF), kText = hex(0x222222), kAxis = hex(0x444444),
                     kGrid = hex(0xE3E3E3), kMuted = hex(0x777777), kBar = hex(0x4C72B0), kBarEdge = hex(0x2F4B7C),
                     kGap = hex(0xD62728), kOutline = hex(0x111111);

/// ColorBrewer "Blues" (9 classes), as matplotlib's Blues, at t in [0, 1] (NaN: 0): white for 0,
/// so mostly-empty confusion matrices read as white with the confusions standing out.
Rgb blues(double t);
inline double luminance(Rgb c) { return 0.299 * c.r + 0.587 * c.g + 0.114 * c.b; }

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
/// Throws Error when the size is outside 1..kMaxSide px per side or cairo fails.
class Canvas {
public:
    Canvas(double width, double height);
    cairo_t* cr() const { return cr_.get(); }
    int width() const { return w_; }
    int height() const { return h_; }
    /// The drawing as PNG bytes. Throws Error if drawing failed.
    Png png();

private:
    int w_ = 0, h_ = 0;
    SurfacePtr surface_;
    ContextPtr cr_;
};

/// A 1×1 canvas (per thread) to measure text before the figure size is known (same font options).
Canvas& measurer();

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

void set_font(cairo_t* cr, double px, bool bold);
double text_width(const std::string& s, double px, bool bold = false);
double max_text_width(const std::vector<std::string>& v, double px, bool bold = false);
/// Shortens `s` (UTF-8 aware) with a trailing ellipsis until it fits `max_w` pixels.
std::string fit_text(const std::string& s, double px, double max_w, bool bold = false);
/// Draws `s` anchored at (x, y): halign 0 left, 0.5 centre, 1 right (along the text direction);
/// `angle` in radians, counter-clockwise as seen (so -pi/2 reads bottom to top).
void draw_text(cairo_t* cr, const std::string& s, double x, double y, double px, double halign, VAlign va, Rgb col,
               bool bold = false, double angle = 0);
std::vector<std::string> split_lines(const std::string& s);

// ------------------------------------------------------------------ shapes
void fill_rect(cairo_t* cr, double x, double y, double w, double h, Rgb c);
void stroke_rect(cairo_t* cr, double x, double y, double w, double h, Rgb c, double lw);
void line(cairo_t* cr, double x0, double y0, double x1, double y1, Rgb c, double lw);
/// Pixel-aligned coordinate for a 1 px line.
inline double crisp(double v) { return std::floor(v) + 0.5; }

// ------------------------------------------------------------------ numbers
/// 1, 2, 2.5, 5 × 10^k at or above `raw`.
double nice_step(double raw);
std::vector<double> ticks_with_step(double lo, double hi, double step);
/// A label like "12", "0.25", "1.5e+06" (shortest of %g that round-trips to 6 digits).
std::string num_label(double v);
/// Accepts one floating-point conversion (%[flags][width][.prec]{f,F,e,E,g,G}) plus "%%" escapes;
/// throws UsageError otherwise.
void check_value_format(const std::string& f);
std::string format_value(const std::string& f, double v);
/// Colour-bar ticks whose printed labels (with the user's format) are exact and distinct.
std::vector<double> format_safe_ticks(double lo, double hi, const std::string& fmt, int target);

// ------------------------------------------------------------------ common pieces
/// Title + centred grey "no data" for empty inputs.
Png no_data(const std::string& title);
void draw_title(cairo_t* cr, const std::string& title, double center_x, double max_w);

}  // namespace camscope::plot::canvas
