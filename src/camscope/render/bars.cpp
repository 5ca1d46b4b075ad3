// Horizontal bar charts: render_barh (one chart) and render_barh_panels (small multiples sharing
// their bar labels).
#include "camscope/render/plot.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "camscope/render/canvas.hpp"
#include "camscope/util/error.hpp"

namespace camscope::plot {

using namespace canvas;

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
