// The recommendation rules (report/recommend.hpp), one at a time, on hand-made Reports: each test
// fills only the fields the rule reads and checks what it concluded, its id, and the numbers it
// quotes against figures worked out here by hand. Rules with an interval (issue 25) fire on the
// interval, not on a minimum count: the Reports here carry the intervals build_report would attach
// (Wilson from the counts; bootstrap ones set by hand).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "camscope/report/recommend.hpp"

namespace camscope {
namespace {

using Kind = rules::Outcome::Kind;

/// The figure `name` of a recommendation (NaN when absent, which fails any EXPECT_DOUBLE_EQ).
double figure(const Recommendation& r, const std::string& name) {
    for (const auto& [n, v] : r.figures)
        if (n == name) return v;
    return std::nan("");
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// K classes named c0.., per-class stats from (support, correct, predicted) with their Wilson
/// intervals; n = sum of supports.
Report classes(const std::vector<std::vector<long long>>& stats) {
    Report r;
    r.num_classes = static_cast<int>(stats.size());
    for (int c = 0; c < r.num_classes; ++c) {
        r.class_names.push_back("c" + std::to_string(c));
        metrics::ClassStats s;
        s.cls = c;
        s.support = stats[c][0];
        s.correct = stats[c][1];
        s.predicted = stats[c][2];
        s.recall = s.support > 0 ? double(s.correct) / double(s.support) : 0;
        s.recall_ci = intervals::wilson(s.correct, s.support);
        s.precision_ci = intervals::wilson(s.correct, s.predicted);
        r.per_class.push_back(s);
        r.n += static_cast<size_t>(s.support);
    }
    return r;
}

TEST(Recommend, PredictionCollapseFiresOnOneClassTakingTheOutput) {
    // 100 images, 4 classes of 25; class 2 predicted 80 times: 80% of the predictions, 25% of the labels.
    Report r = classes({{25, 5, 10}, {25, 2, 5}, {25, 25, 80}, {25, 5, 5}});
    AnalysisParams opt;
    const auto o = rules::prediction_collapse(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "prediction_collapse");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "class"), 2);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "predicted_share"), 0.8);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "label_share"), 0.25);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "threshold"), 0.5);
    EXPECT_TRUE(contains(o.recommendation.text, "'c2' is the prediction for 80.0% of the images (80 of 100)"))
        << o.recommendation.text;

    // 40 of 100 predictions (40%) stays below the 50% threshold: checked, with the figure.
    r = classes({{25, 20, 20}, {25, 20, 20}, {25, 25, 40}, {25, 20, 20}});
    const auto quiet = rules::prediction_collapse(r, opt);
    ASSERT_EQ(quiet.kind, Kind::checked);
    EXPECT_EQ(quiet.note, "most predicted class 'c2' at 40.0% of the predictions (threshold 50.0%)");

    // A class that is 60% of the labels and predicted 70% of the time is not a collapse (< 3x).
    r = classes({{60, 60, 70}, {40, 30, 30}});
    EXPECT_EQ(rules::prediction_collapse(r, opt).kind, Kind::checked);

    // Fewer images than rec_min_n: nothing is checked.
    opt.rec_min_n = 101;
    EXPECT_EQ(rules::prediction_collapse(classes({{25, 5, 10}, {25, 2, 5}, {25, 25, 80}, {25, 5, 5}}), opt).kind,
              Kind::not_applicable);
}

