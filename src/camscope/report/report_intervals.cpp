// build_report's "intervals" stage (report_intervals.hpp): Wilson and bootstrap intervals
// (intervals.hpp) beside the figures the earlier stages computed.
#include "camscope/report/report_intervals.hpp"

#include <chrono>
#include <functional>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

#include "camscope/report/intervals.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/util/parallel.hpp"

namespace camscope {

void attach_intervals(Report& r, const AnalysisInput& in, const std::vector<double>& iou, const AnalysisParams& opt,
                      int threads) {
    const auto t0 = std::chrono::steady_clock::now();
    using intervals::wilson;
    const long long n = static_cast<long long>(in.n);
    r.top1_ci = wilson(r.correct, n);
    r.top5_ci = wilson(std::llround(r.top5 * double(n)), n);
    for (auto& c : r.per_class) {
        c.recall_ci = wilson(c.correct, c.support);
        c.precision_ci = wilson(c.correct, c.predicted);
    }
    for (auto& d : r.directed) d.rate_ci = wilson(d.count, r.per_class[d.a].support);
    for (auto& s : r.symmetric) s.rate_ci = wilson(s.count, r.per_class[s.a].support + r.per_class[s.b].support);

    const intervals::BootstrapParams bp{opt.interval_resamples, opt.interval_seed, 0.95};
    // The bootstraps are independent tasks (each restarts the generator from the seed, so the order
    // and the thread they run on change nothing): collected here, run at the end.
    std::vector<std::function<void()>> tasks;
    // ECE of the model as is, over the same confidences as metrics::fit_temperature's `before`.
    std::vector<float> conf(in.n);
    std::vector<std::uint8_t> ok(in.n);
    {
        const int k = in.num_classes;
        const std::vector<float> probs = metrics::softmax_rows(in.logits.data(), in.n, k, 1.0);
        const std::vector<int> pred = metrics::argmax_rows(probs.data(), in.n, k);
        for (size_t i = 0; i < in.n; ++i) {
            conf[i] = probs[i * k + pred[i]];
            ok[i] = pred[i] == in.labels[i];
        }
        tasks.push_back([&] {
            r.calibration.before.ece_ci = intervals::bootstrap_ece(conf.data(), ok.data(), in.n, opt.ece_bins, bp);
        });
    }
    // Centre shares: the per-row figures of Report::centre_share (NaN: left out), by outcome and class.
    std::vector<std::vector<double>> ok_by(r.num_classes), bad_by(r.num_classes);
    std::vector<double> ok_all, bad_all;
    for (size_t i = 0; i < in.n; ++i) {
        const float v = r.centre_share[i];
        if (!std::isfinite(v)) continue;
        const RowRef& row = r.rows[i];
        (row.pred == row.label ? ok_by : bad_by)[row.label].push_back(v);
        (row.pred == row.label ? ok_all : bad_all).push_back(v);
    }
    // (Tasks hold pointers: every object they touch outlives the parallel_for below.)
    auto focus_ci = [&](FocusStats& fs, const std::vector<double>& as, const std::vector<double>& bs) {
        FocusStats* f = &fs;
        const std::vector<double>*a = &as, *b = &bs;
        tasks.push_back([f, a, &bp] { f->centre_correct_ci = intervals::bootstrap_mean(a->data(), a->size(), bp); });
        tasks.push_back([f, b, &bp] { f->centre_wrong_ci = intervals::bootstrap_mean(b->data(), b->size(), bp); });
        tasks.push_back([f, a, b, &bp] {
            f->gap_ci = intervals::bootstrap_mean_difference(a->data(), a->size(), b->data(), b->size(), bp);
        });
    };
    focus_ci(r.focus, ok_all, bad_all);
    for (int c = 0; c < r.num_classes; ++c) focus_ci(r.focus_per_class[c], ok_by[c], bad_by[c]);
    // CAM IoU of the errors: overall and per top pair (iou: NaN where not computed).
    std::vector<double> all_iou;
    std::map<std::pair<int, int>, std::vector<double>> by_pair;
    for (const auto& pf : r.pair_focus) by_pair[{pf.a, pf.b}];
    for (size_t i = 0; i < in.n; ++i) {
        if (!std::isfinite(iou[i])) continue;
        all_iou.push_back(iou[i]);
        const auto it = by_pair.find({r.rows[i].label, r.rows[i].pred});
        if (it != by_pair.end()) it->second.push_back(iou[i]);
    }
    tasks.push_back([&] { r.mean_iou_errors_ci = intervals::bootstrap_mean(all_iou.data(), all_iou.size(), bp); });
    for (auto& pf : r.pair_focus) {
        PairFocus* p = &pf;
        const std::vector<double>* v = &by_pair[{pf.a, pf.b}];
        tasks.push_back([p, v, &bp] { p->mean_iou_ci = intervals::bootstrap_mean(v->data(), v->size(), bp); });
    }
    parallel_for(tasks.size(), worker_threads(threads), [&](size_t t) { tasks[t](); });
    r.intervals_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace camscope
