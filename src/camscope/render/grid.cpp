// render_grid: a grid of images with captions, headers, stamps and a footer (galleries, pair
// sheets, label errors).
#include "camscope/render/plot.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "camscope/render/canvas.hpp"
#include "camscope/util/error.hpp"

namespace camscope::plot {

using namespace canvas;

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

}  // namespace camscope::plot