TEST(Recommend, CalibrationQuotesEceAndTheFittedTemperature) {
    Report r;
    r.n = 200;
    auto& cal = r.calibration;
    cal.before.ece = 0.12;
    cal.before.mce = 0.3;
    cal.before.num_bins = 15;
    cal.before.overconfidence = 0.1;  // mean confidence 0.9 vs accuracy 0.8
    cal.before.mean_confidence = 0.9;
    cal.before.accuracy = 0.8;
    cal.temperature = 1.5;
    cal.nll_before = 0.7;
    cal.nll_after = 0.6;
    cal.after.ece = 0.02;
    cal.before.ece_ci = {0.09, 0.15};
    AnalysisParams opt;
    auto o = rules::calibration(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "calibration");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "ece"), 0.12);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "temperature"), 1.5);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "temperature_at_bound"), 0);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "ece_after_temperature"), 0.02);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "threshold"), 0.05);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "ece_ci_lo"), 0.09);
    EXPECT_TRUE(contains(o.recommendation.text, "ECE is 12.0% (95% CI 9.0\u2013" "15.0%, MCE 30.0%"))
        << o.recommendation.text;
    EXPECT_TRUE(contains(o.recommendation.text, "over-confident by 10.0 points")) << o.recommendation.text;
    EXPECT_TRUE(contains(o.recommendation.text, "Temperature scaling with T = 1.500 (NLL 0.7000 -> 0.6000)"));
    EXPECT_TRUE(contains(o.recommendation.text, "label smoothing"));

    // A fit stopped at the largest temperature searched is not offered as the fix.
    cal.bound = 1;
    o = rules::calibration(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "temperature_at_bound"), 1);
    EXPECT_TRUE(contains(o.recommendation.text, "does not settle it")) << o.recommendation.text;
    EXPECT_FALSE(contains(o.recommendation.text, "would bring ECE"));

    // Above the threshold, but the interval reaches below it: checked, not fired.
    cal.before.ece_ci = {0.04, 0.2};
    o = rules::calibration(r, opt);
    ASSERT_EQ(o.kind, Kind::checked);
    EXPECT_EQ(o.note, "ECE 12.0% (95% CI 4.0\u2013" "20.0%; threshold 5.0%)");
    // Below the threshold: checked; below rec_min_n images: not quoted (a bootstrap over a handful
    // of images is too narrow to trust).
    cal.before.ece = 0.04;
    cal.before.ece_ci = {0.02, 0.06};
    o = rules::calibration(r, opt);
    ASSERT_EQ(o.kind, Kind::checked);
    EXPECT_EQ(o.note, "ECE 4.0% (95% CI 2.0\u2013" "6.0%; threshold 5.0%)");
    r.n = 10;
    o = rules::calibration(r, opt);
    ASSERT_EQ(o.kind, Kind::too_few);
    EXPECT_EQ(o.note, "calibration not quoted: 10 images, fewer than the minimum of 30");
}

