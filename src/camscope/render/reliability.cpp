// render_reliability: per-bin accuracy against confidence, gaps shaded, with the histogram of bin
// counts underneath.
#include "camscope/render/plot.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "camscope/render/canvas.hpp"
#include "camscope/util/error.hpp"

namespace camscope::plot {

using namespace canvas;

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

}  // namespace camscope::plot
