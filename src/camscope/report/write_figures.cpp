// PNG figures of the report, drawn by render/plot. The only pixel work here is composing what a
// figure shows (the image, its CAM upsampled to the image's size and overlaid, a difference map);
// every number in a title or caption comes from the Report.
#include <algorithm>
#include <cmath>

#include "camscope/image/cam_view.hpp"
#include "camscope/image/image.hpp"
#include "camscope/render/plot.hpp"
#include "camscope/report/figures.hpp"
#include "camscope/report/writers.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::figures {

using report_detail::pct;
using report_detail::temperature_label;

namespace {

constexpr std::uint32_t kRed = 0xC00000, kGreen = 0x007000, kBlack = 0x000000;

enum class Which { Pred, True };

// The dataset image of a row, or an empty image when the caller supplied no loader.
Image load(const AnalysisInput& in, size_t row) {
    if (!in.load_image) return {};
    return in.load_image(row);
}

// Display size of a row's CAM: the image's size, else the model input size, else 8× the CAM.
std::pair<int, int> display_size(const AnalysisInput& in, const Image& img) {
    if (!img.empty()) return {img.height, img.width};
    if (in.input_h > 0 && in.input_w > 0) return {in.input_h, in.input_w};
    return {in.fh * 8, in.fw * 8};
}

// A CAM (fh×fw, at the layer's resolution) as pytorch-grad-cam returns it: at the model's input
// size, scaled there (cam_to_input_size); without a known input size, at the display size.
struct InputMap {
    std::vector<float> map;
    int h = 0, w = 0;
};
InputMap input_map(const AnalysisInput& in, const Image& img, const float* src, int fh, int fw) {
    const auto [h, w] = display_size(in, img);
    InputMap m;
    m.h = in.input_h > 0 ? in.input_h : h;
    m.w = in.input_w > 0 ? in.input_w : w;
    m.map = cam_to_input_size(src, fh, fw, m.h, m.w);
    return m;
}

const float* row_map(const AnalysisInput& in, Which which, size_t row) {
    const size_t hw = static_cast<size_t>(in.fh) * in.fw;
    return (which == Which::Pred ? in.cam_pred.data() : in.cam_true.data()) + row * hw;
}

// What a person sees of a row's CAM (image/cam_view.hpp: the overlay at the image's size, or the
// hatched stand-in when the map has no positive evidence; the figures stamp that as well,
// plot::Tile::stamp, the explorer says so in words).
CamView cam_tile(const AnalysisInput& in, const Image& img, Which which, size_t row) {
    const InputMap m = input_map(in, img, row_map(in, which, row), in.fh, in.fw);
    return view_cam(img, m.map.data(), m.h, m.w);
}

// pred − true on the diverging scale [-1, 1] (red: the predicted-class CAM is higher), each map at
// the display size first. With a blank map on either side the "difference" would just be the
// other map: the stand-in instead.
Image diff_tile(const AnalysisInput& in, const Image& img, size_t row, bool blank) {
    const auto [h, w] = display_size(in, img);
    if (blank) return view_cam_difference(img, nullptr, h, w, true).image;
    auto shown = [&](Which which) {
        const InputMap m = input_map(in, img, row_map(in, which, row), in.fh, in.fw);
        return m.h == h && m.w == w ? m.map : resize_map(m.map.data(), m.h, m.w, h, w);
    };
    std::vector<float> d = shown(Which::Pred);
    const std::vector<float> t = shown(Which::True);
    for (size_t i = 0; i < d.size(); ++i) d[i] -= t[i];
    return view_cam_difference(img, d.data(), h, w, false).image;
}

// The Finer-CAM map of a row (Report::contrast_cams), or the blank stand-in; `blank` says which.
Image contrast_tile(const Report& r, const AnalysisInput& in, const Image& img, size_t row, bool& blank) {
    const std::vector<float>& map = r.contrast_cams.at(row);
    const InputMap m = input_map(in, img, map.data(), r.contrast_fh, r.contrast_fw);
    CamView v = view_cam(img, m.map.data(), m.h, m.w);
    blank = v.blank;
    return std::move(v.image);
}

plot::Tile tile(Image img, std::vector<std::string> caption, std::uint32_t rgb, std::string stamp = {}) {
    plot::Tile t;
    t.image = std::move(img);
    t.caption = std::move(caption);
    t.caption_rgb = rgb;
    t.stamp = std::move(stamp);
    return t;
}

constexpr const char* kNoEvidence = "no positive evidence";

// The CAM tile of a row and slot, stamped when the map is degenerate.
plot::Tile cam_cell(const AnalysisInput& in, const Image& img, Which which, const RowRef& x,
                    std::vector<std::string> caption, std::uint32_t rgb) {
    CamView v = cam_tile(in, img, which, x.row);
    const bool blank = v.blank;
    return tile(std::move(v.image), std::move(caption), rgb, blank ? kNoEvidence : "");
}

// "2 of the 8 CAMs in this figure have no positive evidence (...)" or "" when none.
std::string blank_note(long long blank, long long shown) {
    if (blank == 0) return {};
    return format("%lld of the %lld CAMs in this figure have no positive evidence (all zero after ReLU): hatched, "
                  "stamped \"%s\", not drawn as maps.",
                  blank, shown, kNoEvidence);
}

std::string cam_name(const Report& r) {
    std::string m = r.method.empty() ? "CAM" : r.method;
    return r.layer.empty() ? m : m + " at " + r.layer;
}

}  // namespace

