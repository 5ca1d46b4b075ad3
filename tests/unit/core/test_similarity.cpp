// The sanity gate's similarity measures (faith/similarity.hpp) against tests/fixtures/
// sanity_reference.json, computed independently by sanity_reference.py (scipy.stats.spearmanr; SSIM
// written from Wang et al. 2004 with scipy.ndimage as scikit-image does); and the gate's rule and
// table (faith/sanity.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/faith/sanity.hpp"
#include "camscope/faith/similarity.hpp"

using namespace camscope;

namespace {

nlohmann::json reference() {
    std::ifstream f(std::string(CAMSCOPE_FIXTURES_DIR) + "/sanity_reference.json");
    return nlohmann::json::parse(f);
}

}  // namespace

TEST(Similarity, SpearmanAndSsimMatchTheScipyReference) {
    const auto ref = reference();
    ASSERT_GE(ref["cases"].size(), 9u);
    for (const auto& c : ref["cases"]) {
        SCOPED_TRACE(c["name"].get<std::string>());
        const auto a = c["a"].get<std::vector<float>>(), b = c["b"].get<std::vector<float>>();
        const int h = c["h"], w = c["w"];
        ASSERT_EQ(a.size(), static_cast<size_t>(h) * w);
        EXPECT_NEAR(faith::spearman(a.data(), b.data(), a.size()), c["spearman"].get<double>(), 1e-9);
        EXPECT_NEAR(faith::ssim(a.data(), b.data(), h, w), c["ssim"].get<double>(), 1e-9);
    }
}

TEST(Similarity, SymmetricAndUndefinedForTooFewValues) {
    const std::vector<float> a = {0.1f, 0.5f, 0.5f, 0.9f, 0.2f, 0.0f, 0.3f, 0.7f, 0.6f},
                             b = {0.9f, 0.1f, 0.4f, 0.4f, 0.8f, 0.2f, 0.0f, 0.5f, 0.3f};
    EXPECT_DOUBLE_EQ(faith::spearman(a.data(), b.data(), 9), faith::spearman(b.data(), a.data(), 9));
    EXPECT_NEAR(faith::ssim(a.data(), b.data(), 3, 3), faith::ssim(b.data(), a.data(), 3, 3), 1e-15);
    EXPECT_TRUE(std::isnan(faith::spearman(a.data(), b.data(), 1)));
    EXPECT_TRUE(std::isnan(faith::ssim(a.data(), b.data(), 0, 3)));
}

TEST(SanitySummary, FailsOnTheLastCascadeStepOrTheRandomLogitAtTheThreshold) {
    faith::SanitySummary s;
    s.method = "gradcam";
    s.layer = "features";
    s.n = 16;
    s.threshold = 0.5;
    s.cascade = {{"fc", 1, 16, 0, 0.9, 0.8}, {"layer4", 3, 16, 2, 0.2, 0.1}};
    s.random_logit = {"random logit", 0, 16, 0, 0.3, 0.2};
    EXPECT_TRUE(s.passed());  // an early step above the threshold does not fail it: the last one decides
    EXPECT_TRUE(faith::sanity_warning(s).empty());
    s.cascade.back().spearman = 0.5;
    EXPECT_TRUE(s.cascade_fails());
    EXPECT_FALSE(s.passed());
    s.cascade.back().spearman = 0.2;
    s.random_logit.spearman = 0.95;
    EXPECT_TRUE(s.logit_fails());
    EXPECT_FALSE(s.cascade_fails());
    const auto warn = faith::sanity_warning(s);
    ASSERT_EQ(warn.size(), 2u);
    EXPECT_NE(warn[0].find("random other class"), std::string::npos);
    EXPECT_EQ(faith::sanity_csv(s),
              "test,step,layer,modules_randomised,n,blank,spearman,ssim,threshold,fails\n"
              "cascade,1,fc,1,16,0,0.9000,0.8000,0.5000,0\n"
              "cascade,2,layer4,3,16,2,0.2000,0.1000,0.5000,0\n"
              "random_logit,0,random logit,0,16,0,0.9500,0.2000,0.5000,1\n");
}
