// The flip test's counting (report/flips.hpp) and its recommendation rule (rules::flip_test) on
// hand-made outcomes, against counts worked out here by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "camscope/report/flips.hpp"
#include "camscope/report/recommend.hpp"
#include "camscope/report/report.hpp"

namespace camscope {
namespace {

using Kind = rules::Outcome::Kind;

FlipRow row(std::size_t i, int label, int pred, FlipOutcome o, float confidence = 0.5f) {
    FlipRow f;
    f.row = i;
    f.index = static_cast<int>(100 + i);
    f.label = label;
    f.pred = pred;
    f.confidence = confidence;
    f.outcome = o;
    f.after = o == FlipOutcome::flips_to_true ? label : o == FlipOutcome::stays ? pred : 3;
    return f;
}

const std::vector<std::string> kNames{"c0", "c1", "c2", "c3"};

TEST(Flips, CountsPerClassAndPairAndTheSheets) {
    FlipSummary s;
    // 0 -> 1: 3 distractor, 1 missing; 2 -> 1: 2 missing; 1 -> 0: 1 unstable.
    s.rows = {row(0, 0, 1, FlipOutcome::flips_to_true, 0.9f), row(1, 0, 1, FlipOutcome::flips_to_true, 0.6f),
              row(2, 0, 1, FlipOutcome::flips_to_true, 0.95f), row(3, 0, 1, FlipOutcome::stays),
              row(4, 2, 1, FlipOutcome::stays), row(5, 2, 1, FlipOutcome::stays),
              row(6, 1, 0, FlipOutcome::flips_elsewhere)};
    summarize_flips(s, kNames, /*sheet_rows=*/2, /*pair_sheets=*/3);
    EXPECT_EQ(s.overall.tested, 7);
    EXPECT_EQ(s.overall.distractor, 3);
    EXPECT_EQ(s.overall.missing, 3);
    EXPECT_EQ(s.overall.unstable, 1);
    EXPECT_DOUBLE_EQ(s.overall.share(FlipOutcome::flips_to_true), 3.0 / 7);
    ASSERT_EQ(s.per_class.size(), 3u);  // classes 0, 1, 2 in class order
    EXPECT_EQ(s.per_class[0].a, 0);
    EXPECT_EQ(s.per_class[0].counts.tested, 4);
    EXPECT_EQ(s.per_class[2].counts.missing, 2);
    ASSERT_EQ(s.per_pair.size(), 3u);  // most tested first: 0->1 (4), then 2->1 (2), then 1->0 (1)
    EXPECT_EQ(s.per_pair[0].a, 0);
    EXPECT_EQ(s.per_pair[0].b, 1);
    EXPECT_EQ(s.per_pair[0].counts.distractor, 3);
    EXPECT_EQ(s.per_pair[1].a, 2);
    EXPECT_EQ(s.per_pair[2].counts.unstable, 1);
    // Sheets: one per kind that occurs (distractor, missing, unstable), at most 2 rows, the most
    // confident first; then the pairs with >= 2 tested errors (0->1, 2->1).
    ASSERT_EQ(s.sheets.size(), 5u);
    EXPECT_EQ(s.sheets[0].file, "flip_test/distractor.png");
    EXPECT_EQ(s.sheets[0].rows, (std::vector<std::size_t>{2, 0}));
    EXPECT_EQ(s.sheets[1].file, "flip_test/missing.png");
    EXPECT_EQ(s.sheets[2].file, "flip_test/unstable.png");
    EXPECT_EQ(s.sheets[3].file, "flip_test/pair_0_1.png");
    EXPECT_EQ(s.sheets[4].file, "flip_test/pair_2_1.png");
    EXPECT_NE(flips_headline(s).find("3 distractor evidence (43%"), std::string::npos) << flips_headline(s);
}

TEST(Flips, CountsPerFailureMode) {
    FlipSummary s;
    // Rows 0-3 are class 0's errors: rows 0, 2 in mode 5 (both distractor), rows 1, 3 in mode 7
    // (one distractor, one missing); row 4 (class 2) has no mode; row 6 (class 1) is mode 9.
    s.rows = {row(0, 0, 1, FlipOutcome::flips_to_true, 0.9f), row(1, 0, 1, FlipOutcome::flips_to_true, 0.6f),
              row(2, 0, 1, FlipOutcome::flips_to_true, 0.95f), row(3, 0, 1, FlipOutcome::stays),
              row(4, 2, 1, FlipOutcome::stays), row(6, 1, 0, FlipOutcome::flips_elsewhere)};
    const std::vector<int> mode_of_row{5, 7, 5, 7, -1, -1, 9};
    summarize_flips(s, kNames, /*sheet_rows=*/8, /*pair_sheets=*/3, mode_of_row);
    ASSERT_EQ(s.per_mode.size(), 3u);  // most tested first (modes 5 and 7: 2 each, by id), then 9
    EXPECT_EQ(s.per_mode[0].mode, 5);
    EXPECT_EQ(s.per_mode[0].a, 0);
    EXPECT_EQ(s.per_mode[0].counts.distractor, 2);
    EXPECT_EQ(s.per_mode[0].counts.tested, 2);
    EXPECT_EQ(s.per_mode[1].mode, 7);
    EXPECT_EQ(s.per_mode[1].counts.distractor, 1);
    EXPECT_EQ(s.per_mode[1].counts.missing, 1);
    EXPECT_EQ(s.per_mode[2].mode, 9);
    EXPECT_EQ(s.per_mode[2].a, 1);
    EXPECT_EQ(s.per_mode[2].counts.unstable, 1);
    // A sheet per mode with >= 2 tested errors, after the kinds' and the pairs' sheets.
    ASSERT_GE(s.sheets.size(), 2u);
    EXPECT_EQ(s.sheets[s.sheets.size() - 2].file, "flip_test/mode_5.png");
    EXPECT_EQ(s.sheets[s.sheets.size() - 2].rows, (std::vector<std::size_t>{2, 0}));
    EXPECT_EQ(s.sheets.back().file, "flip_test/mode_7.png");
    // Without failure modes there is no per-mode count.
    summarize_flips(s, kNames);
    EXPECT_TRUE(s.per_mode.empty());
}

Report with_flips(int distractor, int missing, int unstable) {
    Report r;
    r.class_names = kNames;
    r.num_classes = 4;
    FlipSummary s;
    std::size_t i = 0;
    for (int k = 0; k < distractor; ++k) s.rows.push_back(row(i++, 0, 1, FlipOutcome::flips_to_true));
    for (int k = 0; k < missing; ++k) s.rows.push_back(row(i++, 2, 1, FlipOutcome::stays));
    for (int k = 0; k < unstable; ++k) s.rows.push_back(row(i++, 1, 0, FlipOutcome::flips_elsewhere));
    summarize_flips(s, kNames);
    r.flips = std::move(s);
    return r;
}

TEST(Flips, RuleFiresOnTheDominantKindOnly) {
    AnalysisParams opt;  // rec_flip_share 0.5, rec_min_n 30
    EXPECT_EQ(rules::flip_test(Report{}, opt).kind, Kind::not_applicable);
    // 30 of 40 distractor: 75%, Wilson 95% interval 59.8-85.8% (closed form: (p + z²/2n ± z·sqrt(p(1-p)/n +
    // z²/4n²)) / (1 + z²/n), z = 1.96): its lower bound reaches 50%: fires, quoting counts, interval, pair.
    auto o = rules::flip_test(with_flips(30, 6, 4), opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_EQ(o.recommendation.rule, "flip_test");
    EXPECT_NE(o.recommendation.text.find("30 of 40 tested errors (75.0%, 95% CI 59.8\u201385.8%; threshold 50.0%)"),
              std::string::npos)
        << o.recommendation.text;
    EXPECT_NE(o.recommendation.text.find("random erasing"), std::string::npos);
    EXPECT_NE(o.recommendation.text.find("'c0' -> 'c1' 30 of 30"), std::string::npos) << o.recommendation.text;
    // Missing evidence dominating: the other advice.
    o = rules::flip_test(with_flips(5, 30, 5), opt);
    ASSERT_EQ(o.kind, Kind::fired);
    EXPECT_NE(o.recommendation.text.find("missing true evidence"), std::string::npos);
    // 24 of 40 (60%): above half, but the interval (44.6-73.7%) reaches below it: checked, not fired.
    o = rules::flip_test(with_flips(24, 10, 6), opt);
    EXPECT_EQ(o.kind, Kind::checked);
    // 15/15/10: no kind reaches half: checked.
    EXPECT_EQ(rules::flip_test(with_flips(15, 15, 10), opt).kind, Kind::checked);
    // 8 tested, all distractor: Wilson 67.6-100%: few, but the interval clears half: fires.
    EXPECT_EQ(rules::flip_test(with_flips(8, 0, 0), opt).kind, Kind::fired);
    // 3 of 3: 43.9-100%: not enough.
    EXPECT_EQ(rules::flip_test(with_flips(3, 0, 0), opt).kind, Kind::checked);
}

TEST(Flips, AttachRerunsTheRecommendations) {
    Report r = with_flips(0, 0, 0);
    r.n = 0;
    FlipSummary s = *with_flips(40, 0, 0).flips;
    r.flips.reset();
    attach_flips(r, s);
    ASSERT_TRUE(r.flips);
    bool found = false;
    for (const auto& rec : r.recommendations) found |= rec.rule == "flip_test";
    EXPECT_TRUE(found);
}

}  // namespace
}  // namespace camscope
