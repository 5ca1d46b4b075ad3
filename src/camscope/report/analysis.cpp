// build_report: every number of the analysis report is computed here, once, in named stages
// (called in order by build_report at the end of this file); the recommendations are the rules of
// recommend.cpp. The writers only format the Report.
#include "camscope/report/analysis.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "camscope/report/recommend.hpp"
#include "camscope/report/report_intervals.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/progress.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_size(const char* field, size_t got, size_t want, const std::string& what) {
    if (got != want)
        throw Error("analysis input: " + std::string(field) + " has " + std::to_string(got) + " values, expected " +
                    std::to_string(want) + " (" + what + ")");
}

void validate(const AnalysisInput& in) {
    const int k = in.num_classes;
    if (k <= 0) throw Error("analysis input: num_classes must be positive, got " + std::to_string(k));
    if (in.n == 0) throw Error("analysis input: no images to analyse (n = 0)");
    const size_t n = in.n, K = static_cast<size_t>(k);
    check_size("class_names", in.class_names.size(), K, "one per class");
    check_size("labels", in.labels.size(), n, "n");
    check_size("indices", in.indices.size(), n, "n");
    check_size("logits", in.logits.size(), n * K, "n×K = " + std::to_string(n) + "×" + std::to_string(k));
    check_size("probs", in.probs.size(), n * K, "n×K = " + std::to_string(n) + "×" + std::to_string(k));
    if (in.fh <= 0 || in.fw <= 0)
        throw Error("analysis input: CAM size fh×fw must be positive, got " + std::to_string(in.fh) + "×" +
                    std::to_string(in.fw));
    const size_t hw = static_cast<size_t>(in.fh) * in.fw;
    check_size("cam_pred", in.cam_pred.size(), n * hw, "n×fh×fw");
    check_size("cam_true", in.cam_true.size(), n * hw, "n×fh×fw");
    if (in.input_h < 0 || in.input_w < 0) throw Error("analysis input: negative input size");
    if (!in.fine_to_coarse.empty()) {
        check_size("fine_to_coarse", in.fine_to_coarse.size(), K, "one per class, or empty");
        for (size_t c = 0; c < K; ++c)
            if (in.fine_to_coarse[c] < 0 || in.fine_to_coarse[c] >= static_cast<int>(in.coarse_names.size()))
                throw Error("analysis input: fine_to_coarse[" + std::to_string(c) + "] = " +
                            std::to_string(in.fine_to_coarse[c]) + " is not a superclass index (coarse_names has " +
                            std::to_string(in.coarse_names.size()) + ")");
    }
    for (size_t i = 0; i < n; ++i)
        if (in.labels[i] < 0 || in.labels[i] >= k)
            throw Error("analysis input: labels[" + std::to_string(i) + "] = " + std::to_string(in.labels[i]) +
                        " is outside [0, " + std::to_string(k) + ")");
}

double mean_or_nan(double sum, long long n) { return n > 0 ? sum / double(n) : kNaN; }

// ------------------------------------------------------------------ stages

/// Per row (n), what the stages after `predictions` read: the predicted class (argmax of the
/// logits), its confidence (softmax probability) and whether it is right.
struct Predictions {
    std::vector<int> pred;
    std::vector<float> conf;
    std::vector<std::uint8_t> ok;
};

/// Indices of the rows of each true class (K lists, row order).
std::vector<std::vector<size_t>> rows_by_label(const AnalysisInput& in) {
    std::vector<std::vector<size_t>> by_label(in.num_classes);
    for (size_t i = 0; i < in.n; ++i) by_label[in.labels[i]].push_back(i);
    return by_label;
}

/// Row order by confidence, descending; ties by row.
struct ByConfidenceDesc {
    const std::vector<float>& conf;
    bool operator()(size_t a, size_t b) const { return conf[a] > conf[b] || (conf[a] == conf[b] && a < b); }
};

/// What the report is about (model, data, layer, method, classes, sizes, timings) and the
/// parameters it is computed with.
void provenance(Report& r, const AnalysisInput& in, const AnalysisParams& opt) {
    r.model_path = in.model_path;
    r.model_kind = in.model_kind;
    r.dataset_path = in.dataset_path;
    r.dataset_name = in.dataset_name;
    r.split = in.split;
    r.layer = in.layer;
    r.method = in.method;
    r.class_names = in.class_names;
    r.coarse_names = in.coarse_names;
    r.fine_to_coarse = in.fine_to_coarse;
    r.num_classes = in.num_classes;
    r.n = in.n;
    r.input_h = in.input_h;
    r.input_w = in.input_w;
    r.fh = in.fh;
    r.fw = in.fw;
    r.timings = in.timings;
    r.params = opt;
}

