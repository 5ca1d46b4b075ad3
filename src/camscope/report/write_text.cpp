// Plain-text outputs: analysis_summary.txt, recommendations.txt and the terminal table.
#include <algorithm>
#include <cmath>

#include "camscope/report/write_flips.hpp"
#include "camscope/report/writers.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {
namespace report_detail {

namespace {

const std::string& nm(const Report& r, int c) { return r.class_names[c]; }

std::string pair_line(const Report& r, const metrics::DirectedPair& p) {
    return format("'%s' -> '%s': %lld (%s of '%s')", nm(r, p.a).c_str(), nm(r, p.b).c_str(), p.count,
                  pct_ci(p.rate, p.rate_ci).c_str(), nm(r, p.a).c_str());
}

}  // namespace

std::vector<std::string> degenerate_warning(const Report& r) {
    const DegenerateStats& d = r.degenerate;
    if (!d.warn()) return {};
    const metrics::CamCount all = d.pred();
    std::vector<std::string> out;
    out.push_back(format("WARNING: %s of the %s CAMs at layer '%s' are blank (%lld of %lld predicted-class maps have no "
                         "positive evidence; more than %s).",
                         pct(all.share()).c_str(), r.method.c_str(), r.layer.c_str(), all.degenerate, all.maps,
                         pct(d.warn_share).c_str()));
    out.push_back("They are marked in every figure and left out of the CAM statistics.");
    auto cand = [](const CamCandidate& c) {
        return format("%s at '%s' has %lld of %lld blank (%s)", c.method.c_str(), c.layer.c_str(), c.degenerate, c.n,
                      pct(c.share()).c_str());
    };
    if (r.better_method)
        out.push_back("Measured on the faithfulness sample: " + cand(*r.better_method) +
                      format(" and faithfulness mean rank %.2f: try --method %s.", r.better_method->mean_rank,
                             r.better_method->method.c_str()));
    if (r.better_layer)
        out.push_back("Measured on the faithfulness sample: " + cand(*r.better_layer) +
                      ": try --layer " + r.better_layer->layer + ".");
    if (!r.better_method && !r.better_layer)
        out.push_back(r.cam_candidates.empty()
                          ? "No alternative method or layer was measured (the faithfulness check was off)."
                          : "No measured alternative method or layer does better (see recommendations.txt).");
    return out;
}

std::vector<std::string> sanity_warning(const Report& r) {
    return r.sanity ? faith::sanity_warning(*r.sanity) : std::vector<std::string>{};
}

std::string summary_text(const Report& r, const WriteOptions& opt) {
    std::string s;
    auto line = [&](const std::string& l) { s += l + "\n"; };
    const auto& cal = r.calibration;

    line(format("camscope analysis: %s on %s (%s split), %zu images, %d classes",
                r.model_path.empty() ? "model" : r.model_path.c_str(),
                r.dataset_name.empty() ? r.dataset_path.c_str() : r.dataset_name.c_str(),
                r.split.empty() ? "?" : r.split.c_str(), r.n, r.num_classes));
    line(format("CAM: %s at layer '%s' (feature map %dx%d, input %dx%d)", r.method.c_str(), r.layer.c_str(), r.fh,
                r.fw, r.input_h, r.input_w));
    line("");
    if (const auto warn = degenerate_warning(r); !warn.empty()) {
        for (const auto& w : warn) line("  " + w);
        line("");
    }
    if (const auto warn = sanity_warning(r); !warn.empty()) {
        for (const auto& w : warn) line("  " + w);
        line("");
    }

    line("OVERALL");
    line(format("  Top-1 accuracy %s (%lld of %zu correct, %lld errors); top-%d accuracy %s.", pct(r.top1).c_str(),
                r.correct, r.n, r.errors, r.top5_k, pct(r.top5).c_str()));
    line(format("  Mean confidence %s: %s on correct predictions, %s on errors.", pct(r.mean_confidence).c_str(),
                pct(r.mean_confidence_correct).c_str(), pct(r.mean_confidence_wrong).c_str()));
    line(format("  High-confidence errors (confidence >= %.2f): %zu (%s of the errors); %lld of them are also flagged "
                "as likely label errors below.",
                r.params.high_conf, r.high_conf_errors.size(),
                pct(r.errors ? double(r.high_conf_errors.size()) / double(r.errors) : 0.0).c_str(),
                r.high_conf_errors_flagged));
    line(format("  Low-confidence correct predictions (confidence < %.2f): %zu (%s of the correct ones).",
                r.params.low_conf, r.low_conf_correct.size(),
                pct(r.correct ? double(r.low_conf_correct.size()) / double(r.correct) : 0.0).c_str()));
    line("");

    line("CALIBRATION");
    line(format("  ECE %s, MCE %s (%d equal-width bins). Mean confidence minus accuracy: %+.1f points (%s).",
                pct_ci(cal.before.ece, cal.before.ece_ci).c_str(), pct(cal.before.mce).c_str(), cal.before.num_bins,
                100 * cal.before.overconfidence,
                std::abs(cal.before.overconfidence) < 0.01 ? "calibrated on average"
                : cal.before.overconfidence > 0          ? "over-confident"
                                                         : "under-confident"));
    if (cal.bound == 0)
        line(format("  Temperature scaling: T = %.3f minimises the NLL on this set (%.4f -> %.4f) and gives ECE %s, MCE %s.",
                    cal.temperature, cal.nll_before, cal.nll_after, pct(cal.after.ece).c_str(),
                    pct(cal.after.mce).c_str()));
    else
        line(format("  Temperature scaling: the NLL still falls at T = %.3f, the %s temperature searched (%.4f -> "
                    "%.4f there; its minimum lies beyond), where ECE is %s, MCE %s.",
                    cal.temperature, cal.bound_name(), cal.nll_before, cal.nll_after,
                    pct(cal.after.ece).c_str(), pct(cal.after.mce).c_str()));
    line("");

    line("CLASSES (accuracy = recall; 95% intervals in brackets; weakest = lowest upper bound)");
    // Worst and best lists never overlap: at most half the classes each.
    const size_t nw = std::min<size_t>(10, (r.worst_classes.size() + 1) / 2);
    line(format("  Worst %zu:", nw));
    for (size_t i = 0; i < nw; ++i) {
        const auto& c = r.per_class[r.worst_classes[i]];
        std::string l = format("    %-24s %6s of %5lld  precision %s  F1 %.3f", nm(r, c.cls).c_str(),
                               pct_ci(c.recall, c.recall_ci).c_str(), c.support, pct(c.precision).c_str(), c.f1);
        if (c.most_confused_with >= 0)
            l += format("  most often taken for '%s' (%lld)", nm(r, c.most_confused_with).c_str(), c.most_confused_count);
        line(l);
    }
    const size_t nb = std::min<size_t>(5, r.worst_classes.size() - nw);
    line(format("  Best %zu:", nb));
    for (size_t i = 0; i < nb; ++i) {
        const auto& c = r.per_class[r.worst_classes[r.worst_classes.size() - 1 - i]];
        line(format("    %-24s %6s of %5lld", nm(r, c.cls).c_str(), pct_ci(c.recall, c.recall_ci).c_str(), c.support));
    }
    line("");

    line("CONFUSIONS");
    if (r.directed.empty()) line("  None: every image is classified correctly.");
    for (size_t i = 0; i < std::min<size_t>(10, r.directed.size()); ++i)
        line(format("  %2zu. ", i + 1) + pair_line(r, r.directed[i]));
    if (!r.symmetric.empty()) {
        line("  Both directions combined:");
        for (size_t i = 0; i < std::min<size_t>(5, r.symmetric.size()); ++i) {
            const auto& p = r.symmetric[i];
            line(format("      '%s' <-> '%s': %lld (%lld + %lld, %s of both classes)", nm(r, p.a).c_str(),
                        nm(r, p.b).c_str(), p.count, p.count_ab, p.count_ba, pct_ci(p.rate, p.rate_ci).c_str()));
        }
    }
    line("");

    if (r.has_superclasses) {
        const auto& sc = r.superclass;
        line("SUPERCLASSES");
        line(format("  %s of the errors (%lld of %lld) stay within the true superclass (%s expected if errors were "
                    "random); %s cross superclasses.",
                    pct(sc.within_share).c_str(), sc.within, sc.errors, pct(sc.chance_within_share).c_str(),
                    pct(sc.cross_share).c_str()));
        line(format("  Superclass accuracy (prediction in the right superclass): %s.", pct(sc.coarse_accuracy).c_str()));
        std::vector<int> order(sc.per_superclass.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
            return sc.per_superclass[a].coarse_accuracy < sc.per_superclass[b].coarse_accuracy;
        });
        line("  Lowest superclass accuracy:");
        for (size_t i = 0; i < std::min<size_t>(5, order.size()); ++i) {
            const auto& g = sc.per_superclass[order[i]];
            line(format("    %-30s %s  (%lld errors, %lld within)", r.coarse_names[g.coarse].c_str(),
                        pct(g.coarse_accuracy).c_str(), g.errors, g.within));
        }
        line("");
    }