TEST(Recommend, ConfusedPairsListThePairsAboveTheRateWithTheirCamIoU) {
    // Class 0: 50 images, 15 taken for class 1 (30%, Wilson 19.1-43.8%); class 1: 50 images, 3
    // taken for class 0 (6%).
    Report r = classes({{50, 35, 38}, {50, 47, 62}});
    r.confusion.k = 2;
    r.confusion.counts = {35, 15, 3, 47};
    r.directed = {{0, 1, 15, 0.3, intervals::wilson(15, 50)}, {1, 0, 3, 0.06, intervals::wilson(3, 50)}};
    PairFocus pf;
    pf.a = 0, pf.b = 1, pf.mean_iou = 0.25, pf.n = 12, pf.errors = 15, pf.mean_iou_ci = {0.2, 0.31};
    r.pair_focus = {pf};
    AnalysisParams opt;
    opt.rec_min_n = 10;
    const auto o = rules::confused_pairs(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "confused_pairs");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "rate_0_1"), 0.3);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "rate_ci_lo_0_1"), intervals::wilson(15, 50).lo);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "cam_iou_0_1"), 0.25);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "threshold"), 0.1);
    EXPECT_TRUE(std::isnan(figure(o.recommendation, "rate_1_0")));  // 6% is below the 10% threshold
    EXPECT_TRUE(contains(o.recommendation.text, "'c0' -> 'c1' 15 of 50 (30.0%, 95% CI 19.1\u2013" "43.8%; reverse 3), "
                                                "CAM IoU 0.25 (95% CI 0.20\u2013" "0.31) over 12 of 15 errors"))
        << o.recommendation.text;

    // The IoU over 12 errors is left out at rec_min_n 30 (a bootstrap interval keeps the floor);
    // the rate, with its Wilson interval, is quoted whatever the minimum.
    opt.rec_min_n = 30;
    const auto no_iou = rules::confused_pairs(r, opt);
    ASSERT_EQ(no_iou.kind, Kind::fired);
    EXPECT_TRUE(std::isnan(figure(no_iou.recommendation, "cam_iou_0_1")));
    opt.rec_min_n = 60;
    EXPECT_EQ(rules::confused_pairs(r, opt).kind, Kind::fired);

    // 2 of 8 (25%) is above the threshold but its interval (7.1-59.1%) reaches below it: checked.
    r = classes({{8, 6, 6}, {8, 8, 10}});
    r.confusion.k = 2;
    r.confusion.counts = {6, 2, 0, 8};
    r.directed = {{0, 1, 2, 0.25, intervals::wilson(2, 8)}};
    const auto unclear = rules::confused_pairs(r, opt);
    ASSERT_EQ(unclear.kind, Kind::checked);
    EXPECT_EQ(unclear.note, "1 confused pair above the 10.0% rate threshold, none with its 95% interval above it "
                            "(most frequent 'c0' -> 'c1' 25.0% of 8, 95% CI 7.1\u2013" "59.1%)");

    // No pair above the rate: checked, naming the largest.
    r.directed = {{0, 1, 4, 0.08, intervals::wilson(4, 50)}};
    opt.rec_min_n = 30;
    const auto quiet = rules::confused_pairs(r, opt);
    ASSERT_EQ(quiet.kind, Kind::checked);
    EXPECT_EQ(quiet.note, "largest confusion rate 8.0% ('c0' -> 'c1', 95% CI 3.2\u2013" "18.8%, threshold 10.0%)");
}

TEST(Recommend, BackgroundFocusComparesTheCentreShareOfErrorsAndCorrectPredictions) {
    Report r = classes({{100, 60, 100}, {100, 60, 100}});
    r.focus = {0.40, 0.28, 120, 80, 120, 80, {0.37, 0.43}, {0.25, 0.31}, {0.08, 0.16}};  // 12 points lower on errors
    r.focus_per_class = {{0.45, 0.25, 60, 40, 60, 40, {}, {}, {0.15, 0.25}},
                         {0.35, 0.31, 60, 40, 60, 40, {}, {}, {-0.02, 0.10}}};  // gaps 20 and 4 points
    AnalysisParams opt;
    const auto o = rules::background_focus(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "background_focus");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "centre_share_wrong"), 0.28);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "centre_share_wrong_n"), 80);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "centre_share_correct"), 0.40);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "centre_share_correct_n"), 120);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "threshold_gap"), 0.05);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "gap_ci_lo"), 0.08);
    EXPECT_TRUE(contains(o.recommendation.text, "a gap of 12.0 points (95% CI 8.0\u2013" "16.0)"))
        << o.recommendation.text;
    EXPECT_TRUE(contains(o.recommendation.text, "28.0% (95% CI 25.0\u2013" "31.0%) of its mass"))
        << o.recommendation.text;
    // Only class 0's gap (20 points) exceeds the 5-point threshold.
    EXPECT_TRUE(contains(o.recommendation.text, "Largest gaps: 'c0' (25.0% over 40 wrong vs 45.0% over 60 correct)."))
        << o.recommendation.text;

    // A 12-point gap whose interval reaches below the 5-point threshold: checked.
    r.focus.gap_ci = {0.03, 0.2};
    const auto unclear = rules::background_focus(r, opt);
    ASSERT_EQ(unclear.kind, Kind::checked);
    EXPECT_TRUE(contains(unclear.note, "gap 12.0 points, 95% CI 3.0\u2013" "20.0")) << unclear.note;

    // Fewer than rec_min_n maps with evidence on the errors' side: not quoted.
    r.focus.n_wrong = 20;
    const auto thin = rules::background_focus(r, opt);
    ASSERT_EQ(thin.kind, Kind::too_few);
    EXPECT_TRUE(contains(thin.note, "20 of 80 wrong predictions")) << thin.note;
}