/// Every row's prediction and confidence (Report::rows), top-1/top-5 and the mean confidences.
Predictions predictions(Report& r, const AnalysisInput& in) {
    const int k = in.num_classes;
    const size_t n = in.n;
    Predictions p;
    p.pred = metrics::argmax_rows(in.logits.data(), n, k);
    p.conf.resize(n);
    p.ok.resize(n);
    r.rows.resize(n);
    double conf_sum = 0, conf_ok = 0, conf_bad = 0;
    for (size_t i = 0; i < n; ++i) {
        RowRef& row = r.rows[i];
        row.row = i;
        row.index = in.indices[i];
        row.label = in.labels[i];
        row.pred = p.pred[i];
        row.confidence = in.probs[i * k + p.pred[i]];
        row.p_true = in.probs[i * k + in.labels[i]];
        p.conf[i] = row.confidence;
        p.ok[i] = row.pred == row.label;
        conf_sum += p.conf[i];
        (p.ok[i] ? conf_ok : conf_bad) += p.conf[i];
        r.correct += p.ok[i];
    }
    r.errors = static_cast<long long>(n) - r.correct;
    r.top1 = double(r.correct) / double(n);
    r.top5_k = std::min(5, k);
    r.top5 = metrics::topk_accuracy(in.logits.data(), in.labels.data(), n, k, r.top5_k);
    r.mean_confidence = conf_sum / double(n);
    r.mean_confidence_correct = mean_or_nan(conf_ok, r.correct);
    r.mean_confidence_wrong = mean_or_nan(conf_bad, r.errors);
    return p;
}

/// Maps without positive evidence, per image and slot (RowRef::*_cam_degenerate), counted
/// (Report::degenerate): they are marked, never averaged.
void blank_maps(Report& r, const AnalysisInput& in, const Predictions& p, const AnalysisParams& opt) {
    const int k = in.num_classes;
    const size_t hw = static_cast<size_t>(in.fh) * in.fw;
    DegenerateStats& d = r.degenerate;
    d.warn_share = opt.degenerate_warn_share;
    d.by_pred_class.assign(k, {});
    d.by_true_class.assign(k, {});
    for (size_t i = 0; i < in.n; ++i) {
        RowRef& row = r.rows[i];
        row.pred_cam_degenerate = metrics::degenerate_cam(in.cam_pred.data() + i * hw, hw);
        row.true_cam_degenerate =
            p.ok[i] ? row.pred_cam_degenerate : metrics::degenerate_cam(in.cam_true.data() + i * hw, hw);
        (p.ok[i] ? d.pred_correct : d.pred_wrong).add(row.pred_cam_degenerate);
        if (!p.ok[i]) d.true_wrong.add(row.true_cam_degenerate);
        d.by_pred_class[row.pred].add(row.pred_cam_degenerate);
        d.by_true_class[row.label].add(row.true_cam_degenerate);
    }
}

/// The confusion matrix, per-class statistics, the display order (grouped by superclass if any)
/// and the confused pairs.
void confusions(Report& r, const AnalysisInput& in, const Predictions& p) {
    const int k = in.num_classes;
    r.confusion = metrics::confusion_matrix(in.labels.data(), p.pred.data(), in.n, k);
    r.per_class = metrics::per_class_stats(r.confusion, in.labels.data(), p.conf.data(), in.n);
    r.class_order.resize(k);
    std::iota(r.class_order.begin(), r.class_order.end(), 0);
    r.has_superclasses = !in.fine_to_coarse.empty();
    if (r.has_superclasses) {
        std::stable_sort(r.class_order.begin(), r.class_order.end(),
                         [&](int a, int b) { return in.fine_to_coarse[a] < in.fine_to_coarse[b]; });
        for (int i = 0; i < k;) {
            int j = i;
            while (j < k && in.fine_to_coarse[r.class_order[j]] == in.fine_to_coarse[r.class_order[i]]) ++j;
            r.order_blocks.push_back({i, j});
            i = j;
        }
        r.superclass = metrics::superclass_share(r.confusion, in.fine_to_coarse, int(in.coarse_names.size()));
    }
    r.directed = metrics::directed_pairs(r.confusion);
    r.symmetric = metrics::symmetric_pairs(r.confusion);
}

