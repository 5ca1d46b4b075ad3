// The recommendation rules (recommend.hpp): one function per rule, run in order by recommend().
// (Over 500 lines: ten rules of 30-60 lines, read side by side to keep their thresholds and wording
// consistent; a rule is its own function, testable alone through rules::<name>.)
//
// Intervals (issue 25): a rule whose figure has a 95 % interval (report/intervals.hpp) quotes it and
// fires only where the interval clears the threshold, not the point figure alone:
//   degenerate_cams  the blank-map share's Wilson interval (overall; per class in the list) lies above
//                    warn_share; no rec_min_n (the interval says how thin the share is);
//   confused_pairs   a pair's rate's Wilson lower bound lies above rec_pair_rate; no rec_min_n on
//                    the rate (a pair above the threshold whose interval reaches below it is named
//                    as such); its CAM IoU, a bootstrap interval, keeps the rec_min_n floor;
//   worst_classes    a class's accuracy's Wilson upper bound lies below top-1 − rec_worst_gap; no rec_min_n;
//   calibration      the ECE's bootstrap lower bound lies above rec_ece;
//   background_focus the bootstrap interval of the centre-share gap lies above rec_focus_gap;
//   flip_test        the dominant kind's Wilson lower bound reaches rec_flip_share; no rec_min_n.
// The two bootstrap rules keep rec_min_n as a floor: a percentile bootstrap over a handful of images
// is too narrow (it cannot see what the few images did not show). prediction_collapse, label_errors
// and superclass are unchanged.
#include "camscope/report/recommend.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "camscope/util/strings.hpp"