TEST(Recommend, WorstClassesAreThoseFarBelowTheOverallAccuracy) {
    // top-1 0.8; class 1 at 0.5 (Wilson 35.2-64.8%: entirely more than 15 points below), class 2 at
    // 0.7 (10 points: within the 15-point gap).
    Report r = classes({{100, 95, 100}, {40, 20, 40}, {60, 42, 60}});
    r.top1 = 0.8;
    r.worst_classes = {1, 2, 0};
    r.per_class[1].most_confused_with = 0;
    r.per_class[1].most_confused_count = 12;
    AnalysisParams opt;
    const auto o = rules::worst_classes(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "worst_classes");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "accuracy_class_1"), 0.5);
    EXPECT_TRUE(std::isnan(figure(o.recommendation, "accuracy_class_2")));
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "top1"), 0.8);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "accuracy_ci_hi_class_1"), intervals::wilson(20, 40).hi);
    EXPECT_TRUE(contains(o.recommendation.text,
                         "'c1' 50.0% of 40 (95% CI 35.2\u2013" "64.8%) (most often taken for 'c0', 12)"))
        << o.recommendation.text;

    // The same accuracy over 10 images: its interval (23.7-76.3%) reaches above top-1 − 15 points,
    // so it is checked, not quoted (this replaces the bare minimum of 30 images per class).
    r = classes({{100, 95, 100}, {10, 5, 10}, {60, 42, 60}});
    r.top1 = 0.8;
    r.worst_classes = {1, 2, 0};
    const auto thin = rules::worst_classes(r, opt);
    ASSERT_EQ(thin.kind, Kind::checked);
    EXPECT_EQ(thin.note, "weakest class 'c1' at 50.0% of 10 (95% CI 23.7\u2013" "76.3%) vs top-1 80.0% (gap threshold "
                         "15 points)");
}

TEST(Recommend, LabelErrorsQuoteTheShareAndTheMostSuspiciousImages) {
    Report r = classes({{50, 45, 50}, {50, 45, 50}});
    metrics::LabelIssue is;
    is.row = 7, is.given = 0, is.suggested = 1, is.p_given = 0.1f, is.p_suggested = 0.85f;
    r.label_issues.issues = {is, is, is};  // 3 of 100 images: 3%
    RowRef row;
    row.index = 1234;
    r.label_issue_rows = {row, row, row};
    r.high_conf_errors = {row, row};
    r.high_conf_errors_flagged = 1;
    AnalysisParams opt;
    const auto o = rules::label_errors(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "label_errors");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "count"), 3);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "share"), 0.03);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "high_conf_errors_flagged"), 1);
    EXPECT_TRUE(contains(o.recommendation.text, "1 of the 2 high-confidence errors")) << o.recommendation.text;
    EXPECT_TRUE(contains(o.recommendation.text, "#1234 labelled 'c0' (p 0.10), looks like 'c1' (p 0.85)"));

    // 1 of 200 (0.5%) is below the 1% threshold.
    r = classes({{100, 90, 100}, {100, 90, 100}});
    r.label_issues.issues = {is};
    r.label_issue_rows = {row};
    const auto quiet = rules::label_errors(r, opt);
    ASSERT_EQ(quiet.kind, Kind::checked);
    EXPECT_EQ(quiet.note, "1 likely label errors (0.5%, threshold 1.0%)");
}