/// High-confidence errors, low-confidence correct predictions and the temperature fit.
void confidence(Report& r, const AnalysisInput& in, const Predictions& p, const AnalysisParams& opt) {
    const size_t n = in.n;
    for (size_t i : metrics::high_confidence_errors(in.labels.data(), p.pred.data(), p.conf.data(), n, opt.high_conf))
        r.high_conf_errors.push_back(r.rows[i]);
    for (size_t i : metrics::low_confidence_correct(in.labels.data(), p.pred.data(), p.conf.data(), n, opt.low_conf))
        r.low_conf_correct.push_back(r.rows[i]);
    r.calibration = metrics::fit_temperature(in.logits.data(), in.labels.data(), n, in.num_classes, opt.ece_bins);
}

/// Where the CAMs put their mass, at the model input size when known, as the overlays show it
/// (cam_to_input_size): the centre shares (Report::focus, focus_per_class, centre_share) and the
/// errors' true/predicted top-region IoU (mean_iou_errors). Returns the IoU per row (NaN where the
/// prediction is right or a map is degenerate), which the pair stage averages per pair.
std::vector<double> cam_evidence(Report& r, const AnalysisInput& in, const Predictions& p, const AnalysisParams& opt,
                                 bool progress) {
    const int k = in.num_classes;
    const size_t n = in.n;
    const std::vector<std::uint8_t>& ok = p.ok;
    const int mh = in.input_h > 0 ? in.input_h : in.fh, mw = in.input_w > 0 ? in.input_w : in.fw;
    const bool upsample = mh != in.fh || mw != in.fw;
    const size_t fhw = static_cast<size_t>(in.fh) * in.fw;
    std::vector<double> iou(n, kNaN);
    std::vector<double> c_ok(k, 0), c_bad(k, 0);
    std::vector<long long> n_ok(k, 0), n_bad(k, 0);
    Progress bar("CAM focus", n, progress);
    r.centre_share.assign(n, std::numeric_limits<float>::quiet_NaN());
    for (size_t i = 0; i < n; ++i) {
        const float* cp = in.cam_pred.data() + i * fhw;
        std::vector<float> up_pred, up_true;
        if (upsample) up_pred = cam_to_input_size(cp, in.fh, in.fw, mh, mw);
        const float* mp = upsample ? up_pred.data() : cp;
        const double share = metrics::centre_share(mp, mh, mw);
        const int y = in.labels[i];
        if (std::isfinite(share) && !r.rows[i].pred_cam_degenerate) {
            r.centre_share[i] = static_cast<float>(share);
            if (ok[i]) {
                c_ok[y] += share;
                ++n_ok[y];
            } else {
                c_bad[y] += share;
                ++n_bad[y];
            }
        }
        if (!ok[i] && !r.rows[i].pred_cam_degenerate && !r.rows[i].true_cam_degenerate) {
            const float* ct = in.cam_true.data() + i * fhw;
            if (upsample) up_true = cam_to_input_size(ct, in.fh, in.fw, mh, mw);
            iou[i] = metrics::top_region_iou(upsample ? up_true.data() : ct, mp, mh, mw, opt.top_region_fraction);
        }
        bar.advance();
    }
    bar.finish();
    r.focus_per_class.resize(k);
    double s_ok = 0, s_bad = 0;
    for (int c = 0; c < k; ++c) {
        FocusStats& fc = r.focus_per_class[c];
        fc.centre_correct = mean_or_nan(c_ok[c], n_ok[c]);
        fc.centre_wrong = mean_or_nan(c_bad[c], n_bad[c]);
        fc.n_correct = n_ok[c];
        fc.n_wrong = n_bad[c];
        s_ok += c_ok[c];
        s_bad += c_bad[c];
        r.focus.n_correct += n_ok[c];
        r.focus.n_wrong += n_bad[c];
    }
    r.focus.total_correct = r.correct;
    r.focus.total_wrong = r.errors;
    for (int c = 0; c < k; ++c) {
        r.focus_per_class[c].total_correct = r.per_class[c].correct;
        r.focus_per_class[c].total_wrong = r.per_class[c].support - r.per_class[c].correct;
    }
    r.focus.centre_correct = mean_or_nan(s_ok, r.focus.n_correct);
    r.focus.centre_wrong = mean_or_nan(s_bad, r.focus.n_wrong);
    double s_iou = 0;
    for (size_t i = 0; i < n; ++i)
        if (std::isfinite(iou[i])) {
            s_iou += iou[i];
            ++r.n_iou_errors;
        }
    r.mean_iou_errors = mean_or_nan(s_iou, r.n_iou_errors);
    return iou;
}