    line("WHERE THE MODEL LOOKS (CAM of the predicted class, at the input size)");
    {
        const auto& d = r.degenerate;
        const auto all = d.pred();
        line(format("  Degenerate maps (no positive evidence; marked in the figures, left out below): %lld of %lld "
                    "predicted-class maps (%s): %lld of %lld on correct predictions, %lld of %lld on errors; "
                    "true-class maps of errors %lld of %lld.",
                    all.degenerate, all.maps, pct(all.share()).c_str(), d.pred_correct.degenerate, d.pred_correct.maps,
                    d.pred_wrong.degenerate, d.pred_wrong.maps, d.true_wrong.degenerate, d.true_wrong.maps));
        std::vector<std::string> per;
        for (int c = 0; c < r.num_classes; ++c)
            if (d.by_pred_class[c].degenerate > 0)
                per.push_back(format("%s %lld/%lld", nm(r, c).c_str(), d.by_pred_class[c].degenerate,
                                     d.by_pred_class[c].maps));
        if (!per.empty()) line("    by predicted class: " + join(per, ", ") + ".");
    }
    line(format("  Share of CAM mass in the central quarter of the image (middle half of each side; a uniform map "
                "gives 25%%): %s on correct predictions (over %lld of %lld images), %s on errors (over %lld of %lld).",
                pct_ci(r.focus.centre_correct, r.focus.centre_correct_ci).c_str(), r.focus.n_correct,
                r.focus.total_correct, pct_ci(r.focus.centre_wrong, r.focus.centre_wrong_ci).c_str(), r.focus.n_wrong,
                r.focus.total_wrong));
    if (r.n_iou_errors > 0)
        line(format("  On errors, the true-class and predicted-class CAMs overlap with mean IoU %.2f (95%% CI "
                    "%.2f\u2013%.2f; top-%d%% regions, "
                    "over %lld of %lld errors, those with evidence in both maps): low values mean the model looked "
                    "somewhere else than where the true class is.",
                    r.mean_iou_errors, r.mean_iou_errors_ci.lo, r.mean_iou_errors_ci.hi,
                    int(std::lround(100 * r.params.top_region_fraction)), r.n_iou_errors,
                    r.errors));
    else if (r.errors > 0)
        line(format("  No IoU of true-class vs predicted-class CAMs: none of the %lld errors has evidence in both maps.",
                    r.errors));
    for (size_t i = 0; i < std::min<size_t>(5, r.pair_focus.size()); ++i) {
        const auto& pf = r.pair_focus[i];
        if (pf.n == 0) continue;
        line(format("    '%s' -> '%s': IoU %.2f (95%% CI %.2f\u2013%.2f) over %lld of %lld errors%s", nm(r, pf.a).c_str(),
                    nm(r, pf.b).c_str(), pf.mean_iou, pf.mean_iou_ci.lo, pf.mean_iou_ci.hi, pf.n, pf.errors,
                    pf.n < r.params.rec_min_n
                        ? format(" (fewer than %lld: not used in recommendations)", r.params.rec_min_n).c_str()
                        : ""));
    }
    if (r.sanity)
        line("  Sanity gate (Adebayo et al. 2018: maps after randomising the weights above the layer): " +
             faith::sanity_headline(*r.sanity) + " (sanity.csv).");
    if (r.faithfulness) {
        line("  " + faith::headline(*r.faithfulness) + ".");
        if (!r.faithfulness->best_reason.empty()) line("    Why: " + r.faithfulness->best_reason + " (faithfulness.csv).");
        std::vector<std::string> blank;
        for (const auto& m : r.faithfulness->methods)
            if (const auto* g = r.faithfulness->find(m, "overall"))
                blank.push_back(format("%s %lld/%lld", m.c_str(), g->degenerate, g->n));
        for (const auto& c : r.faithfulness->layer_checks)
            blank.push_back(format("%s at '%s' %lld/%lld", c.method.c_str(), c.layer.c_str(), c.degenerate, c.n));
        if (!blank.empty()) line("    Blank maps on that sample: " + join(blank, ", ") + ".");
    }
    for (const auto& l : flips_text(r)) line("  " + l);
    for (const auto& l : failure_modes_text(r)) line(l);
    line("");