TEST(Recommend, SuperclassFiresWhenErrorsStayInsideTheCoarseCategory) {
    Report r;
    r.has_superclasses = true;
    r.superclass.errors = 100;
    r.superclass.within = 60;
    r.superclass.within_share = 0.6;
    r.superclass.chance_within_share = 0.2;
    AnalysisParams opt;
    const auto o = rules::superclass(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "superclass");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "within_share"), 0.6);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "chance_within_share"), 0.2);
    EXPECT_TRUE(contains(o.recommendation.text, "60.0% of the errors (60 of 100)")) << o.recommendation.text;

    // Twice chance is required: 0.35 against a chance of 0.2 is only checked.
    r.superclass.within_share = 0.35;
    EXPECT_EQ(rules::superclass(r, opt).kind, Kind::checked);
    // No superclasses: the rule does not apply.
    r.has_superclasses = false;
    EXPECT_EQ(rules::superclass(r, opt).kind, Kind::not_applicable);
}

TEST(Recommend, DegenerateCamsNeedTheWarningAndEnoughMaps) {
    Report r = classes({{50, 40, 50}, {50, 40, 50}});
    r.method = "gradcam";
    r.layer = "features.3";
    r.degenerate.by_pred_class.assign(2, {});
    for (int i = 0; i < 80; ++i) r.degenerate.pred_correct.add(i < 40);  // 40 of 80 blank
    for (int i = 0; i < 20; ++i) r.degenerate.pred_wrong.add(i < 10);    // 10 of 20 blank
    AnalysisParams opt;
    const auto o = rules::degenerate_cams(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "degenerate_cams");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "degenerate_share"), 0.5);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "degenerate"), 50);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "maps"), 100);
    EXPECT_TRUE(contains(o.recommendation.text, "Correct predictions: 40 of 80, 50.0%; errors: 10 of 20, 50.0%."))
        << o.recommendation.text;
    EXPECT_TRUE(contains(o.recommendation.text, "No alternative was measured"));

    EXPECT_TRUE(contains(o.recommendation.text, "Blank CAMs: 50.0% (95% CI 40.4\u2013" "59.6%)"))
        << o.recommendation.text;

    // 3 of 10 maps blank (30%) passes the 20% warning, but the share's interval (10.8-60.3%)
    // reaches below it: checked, not fired (this replaces the minimum of 30 maps); without the
    // warning nothing applies.
    r.degenerate = {};
    r.degenerate.by_pred_class.assign(2, {});
    for (int i = 0; i < 10; ++i) r.degenerate.pred_correct.add(i < 3);
    const auto unclear = rules::degenerate_cams(r, opt);
    ASSERT_EQ(unclear.kind, Kind::checked);
    EXPECT_TRUE(contains(unclear.note, "blank-CAM share 30.0% of 10 maps (95% CI 10.8\u2013" "60.3%)")) << unclear.note;
    r.degenerate = {};
    EXPECT_EQ(rules::degenerate_cams(r, AnalysisParams{}).kind, Kind::not_applicable);
}

TEST(Recommend, RecommendRunsEveryRuleThenTheAllClearAndTheTooFewNotes) {
    // Nothing fires and the calibration figure is over too few images: "none" lists what was
    // checked, "too_few_images" what was not quoted.
    Report r = classes({{10, 9, 10}, {10, 9, 10}});  // 20 images, below rec_min_n = 30
    r.top1 = 0.9;
    r.worst_classes = {0, 1};
    r.focus = {0.3, 0.3, 18, 2, 18, 2, {}, {}, {}};
    const auto recs = rules::recommend(r, AnalysisParams{});
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].rule, "none");
    EXPECT_EQ(recs[0].text, "No rule triggered. Checked: no confusions at all; weakest class 'c0' at 90.0% of 10 (95% "
                            "CI 59.6\u2013" "98.2%) vs top-1 90.0% (gap threshold 15 points).");
    EXPECT_EQ(recs[1].rule, "too_few_images");
    EXPECT_DOUBLE_EQ(figure(recs[1], "min_n"), 30);
    EXPECT_TRUE(contains(recs[1].text, "calibration not quoted: 20 images"));
    EXPECT_TRUE(contains(recs[1].text, "label errors not quoted: 20 images"));
    EXPECT_FALSE(contains(recs[1].text, "class accuracies"));  // they have intervals: checked above
}

}  // namespace
}  // namespace camscope