namespace {

/// The confusion matrix restricted to `classes` (rows and columns in that order): counts, or shares
/// of each true class with --row-normalised; names as labels, the colour bar to match.
plot::MatrixPlot confusion_plot(const Report& r, const WriteOptions& opt, const std::vector<int>& classes) {
    plot::MatrixPlot p;
    const int k = static_cast<int>(classes.size());
    p.rows = p.cols = k;
    p.values.resize(static_cast<size_t>(k) * k);
    for (int i = 0; i < k; ++i) {
        const int t = classes[i];
        const double support = double(r.per_class[t].support);
        for (int j = 0; j < k; ++j) {
            const double c = double(r.confusion.at(t, classes[j]));
            p.values[static_cast<size_t>(i) * k + j] =
                static_cast<float>(opt.row_normalised_matrix ? (support > 0 ? c / support : 0.0) : c);
        }
        p.row_labels.push_back(r.class_names[t]);
        p.col_labels.push_back(r.class_names[t]);
    }
    if (opt.row_normalised_matrix) {
        p.colorbar_label = "share of the true class";
        p.value_format = "%.2f";
        p.vmin = 0;
        p.vmax = 1;
    } else {
        p.colorbar_label = "images";
        p.value_format = "%.0f";
    }
    return p;
}

}  // namespace

std::vector<std::uint8_t> confusion_png(const Report& r, const WriteOptions& opt) {
    plot::MatrixPlot p = confusion_plot(r, opt, r.class_order);
    p.title = format("Confusion matrix: %s, top-1 %s on %zu images%s", r.dataset_name.empty() ? "test set" : r.dataset_name.c_str(),
                     pct(r.top1).c_str(), r.n, r.has_superclasses ? " (grouped by superclass)" : "");
    p.blocks = r.order_blocks;
    p.annotate = r.num_classes <= 20;
    return plot::render_matrix(p);
}

std::vector<std::uint8_t> confusion_top_png(const Report& r, const WriteOptions& opt) {
    plot::MatrixPlot p = confusion_plot(r, opt, r.top_matrix_classes);
    p.title = format("Confusion among the %zu classes of the most frequent confusions (of %d classes)",
                     r.top_matrix_classes.size(), r.num_classes);
    p.annotate = r.top_matrix_classes.size() <= 30;
    return plot::render_matrix(p);
}

std::vector<std::uint8_t> top_pairs_png(const Report& r) {
    plot::BarPlot p;
    const size_t n =
        std::min<size_t>(r.directed.size(), static_cast<size_t>(std::max(0, r.params.top_pairs)));
    p.title = format("Top %zu confused pairs (true \u2192 predicted)", n);
    p.xlabel = "misclassified images";
    for (size_t i = 0; i < n; ++i) {
        const auto& d = r.directed[i];
        p.labels.push_back(r.class_names[d.a] + " \u2192 " + r.class_names[d.b]);
        p.values.push_back(static_cast<float>(d.count));
        p.value_text.push_back(format("%lld (%s of %s)", d.count, pct(d.rate).c_str(), r.class_names[d.a].c_str()));
    }
    return plot::render_barh(p);
}

std::vector<std::uint8_t> reliability_png(const Report& r) {
    const auto& cal = r.calibration;
    plot::ReliabilityPlot p;
    p.title = format("Reliability diagram (%d bins, %lld images)", cal.before.num_bins, cal.before.n);
    for (const auto& b : cal.before.bins) {
        p.bin_lower.push_back(static_cast<float>(b.lower));
        p.bin_upper.push_back(static_cast<float>(b.upper));
        p.bin_confidence.push_back(static_cast<float>(b.confidence));
        p.bin_accuracy.push_back(static_cast<float>(b.accuracy));
        p.bin_count.push_back(b.count);
    }
    p.annotation = format("ECE %s  MCE %s\nAt %s: ECE %s", pct(cal.before.ece).c_str(), pct(cal.before.mce).c_str(),
                          temperature_label(cal).c_str(), pct(cal.after.ece).c_str());
    return plot::render_reliability(p);
}