namespace camscope::rules {

namespace {

std::string pct(double v) { return format("%.1f%%", 100.0 * v); }
/// "95% CI 35.1–64.9%" (percent) or "n/a".
std::string ci(const intervals::Interval& i) {
    if (!i.defined()) return "95% CI n/a";
    return format("95%% CI %.1f\u2013%.1f%%", 100.0 * i.lo, 100.0 * i.hi);
}
/// The same for a figure that is not a share ("95% CI 0.21–0.35").
std::string ci_num(const intervals::Interval& i) {
    if (!i.defined()) return "95% CI n/a";
    return format("95%% CI %.2f\u2013%.2f", i.lo, i.hi);
}

const std::string& name_of(const Report& r, int c) { return r.class_names[c]; }

Outcome fired(Recommendation rec) {
    Outcome o;
    o.kind = Outcome::Kind::fired;
    o.recommendation = std::move(rec);
    return o;
}
Outcome checked(std::string note) {
    Outcome o;
    o.kind = Outcome::Kind::checked;
    o.note = std::move(note);
    return o;
}
Outcome too_few(std::string note) {
    Outcome o;
    o.kind = Outcome::Kind::too_few;
    o.note = std::move(note);
    return o;
}

std::string of_maps(const metrics::CamCount& c) {
    return format("%lld of %lld, %s", c.degenerate, c.maps, pct(c.share()).c_str());
}

}  // namespace

std::optional<Recommendation> degenerate_cams_recommendation(const Report& r, const AnalysisParams& opt) {
    const DegenerateStats& d = r.degenerate;
    if (!d.warn()) return std::nullopt;
    const metrics::CamCount all = d.pred();
    Recommendation rec;
    rec.rule = "degenerate_cams";
    rec.text = format("Blank CAMs: %s (%s) of the %s maps of the predicted class at layer '%s' have no positive evidence "
                      "(%lld of %lld images: all zero after the ReLU, i.e. nothing at this layer raises the class "
                      "score, or a constant map), above the %s warning threshold. They are marked in the figures "
                      "and left out of the CAM statistics, so those rest on the other %lld images. Correct "
                      "predictions: %s; errors: %s.",
                      pct(all.share()).c_str(), ci(all.share_ci()).c_str(), r.method.c_str(), r.layer.c_str(),
                      all.degenerate, all.maps, pct(d.warn_share).c_str(), all.usable(), of_maps(d.pred_correct).c_str(),
                      of_maps(d.pred_wrong).c_str());
    std::vector<std::pair<double, int>> worst;
    for (int c = 0; c < r.num_classes; ++c)
        if (d.by_pred_class[c].maps > 0 && d.by_pred_class[c].share_ci().lo > d.warn_share)
            worst.push_back({-d.by_pred_class[c].share(), c});
    std::sort(worst.begin(), worst.end());
    std::vector<std::string> items;
    for (size_t i = 0; i < worst.size() && i < 5; ++i)
        items.push_back(format("'%s' %s, %s", name_of(r, worst[i].second).c_str(),
                               of_maps(d.by_pred_class[worst[i].second]).c_str(),
                               ci(d.by_pred_class[worst[i].second].share_ci()).c_str()));
    if (!items.empty())
        rec.text += " Most affected predicted classes (whose 95% interval lies above the threshold): " +
                    join(items, "; ") + ".";
    rec.figures = {{"degenerate_share", all.share()},
                   {"degenerate_share_ci_lo", all.share_ci().lo},
                   {"degenerate_share_ci_hi", all.share_ci().hi},
                   {"degenerate", double(all.degenerate)},
                   {"maps", double(all.maps)},
                   {"threshold", d.warn_share}};
    auto cand = [&](const CamCandidate& c) {
        return format("%s at '%s': %lld of %lld maps degenerate (%s)", c.method.c_str(), c.layer.c_str(), c.degenerate,
                      c.n, pct(c.share()).c_str());
    };
    if (r.better_method || r.better_layer) {
        std::vector<std::string> tips;
        if (r.better_method) {
            tips.push_back(cand(*r.better_method) +
                           format(", faithfulness mean rank %.2f -> --method %s", r.better_method->mean_rank,
                                  r.better_method->method.c_str()));
            rec.figures.push_back({"better_method_degenerate_share", r.better_method->share()});
        }
        if (r.better_layer) {
            tips.push_back(cand(*r.better_layer) + " -> --layer " + r.better_layer->layer);
            rec.figures.push_back({"better_layer_degenerate_share", r.better_layer->share()});
        }
        rec.text += format(" Measured on the faithfulness sample (%zu images), these do better: ",
                           r.faithfulness ? r.faithfulness->n_images : size_t{0}) +
                    join(tips, "; ") + ".";
    } else if (!r.cam_candidates.empty()) {
        std::vector<std::string> tried;
        for (const auto& c : r.cam_candidates) tried.push_back(cand(c));
        rec.text += format(" None of the alternatives measured on the faithfulness sample does better (at most %s "
                           "degenerate and fewer than the analysed method, on at least %lld images): ",
                           pct(d.warn_share).c_str(), opt.rec_min_n) +
                    join(tried, "; ") + ".";
    } else {
        rec.text += " No alternative was measured: the faithfulness check (--faithfulness-n, on by default) counts "
                    "the degenerate maps of every gradient method and of this method at other layers.";
    }
    rec.text += " Blank Grad-CAMs are typical of a classifier head without global average pooling (flatten + fully "
                "connected): Grad-CAM's channel weights (spatial means of the gradients) can then add up to a map "
                "that is negative everywhere. Other CAM methods or an earlier layer may still show evidence; a "
                "global-average-pooling head removes the cause (with it, the predicted class's map has positive "
                "evidence wherever its logit exceeds its bias).";
    return rec;
}

Outcome prediction_collapse(const Report& r, const AnalysisParams& opt) {
    const long long min_n = opt.rec_min_n;
    if (!r.per_class.empty() && static_cast<long long>(r.n) >= min_n) {
        const auto top = std::max_element(r.per_class.begin(), r.per_class.end(),
                                          [](const auto& a, const auto& b) { return a.predicted < b.predicted; });
        const double pred_share = double(top->predicted) / double(r.n), label_share = double(top->support) / double(r.n);
        if (pred_share >= opt.rec_collapse && pred_share >= 3 * label_share) {
            Recommendation rec;
            rec.rule = "prediction_collapse";
            rec.text = format("Prediction collapse: '%s' is the prediction for %s of the images (%lld of %zu) but the "
                              "label of %s (%lld): the output barely depends on the input, and every other figure "
                              "of this report describes that. Check the preprocessing first (normalisation: --norm or --mean/--std; "
                              "channel order; input size), then the export: a model traced in training mode, or "
                              "exported before training, predicts like this.",
                              r.class_names.at(static_cast<size_t>(top->cls)).c_str(), pct(pred_share).c_str(),
                              top->predicted, r.n, pct(label_share).c_str(), top->support);
            rec.figures = {{"class", double(top->cls)},
                           {"predicted_share", pred_share},
                           {"label_share", label_share},
                           {"threshold", opt.rec_collapse}};
            return fired(std::move(rec));
        } else {
            return checked(format("most predicted class '%s' at %s of the predictions (threshold %s)",
                                  r.class_names.at(static_cast<size_t>(top->cls)).c_str(), pct(pred_share).c_str(),
                                  pct(opt.rec_collapse).c_str()));
        }
    }
    return {};
}

Outcome degenerate_cams(const Report& r, const AnalysisParams& opt) {
    // Blank CAMs come before the other rules: every CAM figure rests on the maps that are not. (The
    // warning at the top of the report and the terminal is the point share's; the recommendation
    // needs the share's 95 % interval above the threshold.)
    const metrics::CamCount all = r.degenerate.pred();
    if (r.degenerate.warn() && !(all.share_ci().lo > r.degenerate.warn_share))
        return checked(format("blank-CAM share %s of %lld maps (%s) not clearly above the %s warning threshold",
                              pct(all.share()).c_str(), all.maps, ci(all.share_ci()).c_str(),
                              pct(r.degenerate.warn_share).c_str()));
    if (auto rec = degenerate_cams_recommendation(r, opt)) return fired(std::move(*rec));
    return {};
}

Outcome calibration(const Report& r, const AnalysisParams& opt) {
    const long long min_n = opt.rec_min_n;
    const auto& cal = r.calibration;
    if (static_cast<long long>(r.n) < min_n) {
        return too_few(format("calibration not quoted: %zu images, fewer than the minimum of %lld", r.n, min_n));
    } else if (cal.before.ece_ci.lo > opt.rec_ece) {
        Recommendation rec;
        rec.rule = "calibration";
        const bool over = cal.before.overconfidence > 0;
        rec.text = format("Calibration: ECE is %s (%s, MCE %s, %d bins), above the %s threshold; the model is %s by "
                          "%.1f points (mean confidence %s vs accuracy %s).",
                          pct(cal.before.ece).c_str(), ci(cal.before.ece_ci).c_str(), pct(cal.before.mce).c_str(),
                          cal.before.num_bins,
                          pct(opt.rec_ece).c_str(), over ? "over-confident" : "under-confident",
                          100.0 * std::abs(cal.before.overconfidence), pct(cal.before.mean_confidence).c_str(),
                          pct(cal.before.accuracy).c_str());
        if (cal.bound == 0)
            rec.text += format(" Temperature scaling with T = %.3f (NLL %.4f -> %.4f) would bring ECE to %s: divide the "
                               "logits by T at inference (it does not change top-1 accuracy). T was fitted on this "
                               "test set; fit it on a held-out validation split before shipping it.",
                               cal.temperature, cal.nll_before, cal.nll_after, pct(cal.after.ece).c_str());
        else  // no T in the searched range is the NLL's optimum: do not offer the bound as a fix
            rec.text += format(" Temperature scaling does not settle it: the NLL still falls at T = %.3f, the %s "
                               "temperature searched (NLL %.4f -> %.4f), where ECE is %s. %s",
                               cal.temperature, cal.bound_name(), cal.nll_before,
                               cal.nll_after, pct(cal.after.ece).c_str(),
                               cal.bound > 0 ? "The logits are far larger than the accuracy warrants: check that "
                                               "the model's output is its logits (not scaled, not a training-mode "
                                               "export), and look at the training first."
                                             : "Its predictions are right with a margin on this set, so any "
                                               "sharpening helps here: fit T on a held-out split instead.");
        if (over)
            rec.text += " Alternatively retrain with label smoothing (e.g. 0.1), which reduces over-confidence.";
        else
            rec.text += " Under-confidence often comes from strong regularisation (heavy label smoothing, mixup): "
                        "consider reducing it.";
        rec.figures = {{"ece", cal.before.ece},
                       {"ece_ci_lo", cal.before.ece_ci.lo},
                       {"ece_ci_hi", cal.before.ece_ci.hi},
                       {"mce", cal.before.mce},
                       {"overconfidence", cal.before.overconfidence},
                       {"temperature", cal.temperature},
                       {"temperature_at_bound", static_cast<double>(cal.bound)},
                       {"ece_after_temperature", cal.after.ece},
                       {"threshold", opt.rec_ece}};
        return fired(std::move(rec));
    } else {
        return checked(format("ECE %s (%s; threshold %s)", pct(cal.before.ece).c_str(), ci(cal.before.ece_ci).c_str(),
                              pct(opt.rec_ece).c_str()));
    }
}

Outcome confused_pairs(const Report& r, const AnalysisParams& opt) {
    const long long min_n = opt.rec_min_n;
    Recommendation rec;
    rec.rule = "confused_pairs";
    std::vector<std::string> items;
    size_t above = 0, unclear = 0;
    const metrics::DirectedPair* first_unclear = nullptr;
    for (const auto& p : r.directed) {
        if (p.rate <= opt.rec_pair_rate) continue;
        if (!(p.rate_ci.lo > opt.rec_pair_rate)) {  // its interval reaches below the threshold
            if (!first_unclear) first_unclear = &p;
            ++unclear;
            continue;
        }
        if (++above > 5) continue;
        std::string item = format("'%s' -> '%s' %lld of %lld (%s, %s; reverse %lld)", name_of(r, p.a).c_str(),
                                  name_of(r, p.b).c_str(), p.count, r.per_class[p.a].support, pct(p.rate).c_str(),
                                  ci(p.rate_ci).c_str(), r.confusion.at(p.b, p.a));
        rec.figures.push_back({format("rate_%d_%d", p.a, p.b), p.rate});
        rec.figures.push_back({format("rate_ci_lo_%d_%d", p.a, p.b), p.rate_ci.lo});
        for (const auto& pf : r.pair_focus)
            if (pf.a == p.a && pf.b == p.b && pf.n >= min_n && std::isfinite(pf.mean_iou)) {
                item += format(", CAM IoU %.2f (%s) over %lld of %lld errors", pf.mean_iou, ci_num(pf.mean_iou_ci).c_str(),
                               pf.n, pf.errors);
                rec.figures.push_back({format("cam_iou_%d_%d", p.a, p.b), pf.mean_iou});
            }
        items.push_back(item);
    }
    auto unclear_text = [&] {
        return format("'%s' -> '%s' %s of %lld, %s", name_of(r, first_unclear->a).c_str(),
                      name_of(r, first_unclear->b).c_str(), pct(first_unclear->rate).c_str(),
                      r.per_class[first_unclear->a].support, ci(first_unclear->rate_ci).c_str());
    };
    if (above > 0) {
        rec.text = format("Confused pairs: %zu directed pair%s exceed%s the %s confusion-rate threshold with the whole "
                          "95%% interval: ",
                          above, above == 1 ? "" : "s", above == 1 ? "s" : "", pct(opt.rec_pair_rate).c_str()) +
                   join(items, "; ") + (above > items.size() ? format("; and %zu more", above - items.size()) : "") +
                   ". Add targeted augmentation or more training data for these classes, ideally examples that "
                   "show what tells them apart. A low CAM IoU (top-" +
                   std::to_string(int(std::lround(100 * opt.top_region_fraction))) +
                   "% regions of the true-class vs predicted-class CAM) means the model looked at a different "
                   "part of the image than the true class's evidence (see the confused_pair figures); a high one "
                   "means it looked at the right place but could not resolve the difference (finer detail, "
                   "higher input resolution). A CAM IoU is quoted only where at least " +
                   std::to_string(min_n) + " errors of the pair have two maps with evidence.";
        if (unclear > 0)
            rec.text += format(" %zu more pair%s above the threshold %s an interval reaching below it (e.g. %s) and "
                               "%s not quoted.",
                               unclear, unclear == 1 ? "" : "s", unclear == 1 ? "has" : "have", unclear_text().c_str(),
                               unclear == 1 ? "is" : "are");
        rec.figures.push_back({"threshold", opt.rec_pair_rate});
        return fired(std::move(rec));
    } else if (r.directed.empty()) {
        return checked("no confusions at all");
    } else if (unclear > 0) {
        return checked(format("%zu confused pair%s above the %s rate threshold, none with its 95%% interval above it "
                              "(most frequent %s)",
                              unclear, unclear == 1 ? "" : "s", pct(opt.rec_pair_rate).c_str(), unclear_text().c_str()));
    } else {
        return checked(format("largest confusion rate %s ('%s' -> '%s', %s, threshold %s)",
                              pct(r.directed.front().rate).c_str(), name_of(r, r.directed.front().a).c_str(),
                              name_of(r, r.directed.front().b).c_str(), ci(r.directed.front().rate_ci).c_str(),
                              pct(opt.rec_pair_rate).c_str()));
    }
}

Outcome background_focus(const Report& r, const AnalysisParams& opt) {
    const long long min_n = opt.rec_min_n;
    const FocusStats& f = r.focus;
    const bool focus_enough = f.n_correct >= min_n && f.n_wrong >= min_n;
    if (!focus_enough) {
        return too_few(format("CAM centre share not quoted: %lld of %lld correct and %lld of %lld wrong predictions "
                              "have a map with evidence, fewer than the minimum of %lld",
                              f.n_correct, f.total_correct, f.n_wrong, f.total_wrong, min_n));
    } else if (std::isfinite(f.centre_correct) && std::isfinite(f.centre_wrong) && f.gap_ci.lo > opt.rec_focus_gap) {
        Recommendation rec;
        rec.rule = "background_focus";
        rec.text = format("Background focus: on errors the predicted-class CAM puts %s (%s) of its mass in the "
                          "central quarter of the image (over %lld of %lld errors), against %s (%s) on correct "
                          "predictions (over %lld of %lld; a uniform map puts 25%%), a gap of %.1f points (95%% CI "
                          "%.1f\u2013%.1f) above the %.1f-point threshold. Wrong predictions lean on the border and "
                          "background: use random-resized-crop and cutout/random-erasing augmentation so that context "
                          "alone does not decide the class.",
                          pct(f.centre_wrong).c_str(), ci(f.centre_wrong_ci).c_str(), f.n_wrong, f.total_wrong,
                          pct(f.centre_correct).c_str(), ci(f.centre_correct_ci).c_str(), f.n_correct, f.total_correct,
                          100 * (f.centre_correct - f.centre_wrong), 100 * f.gap_ci.lo, 100 * f.gap_ci.hi,
                          100 * opt.rec_focus_gap);
        // Classes where the gap is largest (with at least min_n maps with evidence on each side, and
        // the gap's interval above the threshold).
        std::vector<std::pair<double, int>> gaps;
        for (int c = 0; c < r.num_classes; ++c) {
            const auto& fc = r.focus_per_class[c];
            if (fc.n_wrong >= min_n && fc.n_correct >= min_n && fc.gap_ci.lo > opt.rec_focus_gap)
                gaps.push_back({fc.centre_correct - fc.centre_wrong, c});
        }
        std::sort(gaps.begin(), gaps.end(), [](auto& x, auto& y) { return x.first > y.first || (x.first == y.first && x.second < y.second); });
        std::vector<std::string> names;
        for (size_t i = 0; i < gaps.size() && names.size() < 5; ++i)
            if (gaps[i].first > opt.rec_focus_gap)
                names.push_back(format("'%s' (%s over %lld wrong vs %s over %lld correct)",
                                       name_of(r, gaps[i].second).c_str(),
                                       pct(r.focus_per_class[gaps[i].second].centre_wrong).c_str(),
                                       r.focus_per_class[gaps[i].second].n_wrong,
                                       pct(r.focus_per_class[gaps[i].second].centre_correct).c_str(),
                                       r.focus_per_class[gaps[i].second].n_correct));
        if (!names.empty()) rec.text += " Largest gaps: " + join(names, ", ") + ".";
        rec.figures = {{"centre_share_wrong", f.centre_wrong},
                       {"centre_share_wrong_n", double(f.n_wrong)},
                       {"centre_share_correct", f.centre_correct},
                       {"centre_share_correct_n", double(f.n_correct)},
                       {"gap_ci_lo", f.gap_ci.lo},
                       {"gap_ci_hi", f.gap_ci.hi},
                       {"threshold_gap", opt.rec_focus_gap}};
        return fired(std::move(rec));
    } else if (std::isfinite(f.centre_correct) && std::isfinite(f.centre_wrong)) {
        return checked(format("centre share of CAM mass %s on errors (over %lld of %lld) vs %s on correct predictions "
                              "(over %lld of %lld; gap %.1f points, 95%% CI %.1f\u2013%.1f; threshold %.1f points)",
                              pct(f.centre_wrong).c_str(), f.n_wrong, f.total_wrong, pct(f.centre_correct).c_str(),
                              f.n_correct, f.total_correct, 100 * (f.centre_correct - f.centre_wrong),
                              100 * f.gap_ci.lo, 100 * f.gap_ci.hi, 100 * opt.rec_focus_gap));
    }
    return {};
}

Outcome worst_classes(const Report& r, const AnalysisParams& opt) {
    // A class is quoted where its whole accuracy interval lies more than rec_worst_gap below top-1:
    // the interval, not a minimum count, says whether a few images can carry the claim.
    const double limit = r.top1 - opt.rec_worst_gap;
    std::vector<int> weak;
    for (int c : r.worst_classes) {
        if (int(weak.size()) == opt.rec_worst_classes) break;
        if (r.per_class[c].recall_ci.hi < limit) weak.push_back(c);
    }
    if (!weak.empty()) {
        Recommendation rec;
        rec.rule = "worst_classes";
        std::vector<std::string> items;
        for (int c : weak) {
            const auto& s = r.per_class[c];
            std::string item = format("'%s' %s of %lld (%s)", name_of(r, c).c_str(), pct(s.recall).c_str(), s.support,
                                      ci(s.recall_ci).c_str());
            if (s.most_confused_with >= 0)
                item += format(" (most often taken for '%s', %lld)", name_of(r, s.most_confused_with).c_str(),
                               s.most_confused_count);
            items.push_back(item);
            rec.figures.push_back({"accuracy_class_" + std::to_string(c), s.recall});
            rec.figures.push_back({"accuracy_ci_hi_class_" + std::to_string(c), s.recall_ci.hi});
        }
        rec.text = format("Weakest classes, whose accuracy's 95%% interval lies entirely more than %.0f points below "
                          "the overall top-1 of %s: ",
                          100 * opt.rec_worst_gap, pct(r.top1).c_str()) +
                   join(items, "; ") +
                   ". Target them first: more or cleaner training images, class-balanced sampling or a higher "
                   "loss weight; their galleries in worst_predictions/ show what goes wrong.";
        rec.figures.push_back({"top1", r.top1});
        rec.figures.push_back({"threshold_gap", opt.rec_worst_gap});
        return fired(std::move(rec));
    } else if (!r.worst_classes.empty()) {
        const int c = r.worst_classes.front();
        return checked(format("weakest class '%s' at %s of %lld (%s) vs top-1 %s (gap threshold %.0f points)",
                              name_of(r, c).c_str(), pct(r.per_class[c].recall).c_str(), r.per_class[c].support,
                              ci(r.per_class[c].recall_ci).c_str(), pct(r.top1).c_str(), 100 * opt.rec_worst_gap));
    }
    return {};
}

Outcome label_errors(const Report& r, const AnalysisParams& opt) {
    const long long min_n = opt.rec_min_n;
    const size_t n_issues = r.label_issues.issues.size();
    const double issue_share = double(n_issues) / double(r.n);
    if (static_cast<long long>(r.n) < min_n) {
        return too_few(format("label errors not quoted: %zu images, fewer than the minimum of %lld", r.n, min_n));
    } else if (n_issues > 0 && issue_share > opt.rec_label_issue_share) {
        Recommendation rec;
        rec.rule = "label_errors";
        rec.text = format("Likely label errors: %zu images (%s of the set) have a given label the model finds "
                          "implausible by the confident-learning rule (threshold %s); %lld of the %zu "
                          "high-confidence errors are among them. Review and relabel them before trusting per-class "
                          "figures; the most suspicious: ",
                          n_issues, pct(issue_share).c_str(), pct(opt.rec_label_issue_share).c_str(),
                          r.high_conf_errors_flagged, r.high_conf_errors.size());
        std::vector<std::string> items;
        for (size_t i = 0; i < std::min<size_t>(5, n_issues); ++i) {
            const auto& is = r.label_issues.issues[i];
            items.push_back(format("#%d labelled '%s' (p %.2f), looks like '%s' (p %.2f)", r.label_issue_rows[i].index,
                                   name_of(r, is.given).c_str(), is.p_given, name_of(r, is.suggested).c_str(),
                                   is.p_suggested));
        }
        rec.text += join(items, "; ") + ".";
        rec.figures = {{"count", double(n_issues)},
                       {"share", issue_share},
                       {"high_conf_errors_flagged", double(r.high_conf_errors_flagged)},
                       {"threshold", opt.rec_label_issue_share}};
        return fired(std::move(rec));
    } else {
        return checked(format("%zu likely label errors (%s, threshold %s)", n_issues, pct(issue_share).c_str(),
                              pct(opt.rec_label_issue_share).c_str()));
    }
}

Outcome superclass(const Report& r, const AnalysisParams& opt) {
    const long long min_n = opt.rec_min_n;
    if (r.has_superclasses && r.superclass.errors > 0 && r.superclass.errors < min_n) {
        return too_few(format("superclass share not quoted: %lld errors, fewer than the minimum of %lld",
                              r.superclass.errors, min_n));
    } else if (r.has_superclasses && r.superclass.errors > 0) {
        const auto& s = r.superclass;
        if (s.within_share >= 0.3 && s.within_share > 2 * s.chance_within_share) {
            Recommendation rec;
            rec.rule = "superclass";
            rec.text = format("%s of the errors (%lld of %lld) stay within the true class's superclass, against %s if "
                              "errors were spread at random: the model gets the coarse category and misses the fine "
                              "distinction. Extra data or augmentation should focus on the sibling classes; a "
                              "hierarchical (coarse + fine) loss can also help.",
                              pct(s.within_share).c_str(), s.within, s.errors, pct(s.chance_within_share).c_str());
            rec.figures = {{"within_share", s.within_share}, {"chance_within_share", s.chance_within_share}};
            return fired(std::move(rec));
        } else {
            return checked(format("within-superclass share of errors %s (chance %s)", pct(s.within_share).c_str(),
                                  pct(s.chance_within_share).c_str()));
        }
    }
    return {};
}

Outcome flip_test(const Report& r, const AnalysisParams& opt) {
    if (!r.flips) return {};
    const FlipSummary& f = *r.flips;
    const FlipCounts& c = f.overall;
    if (c.tested == 0) return {};
    // The kind with the largest share; the recommendation fires when its Wilson interval lies at or
    // above rec_flip_share (no rec_min_n: the interval says how few were tested).
    FlipOutcome top = FlipOutcome::flips_to_true;
    for (FlipOutcome o : {FlipOutcome::stays, FlipOutcome::flips_elsewhere})
        if (c.of(o) > c.of(top)) top = o;
    const double share = c.share(top);
    const intervals::Interval share_ci = intervals::wilson(c.of(top), c.tested);
    if (share_ci.lo < opt.rec_flip_share)
        return checked(format("flip test: no kind of error is at least %s of the %lld tested with 95%% confidence "
                              "(distractor %lld, missing %lld, unstable %lld; the largest %s, %s)",
                              pct(opt.rec_flip_share).c_str(), c.tested, c.distractor, c.missing, c.unstable,
                              pct(share).c_str(), ci(share_ci).c_str()));
    // The directed pairs with most errors of that kind (at most 3), as "'a' -> 'b' 12 of 15".
    std::vector<const FlipGroup*> pairs;
    for (const auto& g : f.per_pair)
        if (g.counts.of(top) > 0) pairs.push_back(&g);
    std::stable_sort(pairs.begin(), pairs.end(),
                     [&](const FlipGroup* x, const FlipGroup* y) { return x->counts.of(top) > y->counts.of(top); });
    std::vector<std::string> items;
    for (size_t i = 0; i < std::min<size_t>(3, pairs.size()); ++i)
        items.push_back(format("'%s' -> '%s' %lld of %lld", name_of(r, pairs[i]->a).c_str(),
                               name_of(r, pairs[i]->b).c_str(), pairs[i]->counts.of(top), pairs[i]->counts.tested));
    Recommendation rec;
    rec.rule = "flip_test";
    const std::string measured =
        format("With %s, %lld of %lld tested errors (%s, %s; threshold %s) ", f.method().c_str(), c.of(top),
               c.tested, pct(share).c_str(), ci(share_ci).c_str(), pct(opt.rec_flip_share).c_str());
    const std::string where = items.empty() ? "" : " Most often: " + join(items, "; ") + ".";
    switch (top) {
        case FlipOutcome::flips_to_true:
            rec.text = measured + "turn back to the true class: distractor evidence. What the model looked at led it "
                                  "away from a class it does recognise (a shortcut, a co-occurring object, a "
                                  "watermark). Train with Cutout / random erasing, or with object-centred crops, so no "
                                  "single region decides; check the sheets in flip_test/ for a shared cue." + where;
            break;
        case FlipOutcome::stays:
            rec.text = measured + "stay wrong: missing true evidence. Without its evidence for the wrong class the "
                                  "model still does not find the true one: it has not learned what the true class "
                                  "looks like in these images. More, or finer-grained, training images of those "
                                  "classes help more than augmentation." + where;
            break;
        case FlipOutcome::flips_elsewhere:
            rec.text = measured + "go to a third class: unstable. The decision hangs on a small region and falls to "
                                  "yet another class without it; more varied training data and stronger augmentation "
                                  "make it less brittle." + where;
            break;
    }
    rec.figures = {{"tested", double(c.tested)},
                   {"distractor", double(c.distractor)},
                   {"missing", double(c.missing)},
                   {"unstable", double(c.unstable)},
                   {"share", share},
                   {"share_ci_lo", share_ci.lo},
                   {"share_ci_hi", share_ci.hi},
                   {"fraction", f.fraction},
                   {"threshold", opt.rec_flip_share}};
    return fired(std::move(rec));
}

std::vector<Recommendation> recommend(const Report& r, const AnalysisParams& opt) {
    // A collapsed output first: every other figure describes a model that hardly looks at its input.
    using Rule = Outcome (*)(const Report&, const AnalysisParams&);
    constexpr Rule kRules[] = {prediction_collapse, degenerate_cams, calibration, confused_pairs,
                               background_focus,    worst_classes,   label_errors, superclass,
                               flip_test};
    std::vector<Recommendation> recs;
    std::vector<std::string> quiet;    // "checked, did not fire" notes for the all-clear text
    std::vector<std::string> skipped;  // figures over fewer than min_n images, said in a last note
    for (const Rule rule : kRules) {
        Outcome o = rule(r, opt);
        switch (o.kind) {
            case Outcome::Kind::fired: recs.push_back(std::move(o.recommendation)); break;
            case Outcome::Kind::checked: quiet.push_back(std::move(o.note)); break;
            case Outcome::Kind::too_few: skipped.push_back(std::move(o.note)); break;
            case Outcome::Kind::not_applicable: break;
        }
    }
    const long long min_n = opt.rec_min_n;
    if (recs.empty()) {
        Recommendation rec;
        rec.rule = "none";
        rec.text = quiet.empty() ? "No rule triggered." : "No rule triggered. Checked: " + join(quiet, "; ") + ".";
        recs.push_back(std::move(rec));
    }
    if (!skipped.empty()) {
        Recommendation rec;
        rec.rule = "too_few_images";
        rec.text = format("Not quoted, because fewer than %lld images stand behind the figure (the minimum for a "
                          "figure without a Wilson interval, which decides for the others): ",
                          min_n) +
                   join(skipped, "; ") + ".";
        rec.figures = {{"min_n", double(min_n)}};
        recs.push_back(std::move(rec));
    }
    return recs;
}

}  // namespace camscope::rules
