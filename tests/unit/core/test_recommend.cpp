// The recommendation rules (report/recommend.hpp), one at a time, on hand-made Reports: each test
// fills only the fields the rule reads and checks what it concluded, its id, and the numbers it
// quotes against figures worked out here by hand.
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

/// K classes named c0.., per-class stats from (support, correct, predicted); n = sum of supports.
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
    AnalysisParams opt;
    auto o = rules::calibration(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "calibration");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "ece"), 0.12);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "temperature"), 1.5);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "temperature_at_bound"), 0);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "ece_after_temperature"), 0.02);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "threshold"), 0.05);
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

    // Below the threshold: checked; below rec_min_n images: not quoted.
    cal.before.ece = 0.04;
    o = rules::calibration(r, opt);
    ASSERT_EQ(o.kind, Kind::checked);
    EXPECT_EQ(o.note, "ECE 4.0% (threshold 5.0%)");
    r.n = 10;
    o = rules::calibration(r, opt);
    ASSERT_EQ(o.kind, Kind::too_few);
    EXPECT_EQ(o.note, "calibration not quoted: 10 images, fewer than the minimum of 30");
}

TEST(Recommend, ConfusedPairsListThePairsAboveTheRateWithTheirCamIoU) {
    // Class 0: 50 images, 15 taken for class 1 (30%); class 1: 50 images, 3 taken for class 0 (6%).
    Report r = classes({{50, 35, 38}, {50, 47, 62}});
    r.confusion.k = 2;
    r.confusion.counts = {35, 15, 3, 47};
    r.directed = {{0, 1, 15, 0.3}, {1, 0, 3, 0.06}};
    PairFocus pf;
    pf.a = 0, pf.b = 1, pf.mean_iou = 0.25, pf.n = 12, pf.errors = 15;
    r.pair_focus = {pf};
    AnalysisParams opt;
    opt.rec_min_n = 10;
    const auto o = rules::confused_pairs(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "confused_pairs");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "rate_0_1"), 0.3);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "cam_iou_0_1"), 0.25);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "threshold"), 0.1);
    EXPECT_TRUE(std::isnan(figure(o.recommendation, "rate_1_0")));  // 6% is below the 10% threshold
    EXPECT_TRUE(contains(o.recommendation.text,
                         "'c0' -> 'c1' 15 of 50 (30.0%; reverse 3), CAM IoU 0.25 over 12 of 15 errors"))
        << o.recommendation.text;

    // The IoU over 12 errors is left out at rec_min_n 30, and so is the rate over 50 images at 60.
    opt.rec_min_n = 30;
    const auto no_iou = rules::confused_pairs(r, opt);
    ASSERT_EQ(no_iou.kind, Kind::fired);
    EXPECT_TRUE(std::isnan(figure(no_iou.recommendation, "cam_iou_0_1")));
    opt.rec_min_n = 60;
    const auto thin = rules::confused_pairs(r, opt);
    ASSERT_EQ(thin.kind, Kind::too_few);
    EXPECT_EQ(thin.note, "1 confused pair above the 10.0% rate threshold not quoted: fewer than 60 images of the "
                         "true class");

    // No pair above the rate: checked, naming the largest.
    r.directed = {{0, 1, 4, 0.08}};
    opt.rec_min_n = 30;
    const auto quiet = rules::confused_pairs(r, opt);
    ASSERT_EQ(quiet.kind, Kind::checked);
    EXPECT_EQ(quiet.note, "largest confusion rate 8.0% ('c0' -> 'c1', threshold 10.0%)");
}

TEST(Recommend, BackgroundFocusComparesTheCentreShareOfErrorsAndCorrectPredictions) {
    Report r = classes({{100, 60, 100}, {100, 60, 100}});
    r.focus = {0.40, 0.28, 120, 80, 120, 80};  // 12 points lower on errors
    r.focus_per_class = {{0.45, 0.25, 60, 40, 60, 40}, {0.35, 0.31, 60, 40, 60, 40}};  // gaps 20 and 4 points
    AnalysisParams opt;
    const auto o = rules::background_focus(r, opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "background_focus");
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "centre_share_wrong"), 0.28);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "centre_share_wrong_n"), 80);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "centre_share_correct"), 0.40);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "centre_share_correct_n"), 120);
    EXPECT_DOUBLE_EQ(figure(o.recommendation, "threshold_gap"), 0.05);
    EXPECT_TRUE(contains(o.recommendation.text, "a gap of 12.0 points")) << o.recommendation.text;
    // Only class 0's gap (20 points) exceeds the 5-point threshold.
    EXPECT_TRUE(contains(o.recommendation.text, "Largest gaps: 'c0' (25.0% over 40 wrong vs 45.0% over 60 correct)."))
        << o.recommendation.text;

    // Fewer than rec_min_n maps with evidence on the errors' side: not quoted.
    r.focus.n_wrong = 20;
    const auto thin = rules::background_focus(r, opt);
    ASSERT_EQ(thin.kind, Kind::too_few);
    EXPECT_TRUE(contains(thin.note, "20 of 80 wrong predictions")) << thin.note;
}

TEST(Recommend, WorstClassesAreThoseFarBelowTheOverallAccuracy) {
    // top-1 0.8; class 1 at 0.5 (30 points below), class 2 at 0.7 (10 points: within the 15-point gap).
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
    EXPECT_TRUE(contains(o.recommendation.text, "'c1' 50.0% of 40 (most often taken for 'c0', 12)"))
        << o.recommendation.text;

    // The weakest class has too few images: not quoted.
    r.per_class[1].support = 10;
    const auto thin = rules::worst_classes(r, opt);
    ASSERT_EQ(thin.kind, Kind::too_few);
    EXPECT_EQ(thin.note, "class accuracies not quoted below 30 images per class");
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

    // Over fewer maps than rec_min_n the share is not quoted; without the warning nothing applies.
    opt.rec_min_n = 200;
    ASSERT_EQ(rules::degenerate_cams(r, opt).kind, Kind::too_few);
    r.degenerate = {};
    EXPECT_EQ(rules::degenerate_cams(r, AnalysisParams{}).kind, Kind::not_applicable);
}

TEST(Recommend, RecommendRunsEveryRuleThenTheAllClearAndTheTooFewNotes) {
    // Nothing fires and the calibration figure is over too few images: "none" lists what was
    // checked, "too_few_images" what was not quoted.
    Report r = classes({{10, 9, 10}, {10, 9, 10}});  // 20 images, below rec_min_n = 30
    r.top1 = 0.9;
    r.worst_classes = {0, 1};
    r.focus = {0.3, 0.3, 18, 2, 18, 2};
    const auto recs = rules::recommend(r, AnalysisParams{});
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].rule, "none");
    EXPECT_EQ(recs[0].text, "No rule triggered. Checked: no confusions at all.");
    EXPECT_EQ(recs[1].rule, "too_few_images");
    EXPECT_DOUBLE_EQ(figure(recs[1], "min_n"), 30);
    EXPECT_TRUE(contains(recs[1].text, "calibration not quoted: 20 images"));
    EXPECT_TRUE(contains(recs[1].text, "label errors not quoted: 20 images"));
    EXPECT_TRUE(contains(recs[1].text, "class accuracies not quoted below 30 images per class"));
}

}  // namespace
}  // namespace camscope
