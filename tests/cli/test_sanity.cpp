// CLI tests of the sanity gate of `camscope analyze` (pipeline/sanity.hpp): the real binary on the
// tiny CIFAR-10 fixture. The trained model passes and its figures are the bytes a run without the
// gate draws; the constructed model of make_sanity_fixtures.py (maps that cannot depend on the head)
// fails, and every place the report says so does.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using namespace camscope::testing;

namespace {

const std::string kData = " -d " + kDir + "/tiny_cifar10";
const std::string kSmall = " --limit 64 -b 32 --faithfulness-n 0 --pair-figures 1 ";

}  // namespace

TEST(SanityCli, TrainedModelPassesAndItsFiguresAreUnmarked) {
    const auto on = tmpdir("sanity_on"), off = tmpdir("sanity_off");
    const std::string model = " -m " + kDir + "/tiny_cifar10_model.pt";
    auto r = run("-q analyze" + model + kData + kSmall + "--sanity-images 8 -o " + on.string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(r.out.find("WARNING"), std::string::npos) << r.out;
    const auto j = nlohmann::json::parse(slurp(on / "summary.json"));
    ASSERT_TRUE(j.contains("sanity"));
    EXPECT_TRUE(j["sanity"]["passed"].get<bool>()) << j["sanity"].dump(1);
    EXPECT_EQ(j["sanity"]["n_images"], 8);
    EXPECT_EQ(j["sanity"]["layer"], j["run"]["layer"]);
    EXPECT_EQ(j["sanity"]["cascade"].back()["layer"], "fc");
    EXPECT_TRUE(fs::exists(on / "sanity.csv"));
    EXPECT_NE(slurp(on / "index.html").find("id=\"sanity\""), std::string::npos);
    EXPECT_EQ(slurp(on / "index.html").find("sanity-warning"), std::string::npos);
    EXPECT_NE(slurp(on / "analysis_summary.txt").find("Sanity gate"), std::string::npos);

    r = run("-q analyze" + model + kData + kSmall + "--sanity-images 0 -o " + off.string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_FALSE(nlohmann::json::parse(slurp(off / "summary.json")).contains("sanity"));
    EXPECT_FALSE(fs::exists(off / "sanity.csv"));
    int compared = 0;
    for (const auto& e : fs::directory_iterator(off / "worst_predictions")) {
        EXPECT_EQ(slurp(e.path()), slurp(on / "worst_predictions" / e.path().filename())) << e.path();
        ++compared;
    }
    EXPECT_EQ(compared, 10);
}

TEST(SanityCli, MapsIndependentOfTheHeadFailWithAWarningEverywhere) {
    const auto dir = tmpdir("sanity_fail");
    auto r = run("-q analyze -m " + kDir + "/sanity_scale_head.pt --layer features" + kData + kSmall +
                     "--sanity-images 8 -o " + dir.string(),
                 300);
    ASSERT_EQ(r.code, 0) << r.out;
    const std::string warn = "WARNING: the gradcam maps at layer 'features' barely change";
    EXPECT_NE(r.out.find(warn), std::string::npos) << r.out;
    EXPECT_NE(slurp(dir / "analysis_summary.txt").find(warn), std::string::npos);
    EXPECT_NE(slurp(dir / "index.html").find("id=\"sanity-warning\""), std::string::npos);
    const auto j = nlohmann::json::parse(slurp(dir / "summary.json"));
    EXPECT_FALSE(j["sanity"]["passed"].get<bool>());
    EXPECT_TRUE(j["sanity"]["cascade_fails"].get<bool>());
    EXPECT_TRUE(j["sanity"]["random_logit_fails"].get<bool>());
    EXPECT_NE(slurp(dir / "sanity.csv").find("cascade,1,head,1,8,"), std::string::npos) << slurp(dir / "sanity.csv");
}

TEST(SanityCli, HelpNamesTheFlags) {
    const auto r = run("analyze --help");
    for (const char* f : {"--sanity-images", "--sanity-threshold"}) EXPECT_NE(r.out.find(f), std::string::npos) << f;
    EXPECT_EQ(run("analyze -m x -d y --sanity-threshold 2").code, 2);
}
