#pragma once
// The recommendations of the analysis report: one function per rule, each reading only the Report
// fields it names and the thresholds of AnalysisParams, so that a test can call one rule on a
// hand-made Report. recommend() runs them in a fixed order (a collapsed output first: every other
// figure then describes a model that hardly looks at its input); build_report calls it.
//
// Every rule fires on a measured figure crossing a threshold (AnalysisParams::rec_*) and quotes
// both, with the figure's 95 % interval (report/intervals.hpp) where it has one: such a rule fires
// only where the interval clears the threshold (recommend.cpp lists which). A rule that does not
// fire says what it checked (the all-clear text lists these); a rule whose figure has no interval,
// or a bootstrap one, and stands on fewer than rec_min_n images quotes nothing and says so instead.
#include <optional>
#include <string>
#include <vector>

#include "camscope/report/options.hpp"
#include "camscope/report/report.hpp"

namespace camscope::rules {

/// What one rule concluded.
struct Outcome {
    enum class Kind {
        not_applicable,  // nothing to check (e.g. no superclasses, no blank-CAM warning)
        fired,           // `recommendation` holds it
        checked,         // did not fire; `note` says what was measured against which threshold
        too_few,         // not quoted; `note` says which figure and over how many images
    };
    Kind kind = Kind::not_applicable;
    Recommendation recommendation;  // kind == fired
    std::string note;               // kind == checked or too_few
};

// The rules, in the order recommend() runs them. Each names the Report fields it reads.

/// "prediction_collapse": one class predicted for >= rec_collapse of the images and >= 3x its
/// share of the labels. Reads n, per_class, class_names.
Outcome prediction_collapse(const Report& r, const AnalysisParams& opt);
/// "degenerate_cams": more than degenerate.warn_share of the predicted-class maps are blank (no
/// positive evidence); quotes the counts, the most affected classes and the measured alternatives
/// (better_method/better_layer, cam_candidates, faithfulness: set by attach_faithfulness). Reads
/// degenerate, method, layer, num_classes, class_names and those.
Outcome degenerate_cams(const Report& r, const AnalysisParams& opt);
/// "calibration": ECE (calibration.before) above rec_ece with its whole bootstrap interval (ece_ci); offers the fitted temperature unless it
/// stopped at a bound of its range. Reads n, calibration.
Outcome calibration(const Report& r, const AnalysisParams& opt);
/// "confused_pairs": directed pairs whose rate's Wilson interval (rate_ci) lies above rec_pair_rate (at most 5 listed),
/// with the pair's CAM IoU where >= rec_min_n errors have two maps with evidence. Reads directed,
/// per_class, confusion, pair_focus, class_names.
Outcome confused_pairs(const Report& r, const AnalysisParams& opt);
/// "background_focus": on errors the predicted-class CAM's centre share is more than
/// rec_focus_gap below the correct predictions', with the gap's whole bootstrap interval (gap_ci). Reads focus, focus_per_class, num_classes, class_names.
Outcome background_focus(const Report& r, const AnalysisParams& opt);
/// "worst_classes": classes whose accuracy's Wilson interval (recall_ci) lies entirely more than
/// rec_worst_gap below the overall top-1 (at most rec_worst_classes, in worst_classes order). Reads worst_classes, per_class, top1, class_names.
Outcome worst_classes(const Report& r, const AnalysisParams& opt);
/// "label_errors": likely label errors above rec_label_issue_share of the set. Reads n,
/// label_issues, label_issue_rows, high_conf_errors, high_conf_errors_flagged, class_names.
Outcome label_errors(const Report& r, const AnalysisParams& opt);
/// "superclass": at least 30% of the errors, and twice chance, stay within the true class's
/// superclass. Reads has_superclasses, superclass.
Outcome superclass(const Report& r, const AnalysisParams& opt);
/// "flip_test": of the errors the flip test tried (Report::flips, attach_flips), one kind
/// (distractor evidence, missing true evidence, unstable) is at least rec_flip_share; quotes the
/// counts, k and the imputation, and the pairs with most of that kind; what to change in training.
/// Needs rec_min_n tested errors. Reads flips, class_names.
Outcome flip_test(const Report& r, const AnalysisParams& opt);

/// The "degenerate_cams" recommendation whenever degenerate.warn(), whatever the number of maps
/// (the rule adds the gate: the share's Wilson interval above warn_share): attach_faithfulness refreshes the fired one with it once the
/// alternatives are measured. Empty when the warning does not apply.
std::optional<Recommendation> degenerate_cams_recommendation(const Report& r, const AnalysisParams& opt);

/// Every rule in order: the fired ones' recommendations, then "none" (listing what was checked)
/// when none fired, then "too_few_images" (listing what was not quoted) when any figure was too thin.
std::vector<Recommendation> recommend(const Report& r, const AnalysisParams& opt);

}  // namespace camscope::rules
