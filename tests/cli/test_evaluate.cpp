// CLI tests of `camscope evaluate-cams` and the faithfulness line of `camscope analyze`: run the real
// binary on the tiny CIFAR-10 fixture and check that what it wrote (CSV, JSON, PNG, summaries) agrees.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "camscope/util/strings.hpp"
#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;

namespace {

const std::string kModelData = " -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10";

}  // namespace

TEST(EvaluateCli, HelpDescribesMetricsAndSlowMethods) {
    auto r = run("evaluate-cams --help");
    EXPECT_EQ(r.code, 0);
    for (const char* s : {"--methods", "--n", "--steps", "--percentiles", "scorecam", "ablationcam", "slow", "Deletion",
                          "ROAD", "Average Drop", "Best method"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
    EXPECT_NE(run("--help").out.find("evaluate-cams"), std::string::npos);
    EXPECT_NE(run("analyze --help").out.find("--faithfulness-n"), std::string::npos);
}

TEST(EvaluateCli, BadMethodIsAUsageError) {
    auto r = run("evaluate-cams" + kModelData + " --methods gradcam,nosuchcam -o " + tmpdir("eval_bad").string());
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("unknown CAM method 'nosuchcam'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("available: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("gradcam"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(tmpdir("eval_bad") / "faithfulness.csv"));
    r = run("evaluate-cams" + kModelData + " --percentiles 50,120");
    EXPECT_EQ(r.code, 2) << r.out;
    r = run("evaluate-cams" + kModelData + " --steps 0");
    EXPECT_EQ(r.code, 2) << r.out;
}

TEST(EvaluateCli, WritesAgreeingCsvJsonAndPng) {
    const auto dir = tmpdir("eval_run");
    const std::string args = "-q evaluate-cams" + kModelData + " --n 12 --methods gradcam,eigencam --steps 8 -o ";
    auto r = run(args + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    ASSERT_TRUE(fs::exists(dir / "faithfulness.csv"));
    ASSERT_TRUE(fs::exists(dir / "faithfulness.json"));
    EXPECT_TRUE(is_png(dir / "faithfulness.png"));
    const auto j = nlohmann::json::parse(slurp(dir / "faithfulness.json"));
    EXPECT_EQ(j["n_images"], 12);
    EXPECT_EQ(j["methods"], (std::vector<std::string>{"gradcam", "eigencam"}));
    EXPECT_EQ(j["parameters"]["steps"], 8);
    const std::string best = j["best"]["method"];
    EXPECT_TRUE(best == "gradcam" || best == "eigencam") << best;
    EXPECT_NE(r.out.find(best + " scores best"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("CAM faithfulness on 12 images"), std::string::npos) << r.out;

    // Every CSV row is a JSON table row with the same numbers.
    const auto rows = read_csv(dir / "faithfulness.csv");
    ASSERT_GE(rows.size(), 1 + 2 * 3u);
    const auto& header = rows[0];
    EXPECT_EQ(header[0], "method");
    ASSERT_EQ(j["tables"].size(), rows.size() - 1);
    for (size_t i = 1; i < rows.size(); ++i) {
        const auto& t = j["tables"][i - 1];
        EXPECT_EQ(rows[i][0], t["method"].get<std::string>());
        EXPECT_EQ(rows[i][1], t["group"].get<std::string>());
        EXPECT_EQ(std::stoll(rows[i][2]), t["n"].get<long long>());
        for (size_t c = 3; c < header.size(); ++c) {
            if (rows[i][c].empty()) {
                EXPECT_TRUE(t[header[c]].is_null()) << header[c];
                continue;
            }
            EXPECT_NEAR(std::stod(rows[i][c]), t[header[c]].get<double>(), 1e-6) << rows[i][0] << " " << header[c];
        }
    }
    // Groups: overall = correct + wrong = the sum over classes = 12 images, for each method.
    for (const std::string m : {"gradcam", "eigencam"}) {
        long long overall = -1, correct = 0, wrong = 0, classes = 0;
        for (const auto& t : j["tables"]) {
            if (t["method"] != m) continue;
            const std::string g = t["group"];
            if (g == "overall") overall = t["n"];
            if (g == "correct") correct = t["n"];
            if (g == "wrong") wrong = t["n"];
            if (g.rfind("class:", 0) == 0) classes += t["n"].get<long long>();
            if (g == "overall") {
                EXPECT_GE(t["deletion_auc"].get<double>(), 0.0);
                EXPECT_LE(t["deletion_auc"].get<double>(), 1.0);
                EXPECT_GE(t["insertion_auc"].get<double>(), 0.0);
                EXPECT_LE(t["insertion_auc"].get<double>(), 1.0);
                EXPECT_GE(t["average_drop"].get<double>(), 0.0);
                EXPECT_LE(t["average_drop"].get<double>(), 100.0);
                EXPECT_NEAR(t["road_combined"].get<double>(),
                            (t["road_lerf"].get<double>() - t["road_morf"].get<double>()) / 2, 1e-9);
            }
        }
        EXPECT_EQ(overall, 12) << m;
        EXPECT_EQ(correct + wrong, 12) << m;
        EXPECT_EQ(classes, 12) << m;
    }
    // Deterministic (seeded ROAD noise, fixed image selection): a second run writes the same CSV.
    const auto dir2 = tmpdir("eval_run2");
    r = run(args + dir2.string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(slurp(dir / "faithfulness.csv"), slurp(dir2 / "faithfulness.csv"));
}

TEST(EvaluateCli, InputsSharedBetweenMethodsAreScoredOnceWithTheSameNumbers) {
    // Two methods together: every image's clean, all-mean and blurred inputs (and any other input
    // both methods produce) go through the model once; each method's numbers are those of a run
    // with that method alone.
    auto overall = [](const fs::path& dir, const std::string& method) {
        const auto j = nlohmann::json::parse(slurp(dir / "faithfulness.json"));
        for (const auto& t : j["tables"])
            if (t["method"] == method && t["group"] == "overall") return t;
        return nlohmann::json();
    };
    const auto both = tmpdir("eval_shared_both");
    auto r = run("-q evaluate-cams" + kModelData + " --n 6 --methods gradcam,layercam -o " + both.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const auto j = nlohmann::json::parse(slurp(both / "faithfulness.json"));
    const std::size_t rows = 2 + 2 * 16 + 2 * 9;  // per image and method, the default parameters
    EXPECT_EQ(j["inputs"].get<std::size_t>(), 2 * 6 * rows);
    EXPECT_LE(j["inputs_scored"].get<std::size_t>(), 2 * 6 * rows - 6 * 3);
    for (const std::string m : {"gradcam", "layercam"}) {
        const auto alone = tmpdir("eval_shared_" + m);
        r = run("-q evaluate-cams" + kModelData + " --n 6 --methods " + m + " -o " + alone.string());
        ASSERT_EQ(r.code, 0) << r.out;
        const auto a = overall(both, m), b = overall(alone, m);
        ASSERT_FALSE(a.is_null() || b.is_null()) << m;
        for (const char* key : {"average_drop", "increase_in_confidence", "deletion_auc", "insertion_auc",
                                "road_morf", "road_lerf", "road_combined"})
            EXPECT_NEAR(a[key].get<double>(), b[key].get<double>(), 1e-5) << m << " " << key;
    }
}

TEST(EvaluateCli, MatchesTheIndependentPythonReference) {
    // tests/fixtures/faith_reference.py computed every metric for the same 3 images (noise off)
    // with numpy + torch from the definitions; the CAMs are camscope's Grad-CAM maps.
    const auto ref = nlohmann::json::parse(slurp(kDir + "/faith_reference.json"));
    const auto dir = tmpdir("eval_reference");
    auto r = run("-q evaluate-cams" + kModelData + " --methods gradcam --n 3 --noise 0 -o " + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const auto j = nlohmann::json::parse(slurp(dir / "faithfulness.json"));
    const nlohmann::json* overall = nullptr;
    for (const auto& t : j["tables"])
        if (t["group"] == "overall") overall = &t;
    ASSERT_TRUE(overall);
    EXPECT_EQ((*overall)["n"], 3);
    for (const auto& [key, want] : ref["overall"].items()) {
        // Float forwards in two libraries (and CAM values that tie to the last bit) differ by ~1e-6.
        const double tol = key == "average_drop" || key == "increase_in_confidence" ? 1e-3 : 1e-4;
        EXPECT_NEAR((*overall)[key].get<double>(), want.get<double>(), tol) << key;
    }
}

TEST(EvaluateCli, AnalyzeCarriesTheFaithfulnessLine) {
    // Default --faithfulness-n 100 on 200 images: capped to max(10, 200 / (8 × 68)) = 10, where 68 =
    // 5 methods × (14 inputs − 3 shared) + 3 shared + 5 × 2 for the CAMs (quick_check_cost).
    const auto dir = tmpdir("eval_analyze");
    auto r = run("-q analyze" + kModelData + " -o " + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(fs::exists(dir / "faithfulness.csv"));
    EXPECT_NE(r.out.find("CAM faithfulness on 10 images"), std::string::npos) << r.out;
    EXPECT_NE(slurp(dir / "analysis_summary.txt").find("CAM faithfulness on 10 images"), std::string::npos);
    EXPECT_NE(slurp(dir / "index.html").find("CAM faithfulness on 10 images"), std::string::npos);
    const auto j = nlohmann::json::parse(slurp(dir / "summary.json"));
    ASSERT_TRUE(j["faithfulness"].is_object()) << j["faithfulness"].dump();
    EXPECT_EQ(j["faithfulness"]["n_images"], 10);
    EXPECT_EQ(j["faithfulness"]["steps"], 4);
    EXPECT_EQ(j["faithfulness"]["methods"].size(), 5u);  // the gradient methods
    EXPECT_NE(j["faithfulness"]["headline"].get<std::string>().find(j["faithfulness"]["best"].get<std::string>()),
              std::string::npos);

    const auto off = tmpdir("eval_analyze_off");
    r = run("-q analyze" + kModelData + " --faithfulness-n 0 -o " + off.string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_FALSE(fs::exists(off / "faithfulness.csv"));
    EXPECT_TRUE(nlohmann::json::parse(slurp(off / "summary.json"))["faithfulness"].is_null());
}