    line("LIKELY LABEL ERRORS (confident learning, Northcutt et al. 2021)");
    const auto& li = r.label_issues.issues;
    line(format("  %zu images (%s) have a label the model finds implausible.", li.size(),
                pct(double(li.size()) / double(r.n)).c_str()));
    for (size_t i = 0; i < std::min<size_t>(li.size(), static_cast<size_t>(std::max(0, opt.max_label_issues))); ++i)
        line(format("    #%-7d labelled '%s' (p %.3f), looks like '%s' (p %.3f)", r.label_issue_rows[i].index,
                    nm(r, li[i].given).c_str(), li[i].p_given, nm(r, li[i].suggested).c_str(), li[i].p_suggested));
    if (li.size() > static_cast<size_t>(std::max(0, opt.max_label_issues)))
        line(format("    ... and %zu more in summary.json.", li.size() - opt.max_label_issues));
    line("");

    line("RECOMMENDATIONS: see recommendations.txt");
    for (const auto& rec : r.recommendations) line("  - " + rec.rule);
    line("");
    line(format("Timings: load %.1f s, predict %.1f s, CAM %.1f s, analysis %.1f s.", r.timings.load_s,
                r.timings.predict_s, r.timings.cam_s, r.analysis_s));
    return s;
}

std::string recommendations_text(const Report& r) {
    std::string s = format("Recommendations for %s on %s (%zu images), each driven by the figures it quotes.\n\n",
                           r.model_path.empty() ? "the model" : r.model_path.c_str(),
                           r.dataset_name.empty() ? "the test set" : r.dataset_name.c_str(), r.n);
    int i = 0;
    for (const auto& rec : r.recommendations) s += format("%d. [%s] ", ++i, rec.rule.c_str()) + rec.text + "\n\n";
    return s;
}

}  // namespace report_detail