namespace {

/// A CAM figure of a report whose maps failed the sanity gate says so in its footer; nothing
/// changes when the gate passed or did not run.
void mark_insane(const Report& r, plot::GridPlot& p) {
    if (!r.sanity || r.sanity->passed()) return;
    p.footer += format("%sSANITY GATE FAILED: these maps barely change when the weights above the layer are "
                       "randomised or the class changes (index.html, sanity.csv):\n%s.",
                       p.footer.empty() ? "" : "\n", faith::sanity_headline(*r.sanity).c_str());
}

}  // namespace

std::vector<std::uint8_t> gallery_png(const Report& r, const AnalysisInput& in, const ClassGallery& g) {
    const auto& s = r.per_class[g.cls];
    plot::GridPlot p;
    p.title = format("Class %d '%s': accuracy %s (%lld of %lld)", g.cls, r.class_names[g.cls].c_str(),
                     pct(s.recall).c_str(), s.correct, s.support);
    long long shown = 0, blank = 0;
    auto add = [&](const std::vector<RowRef>& rows, const std::string& what, bool wrong) {
        if (rows.empty()) return;
        std::vector<plot::Tile> images, cams;
        for (const RowRef& x : rows) {
            Image img = load(in, x.row);
            ++shown;
            blank += x.pred_cam_degenerate;
            cams.push_back(cam_cell(in, img, Which::Pred, x,
                                    {"pred: " + r.class_names[x.pred], format("confidence %.3f", x.confidence)},
                                    wrong ? kRed : kGreen));
            images.push_back(tile(std::move(img), {format("#%d", x.index), format("p(true) %.3f", x.p_true)}, kBlack));
        }
        p.rows.push_back(std::move(images));
        p.row_headers.push_back(what);
        p.rows.push_back(std::move(cams));
        p.row_headers.push_back(cam_name(r));
    };
    add(g.worst, format("Worst %zu errors", g.worst.size()), true);
    add(g.best, format("Best %zu correct", g.best.size()), false);
    std::vector<std::string> notes;
    if (s.support == 0) notes.push_back("No test images of this class.");
    else if (g.worst.empty()) notes.push_back("No misclassified images of this class.");
    notes.push_back("Errors ranked by confidence in the wrong class. CAM of the predicted class, JET colours "
                    "(red = most evidence).");
    if (const std::string b = blank_note(blank, shown); !b.empty()) notes.push_back(b);
    if (const auto& d = r.degenerate.by_pred_class[g.cls]; d.degenerate > 0)
        notes.push_back(format("Images predicted as '%s': %lld of %lld CAMs have no positive evidence.",
                               r.class_names[g.cls].c_str(), d.degenerate, d.maps));
    p.footer = join(notes, "\n");
    mark_insane(r, p);
    return plot::render_grid(p);
}

