// CLI tests of the flip test (issue 25, part 2) on a planted fixture (tests/fixtures/
// make_flip_fixtures.py): 12 red images carry a white corner patch that the hand-weighted model
// takes for the class "patch", and 2 red images are labelled blue. By construction the patch is the
// whole reason for the first 12 errors, so removing what the predicted class's CAM points at must
// give back "red" (distractor evidence); the 2 mislabelled ones have nothing to remove (red is
// everywhere) and must stay wrong (missing true evidence).
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;

namespace {

const std::string kPlanted =
    " -m " + kDir + "/flip_planted_model.pt -d " + kDir + "/flip_planted --faithfulness-n 0";
constexpr int kBlue = 0, kPatch = 1, kRed = 2;  // the folder order = the model's outputs

}  // namespace

TEST(FlipCli, PlantedPatchErrorsFlipBackToTheTrueClass) {
    const auto dir = tmpdir("flip_planted");
    auto r = run("-q analyze" + kPlanted + " -o " + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const auto j = nlohmann::json::parse(slurp(dir / "summary.json"));
    const auto& f = j["flip_test"];
    ASSERT_TRUE(f.is_object()) << j.dump();
    // 42 images, 14 errors: all tested (the default cap is max(16, 42/16) = 16).
    EXPECT_EQ(f["errors"], 14);
    EXPECT_EQ(f["tested"], 14);
    EXPECT_EQ(f["fraction"], 0.2);
    EXPECT_NE(f["method"].get<std::string>().find("ROAD"), std::string::npos);
    int patch_errors = 0, patch_distractor = 0, mislabelled = 0, mislabelled_stay = 0;
    for (const auto& x : f["rows"]) {
        if (x["true"] == kRed && x["pred"] == kPatch) {
            ++patch_errors;
            if (x["outcome"] == "flips_to_true") {
                ++patch_distractor;
                EXPECT_EQ(x["kind"], "distractor");
                EXPECT_EQ(x["after"], kRed);
            }
        } else if (x["true"] == kBlue && x["pred"] == kRed) {
            ++mislabelled;
            if (x["outcome"] == "stays") ++mislabelled_stay;
            EXPECT_EQ(x["kind"], "missing") << x.dump();
        } else {
            ADD_FAILURE() << "an error the fixture did not plant: " << x.dump();
        }
    }
    EXPECT_EQ(patch_errors, 12);
    EXPECT_GE(patch_distractor, 10) << "most patch-caused errors must flip back to 'red'";
    EXPECT_EQ(mislabelled, 2);
    EXPECT_EQ(mislabelled_stay, 2);
    EXPECT_EQ(f["distractor"], patch_distractor);
    // Per pair: red -> patch first (12 tested).
    ASSERT_GE(f["per_pair"].size(), 2u);
    EXPECT_EQ(f["per_pair"][0]["true"], kRed);
    EXPECT_EQ(f["per_pair"][0]["pred"], kPatch);
    EXPECT_EQ(f["per_pair"][0]["tested"], 12);
    // The files: the table (a line per tested error), a sheet per kind that occurs and per top pair.
    const std::string csv = slurp(dir / "flip_test" / "flip_test.csv");
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 15);
    EXPECT_TRUE(is_png(dir / "flip_test" / "distractor.png"));
    EXPECT_TRUE(is_png(dir / "flip_test" / "missing.png"));
    EXPECT_TRUE(is_png(dir / "flip_test" / "pair_2_1.png"));
    EXPECT_NE(slurp(dir / "index.html").find("Flip test"), std::string::npos);
    EXPECT_NE(slurp(dir / "analysis_summary.txt").find("Flip test (top 20% of the predicted class's CAM removed"),
              std::string::npos);
    // 12 of 14 distractor: Wilson 95% interval 60.1-96.0% (scipy's binomtest(12, 14).proportion_ci('wilson')),
    // at or above half: the distractor advice, quoting the interval.
    const std::string recs = slurp(dir / "recommendations.txt");
    EXPECT_NE(recs.find("12 of 14 tested errors (85.7%, 95% CI 60.1\u201396.0%; threshold 50.0%)"), std::string::npos)
        << recs;
    EXPECT_NE(recs.find("random erasing"), std::string::npos) << recs;
}

TEST(FlipCli, SampleSizeFlagsAndOff) {
    const auto dir = tmpdir("flip_n5");
    auto r = run("-q analyze" + kPlanted + " --flip-n 5 -o " + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const auto f = nlohmann::json::parse(slurp(dir / "summary.json"))["flip_test"];
    EXPECT_EQ(f["tested"], 5);
    // Evenly spread over the 14 errors in row order: entries floor(j*14/5) = 0, 2, 5, 8, 11.
    EXPECT_NE(f["selection"].get<std::string>().find("5 of the 14 errors"), std::string::npos) << f["selection"];

    const auto off = tmpdir("flip_off");
    r = run("-q analyze" + kPlanted + " --flip-n 0 -o " + off.string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_FALSE(fs::exists(off / "flip_test"));
    EXPECT_TRUE(nlohmann::json::parse(slurp(off / "summary.json"))["flip_test"].is_null());

    EXPECT_EQ(run("analyze" + kPlanted + " --flip-fraction 1.5 -o " + tmpdir("flip_bad").string()).code, 2);
    const auto help = run("analyze --help").out;
    EXPECT_NE(help.find("--flip-n"), std::string::npos);
    EXPECT_NE(help.find("--flip-fraction"), std::string::npos);
}