/// The top confused (directed) pairs: their CAM IoU (Report::pair_focus) and, for the first
/// confused_pair_figures of them, the examples of their sheets (Report::pair_figures).
void pair_examples(Report& r, const AnalysisInput& in, const Predictions& p, const std::vector<double>& iou,
                   const AnalysisParams& opt) {
    const std::vector<std::vector<size_t>> by_label = rows_by_label(in);
    const int n_pairs = std::max({opt.top_pairs, opt.confused_pair_figures, 0});
    std::set<std::string> used_files;
    for (int q = 0; q < std::min<int>(n_pairs, int(r.directed.size())); ++q) {
        const auto& dp = r.directed[q];
        PairFocus pf{dp.a, dp.b, 0, 0, dp.count, {}};
        double s = 0;
        std::vector<size_t> ex;
        for (size_t i : by_label[dp.a]) {
            if (p.pred[i] != dp.b) continue;
            ex.push_back(i);
            if (std::isfinite(iou[i])) {
                s += iou[i];
                ++pf.n;
            }
        }
        pf.mean_iou = mean_or_nan(s, pf.n);
        r.pair_focus.push_back(pf);
        if (q < opt.confused_pair_figures) {
            PairFigure fig;
            fig.a = dp.a;
            fig.b = dp.b;
            std::string file = "confused_pair_" + sanitize_filename(in.class_names[dp.a]) + "_" +
                               sanitize_filename(in.class_names[dp.b]) + ".png";
            if (used_files.count(file))  // names that sanitise alike: disambiguate with the indices
                file = format("confused_pair_%d_%d.png", dp.a, dp.b);
            used_files.insert(file);
            fig.file = file;
            std::sort(ex.begin(), ex.end(), ByConfidenceDesc{p.conf});
            for (size_t j = 0; j < ex.size() && int(j) < opt.pair_examples; ++j) fig.examples.push_back(r.rows[ex[j]]);
            r.pair_figures.push_back(std::move(fig));
        }
    }
}

/// The classes with test images, weakest first (Report::worst_classes): by the upper bound of the
/// accuracy's interval, then accuracy, then support (desc).
void weakest_classes(Report& r) {
    for (int c = 0; c < r.num_classes; ++c)
        if (r.per_class[c].support > 0) r.worst_classes.push_back(c);
    std::stable_sort(r.worst_classes.begin(), r.worst_classes.end(), [&](int a, int b) {
        const auto &x = r.per_class[a], &y = r.per_class[b];
        if (x.recall_ci.hi != y.recall_ci.hi) return x.recall_ci.hi < y.recall_ci.hi;
        if (x.recall != y.recall) return x.recall < y.recall;
        return x.support > y.support;
    });
}

/// Many classes: the readable sub-matrix of the most frequent confusions
/// (Report::top_matrix_classes) and whether summary.json lists the matrix sparsely.
void many_classes(Report& r, const AnalysisParams& opt) {
    const int k = r.num_classes;
    if (opt.top_matrix_classes > 0 && k > opt.top_matrix_classes) {
        std::vector<char> in_top(k, 0);
        int taken = 0;
        for (const auto& d : r.directed) {
            const int need = !in_top[d.a] + !in_top[d.b];
            if (taken + need > opt.top_matrix_classes) break;
            taken += need;
            in_top[d.a] = in_top[d.b] = 1;
        }
        for (int c : r.class_order)
            if (in_top[c]) r.top_matrix_classes.push_back(c);
    }
    r.sparse_confusion_json = opt.dense_confusion_max > 0 && k > opt.dense_confusion_max;
}

/// Every class's worst and best predictions (Report::galleries), and which galleries are drawn:
/// all, or with more than max_galleries classes the lowest-accuracy ones plus the pair sheets' classes.
void galleries(Report& r, const AnalysisInput& in, const Predictions& p, const AnalysisParams& opt) {
    const int k = in.num_classes;
    std::vector<char> drawn(k, 1);
    if (opt.max_galleries > 0 && k > opt.max_galleries) {
        std::fill(drawn.begin(), drawn.end(), 0);
        int taken = 0;
        for (int c : r.worst_classes)  // lowest accuracy first
            if (taken < opt.max_galleries) drawn[c] = 1, ++taken;
        for (const auto& f : r.pair_figures) drawn[f.a] = drawn[f.b] = 1;
    }
    const std::vector<std::vector<size_t>> by_label = rows_by_label(in);
    r.galleries.resize(k);
    for (int c = 0; c < k; ++c) {
        ClassGallery& g = r.galleries[c];
        g.cls = c;
        if (drawn[c]) {
            g.file = "worst_predictions/" + class_file_stem(c, in.class_names[c]) + ".png";
            ++r.galleries_drawn;
        }
        std::vector<size_t> wrong, right;
        for (size_t i : by_label[c]) (p.ok[i] ? right : wrong).push_back(i);
        std::sort(wrong.begin(), wrong.end(), ByConfidenceDesc{p.conf});
        std::sort(right.begin(), right.end(), ByConfidenceDesc{p.conf});
        for (size_t j = 0; j < wrong.size() && int(j) < opt.worst_k; ++j) g.worst.push_back(r.rows[wrong[j]]);
        for (size_t j = 0; j < right.size() && int(j) < opt.best_k; ++j) g.best.push_back(r.rows[right[j]]);
    }
}