std::string format_terminal_summary(const Report& r) {
    using report_detail::pct;
    using report_detail::pct_ci;
    using report_detail::temperature_label;
    std::string s;
    auto row = [&](const std::string& k, const std::string& v) { s += format("  %-22s %s\n", k.c_str(), v.c_str()); };
    s += format("Analysis of %zu images, %d classes\n", r.n, r.num_classes);
    for (const auto& w : report_detail::degenerate_warning(r)) s += "  ! " + w + "\n";
    for (const auto& w : report_detail::sanity_warning(r)) s += "  ! " + w + "\n";
    row("top-1 accuracy", format("%s  (%lld correct, %lld errors)", pct_ci(r.top1, r.top1_ci).c_str(), r.correct,
                                 r.errors));
    row(format("top-%d accuracy", r.top5_k), pct(r.top5));
    row("mean confidence", pct(r.mean_confidence));
    row("ECE / MCE", pct_ci(r.calibration.before.ece, r.calibration.before.ece_ci) + " / " +
                         pct(r.calibration.before.mce) +
                         format("  (%s -> ECE %s)", temperature_label(r.calibration).c_str(),
                                pct(r.calibration.after.ece).c_str()));
    row(format("errors conf >= %.2f", r.params.high_conf), std::to_string(r.high_conf_errors.size()));
    row("likely label errors", std::to_string(r.label_issues.issues.size()));
    if (r.has_superclasses) row("within-superclass err.", pct(r.superclass.within_share));
    row("blank CAMs", format("%lld of %lld predicted-class maps (%s, %s at %s)", r.degenerate.pred().degenerate,
                             r.degenerate.pred().maps, pct(r.degenerate.pred().share()).c_str(), r.method.c_str(),
                             r.layer.c_str()));
    if (r.identity && !r.identity->norm_source.empty()) row("input normalisation", r.identity->norm_source);
    s += "  worst classes (lowest upper bound of the 95% interval first):\n";
    for (size_t i = 0; i < std::min<size_t>(5, r.worst_classes.size()); ++i) {
        const auto& c = r.per_class[r.worst_classes[i]];
        s += format("    %-24s %6s  (%lld images)\n", r.class_names[c.cls].c_str(), pct_ci(c.recall, c.recall_ci).c_str(),
                    c.support);
    }
    s += "  top confused pairs (true -> predicted):\n";
    if (r.directed.empty()) s += "    none\n";
    for (size_t i = 0; i < std::min<size_t>(5, r.directed.size()); ++i) {
        const auto& p = r.directed[i];
        s += format("    %-40s %5lld  (%s)\n", (r.class_names[p.a] + " -> " + r.class_names[p.b]).c_str(), p.count,
                    pct_ci(p.rate, p.rate_ci).c_str());
    }
    return s;
}

}  // namespace camscope
