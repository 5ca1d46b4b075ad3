// render_matrix: a heatmap (the confusion matrices) with labels, colour bar, block outlines and
// cell annotations; its layout (plot_layout.hpp) is computed apart so tests can sample cells.
#include "camscope/render/plot.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "camscope/render/canvas.hpp"
#include "camscope/render/plot_layout.hpp"
#include "camscope/util/error.hpp"

namespace camscope::plot {

using namespace canvas;

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

}  // namespace camscope::plot