/// Likely label errors (confident learning) and how many high-confidence errors are among them.
void label_issues(Report& r, const AnalysisInput& in) {
    r.label_issues = metrics::find_label_issues(in.probs.data(), in.labels.data(), in.n, in.num_classes);
    std::vector<std::uint8_t> flagged(in.n, 0);
    for (const auto& is : r.label_issues.issues) {
        r.label_issue_rows.push_back(r.rows[is.row]);
        flagged[is.row] = 1;
    }
    for (const RowRef& e : r.high_conf_errors) r.high_conf_errors_flagged += flagged[e.row];
}

}  // namespace

std::string class_file_stem(int index, const std::string& name) {
    std::string s = sanitize_filename(name);
    if (s.empty()) s = "class";
    return "class_" + std::to_string(index) + "_" + s;
}

Report build_report(const AnalysisInput& in, const AnalysisOptions& opt) {
    const auto t0 = std::chrono::steady_clock::now();
    validate(in);
    if (opt.ece_bins <= 0) throw UsageError("analysis: ece_bins must be positive, got " + std::to_string(opt.ece_bins));
    if (opt.interval_resamples <= 0)
        throw UsageError("analysis: interval_resamples must be positive, got " + std::to_string(opt.interval_resamples));

    Report r;
    provenance(r, in, opt);
    const Predictions p = predictions(r, in);
    blank_maps(r, in, p, opt);
    confusions(r, in, p);
    confidence(r, in, p, opt);
    const std::vector<double> iou = cam_evidence(r, in, p, opt, opt.progress);
    pair_examples(r, in, p, iou, opt);
    attach_intervals(r, in, iou, opt, opt.threads);
    weakest_classes(r);
    many_classes(r, opt);
    galleries(r, in, p, opt);
    label_issues(r, in);
    if (opt.failure_max_k > 0) r.failure_modes = failure_modes(r, in, opt);  // failure_modes.hpp
    r.recommendations = rules::recommend(r, opt);
    r.analysis_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

void attach_faithfulness(Report& r, faith::Summary s, const AnalysisParams& opt) {
    r.faithfulness = std::move(s);
    r.cam_candidates.clear();
    r.better_method.reset();
    r.better_layer.reset();
    if (!r.degenerate.warn()) return;
    const faith::Summary& fs = *r.faithfulness;
    // The analysed method at the analysed layer on the same sample: the figure to beat.
    std::optional<CamCandidate> base;
    std::vector<CamCandidate> methods, layers;
    for (const auto& mr : fs.ranking) {
        const faith::GroupRow* g = fs.find(mr.method, "overall");
        if (!g) continue;
        CamCandidate c{mr.method, r.layer, g->n, g->degenerate, mr.mean_rank};
        if (c.method == r.method) base = c;
        else methods.push_back(c);
    }
    for (const auto& lc : fs.layer_checks) {
        CamCandidate c{lc.method, lc.layer, lc.n, lc.degenerate, kNaN};
        if (lc.method == r.method && lc.layer == r.layer) {
            if (!base) base = c;
        } else if (lc.method == r.method) {
            layers.push_back(c);
        }
    }
    r.cam_candidates = methods;
    r.cam_candidates.insert(r.cam_candidates.end(), layers.begin(), layers.end());
    const double limit = r.degenerate.warn_share;
    auto better = [&](const CamCandidate& c) {
        return c.n >= opt.rec_min_n && c.share() <= limit && (!base || c.share() < base->share());
    };
    for (const auto& c : methods)  // ranking order: the first that qualifies is the best ranked
        if (better(c)) {
            r.better_method = c;
            break;
        }
    for (const auto& c : layers)  // call order; the smallest share wins, a tie goes to the deeper layer
        if (better(c) && (!r.better_layer || c.share() <= r.better_layer->share())) r.better_layer = c;
    // The recommendation now names what was measured.
    for (auto& rec : r.recommendations)
        if (rec.rule == "degenerate_cams") {
            if (auto updated = rules::degenerate_cams_recommendation(r, opt)) rec = std::move(*updated);
        }
}

}  // namespace camscope