std::vector<std::uint8_t> pair_png(const Report& r, const AnalysisInput& in, const PairFigure& f) {
    plot::GridPlot p;
    long long count = r.confusion.at(f.a, f.b);
    const double rate = r.per_class[f.a].support ? double(count) / double(r.per_class[f.a].support) : 0.0;
    p.title = format("'%s' predicted as '%s': %lld images (%s of '%s')", r.class_names[f.a].c_str(),
                     r.class_names[f.b].c_str(), count, pct(rate).c_str(), r.class_names[f.a].c_str());
    for (const auto& pf : r.pair_focus)
        if (pf.a == f.a && pf.b == f.b && pf.n > 0 && std::isfinite(pf.mean_iou))
            p.title += format(", CAM overlap IoU %.2f over %lld of %lld errors", pf.mean_iou, pf.n, pf.errors);
    p.col_headers = {"Image", "CAM: true class", "CAM: predicted", "Predicted \u2212 true"};
    const bool contrast = !r.contrast_cams.empty();
    if (contrast) p.col_headers.push_back("Finer-CAM");
    long long shown = 0, blank = 0;
    for (const RowRef& x : f.examples) {
        Image img = load(in, x.row);
        std::vector<plot::Tile> row;
        shown += 2;
        blank += x.true_cam_degenerate + x.pred_cam_degenerate;
        row.push_back(cam_cell(in, img, Which::True, x,
                               {"should look: " + r.class_names[x.label], format("p %.3f", x.p_true)}, kGreen));
        row.push_back(cam_cell(in, img, Which::Pred, x,
                               {"looks: " + r.class_names[x.pred], format("p %.3f", x.confidence)}, kRed));
        const bool either = x.true_cam_degenerate || x.pred_cam_degenerate;
        row.push_back(tile(diff_tile(in, img, x.row, either), {}, kBlack, either ? "a map is blank" : ""));
        if (contrast && r.contrast_cams.count(x.row)) {
            bool cblank = false;
            Image c = contrast_tile(r, in, img, x.row, cblank);
            ++shown;
            blank += cblank;
            row.push_back(tile(std::move(c), {"Finer-CAM: " + r.class_names[x.pred], "over " + r.class_names[x.label]},
                               kRed, cblank ? "no positive evidence" : ""));
        }
        row.insert(row.begin(), tile(std::move(img), {format("#%d", x.index), "true: " + r.class_names[x.label]}, kBlack));
        p.rows.push_back(std::move(row));
    }
    p.footer = format("%s, each map scaled to [0, 1] per image. Difference on a fixed [-1, 1] scale: red where the "
                      "predicted-class CAM is higher,\nblue where the true-class CAM is higher. Rows: the most "
                      "confident errors of this pair.",
                      cam_name(r).c_str());
    if (contrast)
        p.footer += "\nLast column: Finer-CAM (Grad-CAM of p-weighted y_predicted - y_true, pytorch-grad-cam's "
                    "FinerCAM, alpha 1): what made the model choose the predicted class over the true one.";
    if (const std::string b = blank_note(blank, shown); !b.empty()) p.footer += "\n" + b;
    mark_insane(r, p);
    return plot::render_grid(p);
}

std::vector<std::uint8_t> label_issues_png(const Report& r, const AnalysisInput& in, const WriteOptions& opt) {
    plot::GridPlot p;
    const size_t n = std::min<size_t>(r.label_issue_rows.size(), static_cast<size_t>(std::max(0, opt.label_issue_figure)));
    p.title = format("Likely label errors: %zu of %zu images (top %zu by margin)", r.label_issue_rows.size(), r.n, n);
    // Two examples per row keeps the figure about as wide as it is tall.
    const size_t per_row = n > 1 ? 2 : 1;
    for (size_t c = 0; c < per_row; ++c)
        for (const char* h : {"Image", "CAM: predicted", "CAM: given label"}) p.col_headers.push_back(h);
    long long shown = 0, blank = 0;
    for (size_t i = 0; i < n; ++i) {
        const auto& is = r.label_issues.issues[i];
        const RowRef& x = r.label_issue_rows[i];
        Image img = load(in, x.row);
        std::vector<plot::Tile> row;
        shown += 2;
        blank += x.pred_cam_degenerate + x.true_cam_degenerate;
        row.push_back(cam_cell(in, img, Which::Pred, x,
                               {"pred: " + r.class_names[x.pred], format("p %.3f", x.confidence)}, kBlack));
        row.push_back(cam_cell(in, img, Which::True, x,
                               {"given: " + r.class_names[is.given], format("p %.3f", is.p_given)}, kRed));
        row.insert(row.begin(), tile(std::move(img),
                                     {format("#%d", x.index), "looks like: " + r.class_names[is.suggested],
                                      format("p %.3f", is.p_suggested)},
                                     kBlack));
        if (i % per_row == 0) p.rows.emplace_back();
        for (auto& t : row) p.rows.back().push_back(std::move(t));
    }
    p.footer = "Confident learning (Northcutt et al. 2021): the given label's probability is below its class "
               "threshold\nwhile another class reaches its own. Check these images before trusting the labels.";
    if (const std::string b = blank_note(blank, shown); !b.empty()) p.footer += "\n" + b;
    mark_insane(r, p);
    return plot::render_grid(p);
}

Image row_image(const AnalysisInput& in, size_t row) { return load(in, row); }
Image row_cam_tile(const AnalysisInput& in, const Image& img, bool true_class, size_t row) {
    return cam_tile(in, img, true_class ? Which::True : Which::Pred, row).image;
}
Image row_contrast_tile(const Report& r, const AnalysisInput& in, const Image& img, size_t row, bool& blank) {
    return contrast_tile(r, in, img, row, blank);
}

Image row_diff_tile(const AnalysisInput& in, const Image& img, size_t row, bool blank) {
    return diff_tile(in, img, row, blank);
}

}  // namespace camscope::figures
