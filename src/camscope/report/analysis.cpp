// build_report: every number of the analysis report is computed here, once; the writers only
// format the Report.
#include "camscope/report/analysis.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>

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

std::string pct(double v) { return format("%.1f%%", 100.0 * v); }

const std::string& name_of(const Report& r, int c) { return r.class_names[c]; }

// ------------------------------------------------------------------ recommendations
// Each rule fires on a measured figure crossing a threshold (AnalysisOptions::rec_*) and quotes
// both. When nothing fires, the report says which figures were checked and what they were. No rule
// quotes a figure computed over fewer than opt.rec_min_n images (it says so instead).

std::string of_maps(const metrics::CamCount& c) {
    return format("%lld of %lld, %s", c.degenerate, c.maps, pct(c.share()).c_str());
}

/// The "degenerate_cams" rule: more than a fifth of the predicted-class maps have no positive
/// evidence. Quotes the counts, the classes most affected and the measured alternatives (set by
/// attach_faithfulness; without them it says how to measure them).
std::optional<Recommendation> degenerate_recommendation(const Report& r, const AnalysisOptions& opt) {
    const DegenerateStats& d = r.degenerate;
    if (!d.warn()) return std::nullopt;
    const metrics::CamCount all = d.pred();
    Recommendation rec;
    rec.rule = "degenerate_cams";
    rec.text = format("Blank CAMs: %s of the %s maps of the predicted class at layer '%s' have no positive evidence "
                      "(%lld of %lld images: all zero after the ReLU, i.e. nothing at this layer raises the class "
                      "score, or a constant map), above the %s warning threshold. They are marked in the figures "
                      "and left out of the CAM statistics, so those rest on the other %lld images. Correct "
                      "predictions: %s; errors: %s.",
                      pct(all.share()).c_str(), r.method.c_str(), r.layer.c_str(), all.degenerate, all.maps,
                      pct(d.warn_share).c_str(), all.usable(), of_maps(d.pred_correct).c_str(),
                      of_maps(d.pred_wrong).c_str());
    std::vector<std::pair<double, int>> worst;
    for (int c = 0; c < r.num_classes; ++c)
        if (d.by_pred_class[c].maps >= opt.rec_min_n && d.by_pred_class[c].share() > d.warn_share)
            worst.push_back({-d.by_pred_class[c].share(), c});
    std::sort(worst.begin(), worst.end());
    std::vector<std::string> items;
    for (size_t i = 0; i < worst.size() && i < 5; ++i)
        items.push_back(format("'%s' %s", name_of(r, worst[i].second).c_str(),
                               of_maps(d.by_pred_class[worst[i].second]).c_str()));
    if (!items.empty())
        rec.text += format(" Most affected predicted classes (at least %lld maps each): ", opt.rec_min_n) +
                    join(items, "; ") + ".";
    rec.figures = {{"degenerate_share", all.share()},
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

void recommend(Report& r, const AnalysisOptions& opt) {
    const auto& cal = r.calibration;
    std::vector<std::string> quiet;    // "checked, did not fire" notes for the all-clear text
    std::vector<std::string> skipped;  // figures over fewer than min_n images, said in a last note
    const long long min_n = opt.rec_min_n;

    // 0. A collapsed output first: every other figure describes a model that hardly looks at its input.
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
            r.recommendations.push_back(std::move(rec));
        } else {
            quiet.push_back(format("most predicted class '%s' at %s of the predictions (threshold %s)",
                                   r.class_names.at(static_cast<size_t>(top->cls)).c_str(), pct(pred_share).c_str(),
                                   pct(opt.rec_collapse).c_str()));
        }
    }

    // 0b. Blank CAMs: every CAM figure below rests on the maps that are not. (The warning at
    // the top of the report and the terminal does not depend on the minimum.)
    if (r.degenerate.warn() && r.degenerate.pred().maps < min_n)
        skipped.push_back(format("blank-CAM share not quoted: %lld maps, fewer than the minimum of %lld",
                                 r.degenerate.pred().maps, min_n));
    else if (auto rec = degenerate_recommendation(r, opt))
        r.recommendations.push_back(std::move(*rec));

    // 1. Calibration.
    if (static_cast<long long>(r.n) < min_n) {
        skipped.push_back(format("calibration not quoted: %zu images, fewer than the minimum of %lld", r.n, min_n));
    } else if (cal.before.ece > opt.rec_ece) {
        Recommendation rec;
        rec.rule = "calibration";
        const bool over = cal.before.overconfidence > 0;
        rec.text = format("Calibration: ECE is %s (MCE %s, %d bins), above the %s threshold; the model is %s by %.1f "
                          "points (mean confidence %s vs accuracy %s).",
                          pct(cal.before.ece).c_str(), pct(cal.before.mce).c_str(), cal.before.num_bins,
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
                       {"mce", cal.before.mce},
                       {"overconfidence", cal.before.overconfidence},
                       {"temperature", cal.temperature},
                       {"temperature_at_bound", static_cast<double>(cal.bound)},
                       {"ece_after_temperature", cal.after.ece},
                       {"threshold", opt.rec_ece}};
        r.recommendations.push_back(std::move(rec));
    } else {
        quiet.push_back(format("ECE %s (threshold %s)", pct(cal.before.ece).c_str(), pct(opt.rec_ece).c_str()));
    }

    // 2. Confused pairs above the rate threshold: one recommendation listing them (at most 5).
    {
        Recommendation rec;
        rec.rule = "confused_pairs";
        std::vector<std::string> items;
        size_t above = 0, small = 0;
        for (const auto& p : r.directed) {
            if (p.rate <= opt.rec_pair_rate) continue;
            if (r.per_class[p.a].support < min_n) {  // a rate over too few images is not quoted
                ++small;
                continue;
            }
            if (++above > 5) continue;
            std::string item = format("'%s' -> '%s' %lld of %lld (%s; reverse %lld)", name_of(r, p.a).c_str(),
                                      name_of(r, p.b).c_str(), p.count, r.per_class[p.a].support, pct(p.rate).c_str(),
                                      r.confusion.at(p.b, p.a));
            rec.figures.push_back({format("rate_%d_%d", p.a, p.b), p.rate});
            for (const auto& pf : r.pair_focus)
                if (pf.a == p.a && pf.b == p.b && pf.n >= min_n && std::isfinite(pf.mean_iou)) {
                    item += format(", CAM IoU %.2f over %lld of %lld errors", pf.mean_iou, pf.n, pf.errors);
                    rec.figures.push_back({format("cam_iou_%d_%d", p.a, p.b), pf.mean_iou});
                }
            items.push_back(item);
        }
        if (above > 0) {
            rec.text = format("Confused pairs: %zu directed pair%s exceed%s the %s confusion-rate threshold: ", above,
                              above == 1 ? "" : "s", above == 1 ? "s" : "", pct(opt.rec_pair_rate).c_str()) +
                       join(items, "; ") + (above > items.size() ? format("; and %zu more", above - items.size()) : "") +
                       ". Add targeted augmentation or more training data for these classes, ideally examples that "
                       "show what tells them apart. A low CAM IoU (top-" +
                       std::to_string(int(std::lround(100 * opt.top_region_fraction))) +
                       "% regions of the true-class vs predicted-class CAM) means the model looked at a different "
                       "part of the image than the true class's evidence (see the confused_pair figures); a high one "
                       "means it looked at the right place but could not resolve the difference (finer detail, "
                       "higher input resolution). A CAM IoU is quoted only where at least " +
                       std::to_string(min_n) + " errors of the pair have two maps with evidence.";
            if (small > 0)
                rec.text += format(" %zu more pair%s above the threshold %s fewer than %lld images of the true class "
                                   "and %s not quoted.",
                                   small, small == 1 ? "" : "s", small == 1 ? "has" : "have", min_n,
                                   small == 1 ? "is" : "are");
            rec.figures.push_back({"threshold", opt.rec_pair_rate});
            r.recommendations.push_back(std::move(rec));
        } else if (r.directed.empty()) {
            quiet.push_back("no confusions at all");
        } else if (small > 0) {
            skipped.push_back(format("%zu confused pair%s above the %s rate threshold not quoted: fewer than %lld images "
                                   "of the true class",
                                   small, small == 1 ? "" : "s", pct(opt.rec_pair_rate).c_str(), min_n));
        } else {
            quiet.push_back(format("largest confusion rate %s ('%s' -> '%s', threshold %s)",
                                   pct(r.directed.front().rate).c_str(), name_of(r, r.directed.front().a).c_str(),
                                   name_of(r, r.directed.front().b).c_str(), pct(opt.rec_pair_rate).c_str()));
        }
    }

    // 3. Background focus on errors.
    const FocusStats& f = r.focus;
    const bool focus_enough = f.n_correct >= min_n && f.n_wrong >= min_n;
    if (!focus_enough) {
        skipped.push_back(format("CAM centre share not quoted: %lld of %lld correct and %lld of %lld wrong predictions "
                               "have a map with evidence, fewer than the minimum of %lld",
                               f.n_correct, f.total_correct, f.n_wrong, f.total_wrong, min_n));
    } else if (std::isfinite(f.centre_correct) && std::isfinite(f.centre_wrong) &&
               f.centre_wrong < f.centre_correct - opt.rec_focus_gap) {
        Recommendation rec;
        rec.rule = "background_focus";
        rec.text = format("Background focus: on errors the predicted-class CAM puts %s of its mass in the central "
                          "quarter of the image (over %lld of %lld errors), against %s on correct predictions (over "
                          "%lld of %lld; a uniform map puts 25%%), a gap of %.1f points above the %.1f-point "
                          "threshold. Wrong predictions lean on the border and background: use random-resized-crop "
                          "and cutout/random-erasing augmentation so that context alone does not decide the class.",
                          pct(f.centre_wrong).c_str(), f.n_wrong, f.total_wrong, pct(f.centre_correct).c_str(),
                          f.n_correct, f.total_correct, 100 * (f.centre_correct - f.centre_wrong),
                          100 * opt.rec_focus_gap);
        // Classes where the gap is largest (with at least min_n maps with evidence on each side).
        std::vector<std::pair<double, int>> gaps;
        for (int c = 0; c < r.num_classes; ++c) {
            const auto& fc = r.focus_per_class[c];
            if (fc.n_wrong >= min_n && fc.n_correct >= min_n) gaps.push_back({fc.centre_correct - fc.centre_wrong, c});
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
                       {"threshold_gap", opt.rec_focus_gap}};
        r.recommendations.push_back(std::move(rec));
    } else if (std::isfinite(f.centre_correct) && std::isfinite(f.centre_wrong)) {
        quiet.push_back(format("centre share of CAM mass %s on errors (over %lld of %lld) vs %s on correct predictions "
                               "(over %lld of %lld; gap threshold %.1f points)",
                               pct(f.centre_wrong).c_str(), f.n_wrong, f.total_wrong, pct(f.centre_correct).c_str(),
                               f.n_correct, f.total_correct, 100 * opt.rec_focus_gap));
    }

    // 4. Worst classes.
    {
        std::vector<int> weak;
        for (int c : r.worst_classes) {
            if (int(weak.size()) == opt.rec_worst_classes) break;
            if (r.per_class[c].support >= min_n && r.per_class[c].recall < r.top1 - opt.rec_worst_gap)
                weak.push_back(c);
        }
        if (!weak.empty()) {
            Recommendation rec;
            rec.rule = "worst_classes";
            std::vector<std::string> items;
            for (int c : weak) {
                const auto& s = r.per_class[c];
                std::string item = format("'%s' %s of %lld", name_of(r, c).c_str(), pct(s.recall).c_str(), s.support);
                if (s.most_confused_with >= 0)
                    item += format(" (most often taken for '%s', %lld)", name_of(r, s.most_confused_with).c_str(),
                                   s.most_confused_count);
                items.push_back(item);
                rec.figures.push_back({"accuracy_class_" + std::to_string(c), s.recall});
            }
            rec.text = format("Weakest classes (with at least %lld images), more than %.0f points below the overall "
                              "top-1 of %s: ",
                              min_n, 100 * opt.rec_worst_gap, pct(r.top1).c_str()) +
                       join(items, "; ") +
                       ". Target them first: more or cleaner training images, class-balanced sampling or a higher "
                       "loss weight; their galleries in worst_predictions/ show what goes wrong.";
            rec.figures.push_back({"top1", r.top1});
            rec.figures.push_back({"threshold_gap", opt.rec_worst_gap});
            r.recommendations.push_back(std::move(rec));
        } else if (!r.worst_classes.empty() && r.per_class[r.worst_classes.front()].support < min_n) {
            skipped.push_back(format("class accuracies not quoted below %lld images per class", min_n));
        } else if (!r.worst_classes.empty()) {
            const int c = r.worst_classes.front();
            quiet.push_back(format("weakest class '%s' at %s vs top-1 %s (gap threshold %.0f points)",
                                   name_of(r, c).c_str(), pct(r.per_class[c].recall).c_str(), pct(r.top1).c_str(),
                                   100 * opt.rec_worst_gap));
        }
    }

    // 5. Likely label errors.
    const size_t n_issues = r.label_issues.issues.size();
    const double issue_share = double(n_issues) / double(r.n);
    if (static_cast<long long>(r.n) < min_n) {
        skipped.push_back(format("label errors not quoted: %zu images, fewer than the minimum of %lld", r.n, min_n));
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
        r.recommendations.push_back(std::move(rec));
    } else {
        quiet.push_back(format("%zu likely label errors (%s, threshold %s)", n_issues, pct(issue_share).c_str(),
                               pct(opt.rec_label_issue_share).c_str()));
    }

    // 6. Errors concentrated inside superclasses.
    if (r.has_superclasses && r.superclass.errors > 0 && r.superclass.errors < min_n) {
        skipped.push_back(format("superclass share not quoted: %lld errors, fewer than the minimum of %lld",
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
            r.recommendations.push_back(std::move(rec));
        } else {
            quiet.push_back(format("within-superclass share of errors %s (chance %s)", pct(s.within_share).c_str(),
                                   pct(s.chance_within_share).c_str()));
        }
    }

    if (r.recommendations.empty()) {
        Recommendation rec;
        rec.rule = "none";
        rec.text = quiet.empty() ? "No rule triggered." : "No rule triggered. Checked: " + join(quiet, "; ") + ".";
        r.recommendations.push_back(std::move(rec));
    }
    if (!skipped.empty()) {
        Recommendation rec;
        rec.rule = "too_few_images";
        rec.text = format("Not quoted, because fewer than %lld images stand behind the figure (the minimum for any "
                          "figure a recommendation quotes): ",
                          min_n) +
                   join(skipped, "; ") + ".";
        rec.figures = {{"min_n", double(min_n)}};
        r.recommendations.push_back(std::move(rec));
    }
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

    Report r;
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

    const int k = in.num_classes;
    const size_t n = in.n;

    // ---- predictions (argmax of the logits; confidence = softmax probability of that class)
    const std::vector<int> preds = metrics::argmax_rows(in.logits.data(), n, k);
    std::vector<float> conf(n);
    std::vector<std::uint8_t> ok(n);
    r.rows.resize(n);
    double conf_sum = 0, conf_ok = 0, conf_bad = 0;
    for (size_t i = 0; i < n; ++i) {
        RowRef& row = r.rows[i];
        row.row = i;
        row.index = in.indices[i];
        row.label = in.labels[i];
        row.pred = preds[i];
        row.confidence = in.probs[i * k + preds[i]];
        row.p_true = in.probs[i * k + in.labels[i]];
        conf[i] = row.confidence;
        ok[i] = row.pred == row.label;
        conf_sum += conf[i];
        (ok[i] ? conf_ok : conf_bad) += conf[i];
        r.correct += ok[i];
    }
    r.errors = static_cast<long long>(n) - r.correct;
    r.top1 = double(r.correct) / double(n);

    // ---- maps without positive evidence (per image and slot; they are marked, never averaged)
    {
        const size_t hw = static_cast<size_t>(in.fh) * in.fw;
        DegenerateStats& d = r.degenerate;
        d.warn_share = opt.degenerate_warn_share;
        d.by_pred_class.assign(k, {});
        d.by_true_class.assign(k, {});
        for (size_t i = 0; i < n; ++i) {
            RowRef& row = r.rows[i];
            row.pred_cam_degenerate = metrics::degenerate_cam(in.cam_pred.data() + i * hw, hw);
            row.true_cam_degenerate =
                ok[i] ? row.pred_cam_degenerate : metrics::degenerate_cam(in.cam_true.data() + i * hw, hw);
            (ok[i] ? d.pred_correct : d.pred_wrong).add(row.pred_cam_degenerate);
            if (!ok[i]) d.true_wrong.add(row.true_cam_degenerate);
            d.by_pred_class[row.pred].add(row.pred_cam_degenerate);
            d.by_true_class[row.label].add(row.true_cam_degenerate);
        }
    }
    r.rec_min_n = opt.rec_min_n;
    r.top5_k = std::min(5, k);
    r.top5 = metrics::topk_accuracy(in.logits.data(), in.labels.data(), n, k, r.top5_k);
    r.mean_confidence = conf_sum / double(n);
    r.mean_confidence_correct = mean_or_nan(conf_ok, r.correct);
    r.mean_confidence_wrong = mean_or_nan(conf_bad, r.errors);

    // ---- confusion matrix, per class, pairs, superclasses
    r.confusion = metrics::confusion_matrix(in.labels.data(), preds.data(), n, k);
    r.per_class = metrics::per_class_stats(r.confusion, in.labels.data(), conf.data(), n);
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
    for (int c = 0; c < k; ++c)
        if (r.per_class[c].support > 0) r.worst_classes.push_back(c);
    std::stable_sort(r.worst_classes.begin(), r.worst_classes.end(), [&](int a, int b) {
        const auto &x = r.per_class[a], &y = r.per_class[b];
        if (x.recall != y.recall) return x.recall < y.recall;
        return x.support > y.support;
    });
    r.directed = metrics::directed_pairs(r.confusion);
    r.symmetric = metrics::symmetric_pairs(r.confusion);

    // ---- confidence extremes and calibration
    r.high_conf_threshold = opt.high_conf;
    r.low_conf_threshold = opt.low_conf;
    for (size_t i : metrics::high_confidence_errors(in.labels.data(), preds.data(), conf.data(), n, opt.high_conf))
        r.high_conf_errors.push_back(r.rows[i]);
    for (size_t i : metrics::low_confidence_correct(in.labels.data(), preds.data(), conf.data(), n, opt.low_conf))
        r.low_conf_correct.push_back(r.rows[i]);
    r.calibration = metrics::fit_temperature(in.logits.data(), in.labels.data(), n, k, opt.ece_bins);

    // ---- CAM evidence, at the model input size when known, as the overlays show it (cam_to_input_size)
    const int mh = in.input_h > 0 ? in.input_h : in.fh, mw = in.input_w > 0 ? in.input_w : in.fw;
    const bool upsample = mh != in.fh || mw != in.fw;
    const size_t fhw = static_cast<size_t>(in.fh) * in.fw;
    std::vector<double> iou(n, kNaN);
    {
        std::vector<double> c_ok(k, 0), c_bad(k, 0);
        std::vector<long long> n_ok(k, 0), n_bad(k, 0);
        Progress bar("CAM focus", n, opt.progress);
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
            r.focus_per_class[c] = {mean_or_nan(c_ok[c], n_ok[c]), mean_or_nan(c_bad[c], n_bad[c]), n_ok[c], n_bad[c]};
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
    }

    // ---- examples by class and by pair (one bucketing pass)
    std::vector<std::vector<size_t>> by_label(k);
    for (size_t i = 0; i < n; ++i) by_label[in.labels[i]].push_back(i);
    auto by_conf_desc = [&](size_t a, size_t b) { return conf[a] > conf[b] || (conf[a] == conf[b] && a < b); };

    const int n_pairs = std::max({opt.top_pairs, opt.confused_pair_figures, 0});
    std::set<std::string> used_files;
    for (int p = 0; p < std::min<int>(n_pairs, int(r.directed.size())); ++p) {
        const auto& dp = r.directed[p];
        PairFocus pf{dp.a, dp.b, 0, 0, dp.count};
        double s = 0;
        std::vector<size_t> ex;
        for (size_t i : by_label[dp.a]) {
            if (preds[i] != dp.b) continue;
            ex.push_back(i);
            if (std::isfinite(iou[i])) {
                s += iou[i];
                ++pf.n;
            }
        }
        pf.mean_iou = mean_or_nan(s, pf.n);
        r.pair_focus.push_back(pf);
        if (p < opt.confused_pair_figures) {
            PairFigure fig;
            fig.a = dp.a;
            fig.b = dp.b;
            std::string file = "confused_pair_" + sanitize_filename(in.class_names[dp.a]) + "_" +
                               sanitize_filename(in.class_names[dp.b]) + ".png";
            if (used_files.count(file))  // names that sanitise alike: disambiguate with the indices
                file = format("confused_pair_%d_%d.png", dp.a, dp.b);
            used_files.insert(file);
            fig.file = file;
            std::sort(ex.begin(), ex.end(), by_conf_desc);
            for (size_t j = 0; j < ex.size() && int(j) < opt.pair_examples; ++j) fig.examples.push_back(r.rows[ex[j]]);
            r.pair_figures.push_back(std::move(fig));
        }
    }

    // ---- many classes: which galleries are drawn, the readable sub-matrix, sparse JSON
    std::vector<char> drawn(k, 1);
    if (opt.max_galleries > 0 && k > opt.max_galleries) {
        std::fill(drawn.begin(), drawn.end(), 0);
        int taken = 0;
        for (int c : r.worst_classes)  // lowest accuracy first
            if (taken < opt.max_galleries) drawn[c] = 1, ++taken;
        for (const auto& f : r.pair_figures) drawn[f.a] = drawn[f.b] = 1;
    }
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

    r.galleries.resize(k);
    for (int c = 0; c < k; ++c) {
        ClassGallery& g = r.galleries[c];
        g.cls = c;
        if (drawn[c]) {
            g.file = "worst_predictions/" + class_file_stem(c, in.class_names[c]) + ".png";
            ++r.galleries_drawn;
        }
        std::vector<size_t> wrong, right;
        for (size_t i : by_label[c]) (ok[i] ? right : wrong).push_back(i);
        std::sort(wrong.begin(), wrong.end(), by_conf_desc);
        std::sort(right.begin(), right.end(), by_conf_desc);
        for (size_t j = 0; j < wrong.size() && int(j) < opt.worst_k; ++j) g.worst.push_back(r.rows[wrong[j]]);
        for (size_t j = 0; j < right.size() && int(j) < opt.best_k; ++j) g.best.push_back(r.rows[right[j]]);
    }

    // ---- likely label errors
    r.label_issues = metrics::find_label_issues(in.probs.data(), in.labels.data(), n, k);
    std::vector<std::uint8_t> flagged(n, 0);
    for (const auto& is : r.label_issues.issues) {
        r.label_issue_rows.push_back(r.rows[is.row]);
        flagged[is.row] = 1;
    }
    for (const RowRef& e : r.high_conf_errors) r.high_conf_errors_flagged += flagged[e.row];

    recommend(r, opt);
    r.analysis_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

void attach_faithfulness(Report& r, faith::Summary s, const AnalysisOptions& opt) {
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
            if (auto updated = degenerate_recommendation(r, opt)) rec = std::move(*updated);
        }
}

}  // namespace camscope
