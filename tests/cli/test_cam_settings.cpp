// The CAM settings (engine/cam_settings.hpp) reach everything a run makes, through the binary:
// `analyze --method finercam --alpha A` stores the maps `camscope cam` computes with the same alpha
// (and not alpha 1's), records alpha in summary.json's and the store's identity, refuses to resume
// from chunks of another alpha, and `merge` refuses shards of different alphas and reports on the
// shards' alpha (its faithfulness check included: it has no --alpha of its own).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "camscope/image/image.hpp"
#include "camscope/util/npy.hpp"
#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;
using nlohmann::json;

namespace {

// 32 images in batches of 16; no faithfulness check unless a test asks for one.
const std::string kFiner = " -m " + kTinyModel + " -d " + kTinyData + " --method finercam -b 16 ";

std::string analyze_cmd(const std::string& alpha, const fs::path& out, const std::string& extra = "") {
    return "-q analyze" + kFiner + "--limit 32 --pair-figures 1 --faithfulness-n 0 " + (alpha.empty() ? "" : "--alpha " + alpha + " ") +
           extra + "-o " + out.string();
}

/// A report made once per alpha ("" = the default) and reused by the tests of this process.
const fs::path& report(const std::string& alpha) {
    static std::map<std::string, fs::path> made;
    auto it = made.find(alpha);
    if (it != made.end()) return it->second;
    const fs::path d = tmpdir("camset_report_" + (alpha.empty() ? std::string("default") : alpha));
    const auto r = run(analyze_cmd(alpha, d), 300);
    EXPECT_EQ(r.code, 0) << r.out;
    return made.emplace(alpha, d).first->second;
}

/// The store's predicted-class maps brought to the input size as `camscope cam` does
/// (cams_at_input_size = image.hpp's cam_to_input_size per map).
std::vector<float> stored_maps_at_input(const fs::path& rep) {
    const NpyArray a = read_npy((rep / "store" / "cam_pred.npy").string());
    EXPECT_EQ(a.shape.size(), 3u);
    const int n = static_cast<int>(a.shape[0]), h = static_cast<int>(a.shape[1]), w = static_cast<int>(a.shape[2]);
    const std::vector<float> v = a.as_float();
    std::vector<float> out;
    for (int i = 0; i < n; ++i) {
        const auto up = cam_to_input_size(v.data() + static_cast<size_t>(i) * h * w, h, w, 32, 32);
        out.insert(out.end(), up.begin(), up.end());
    }
    return out;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double d = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(double(a[i]) - b[i]));
    return d;
}

json identity_cam(const fs::path& file) { return json::parse(slurp(file))["identity"]["cam"]; }

}  // namespace

TEST(CamSettings, AnalyzeAlphaGivesTheMapsOfCamWithThatAlpha) {
    const fs::path cams = tmpdir("camset_cam_half");
    const auto r = run("-q cam" + kFiner + "--alpha 0.5 -i 0-31 -t pred -o " + cams.string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto want = read_npy((cams / "cams.npy").string()).as_float();
    ASSERT_EQ(want.size(), 32u * 32 * 32);
    const auto half = stored_maps_at_input(report("0.5"));
    // The same maps (the store keeps them at the layer's resolution in float32: to the rounding).
    EXPECT_LT(max_diff(half, want), 1e-4);
    // ... and not alpha 1's: the setting reached the pass (before CamSettings it did not).
    EXPECT_GT(max_diff(stored_maps_at_input(report("")), want), 1e-2);
}

TEST(CamSettings, TheIdentityRecordsAlpha) {
    const fs::path rep = report("0.5");
    for (const char* f : {"summary.json", "store/manifest.json"}) {
        const json c = identity_cam(rep / f);
        ASSERT_TRUE(c.contains("alpha")) << f << ": " << c.dump();
        EXPECT_EQ(c["alpha"].get<double>(), 0.5) << f;
        EXPECT_EQ(c["method"], "finercam") << f;
    }
    EXPECT_EQ(identity_cam(report("") / "summary.json")["alpha"].get<double>(), 1.0);
}

TEST(CamSettings, ResumeRefusesChunksOfAnotherAlpha) {
    const fs::path root = tmpdir("camset_resume");
    const fs::path out = root / "report";
    setenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK", "0", 1);
    auto r = run(analyze_cmd("0.5", out, "--chunk 16 "), 300);
    unsetenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK");
    ASSERT_EQ(r.code, 128 + 9) << r.out;
    ASSERT_TRUE(fs::exists(root / "report.partial" / "chunk-000000" / "manifest.json"));
    r = run(analyze_cmd("0.25", out, "--chunk 16 --resume "), 300);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("chunk-000000: this chunk was computed by another run"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("CAM options: chunk-000000 was computed with eigen_smooth off, aug_smooth off, max_channels 0, "
                         "alpha 0.5; this run uses eigen_smooth off, aug_smooth off, max_channels 0, alpha 0.25"),
              std::string::npos)
        << r.out;
    r = run(analyze_cmd("", out, "--chunk 16 --resume "), 300);  // the default alpha is another alpha too
    EXPECT_EQ(r.code, 1) << r.out;
    // The same alpha resumes, and gives the report of an uninterrupted run.
    r = run(analyze_cmd("0.5", out, "--chunk 16 --resume "), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(slurp(out / "store" / "cam_pred.npy"), slurp(report("0.5") / "store" / "cam_pred.npy"));
}

TEST(CamSettings, MergeRefusesShardsOfDifferentAlphasAndKeepsTheShardsAlpha) {
    const fs::path root = tmpdir("camset_merge");
    auto shard = [&](const std::string& alpha, const std::string& k) {
        const fs::path out = root / ("shard" + k + "_" + alpha);
        const auto r = run(analyze_cmd(alpha, out, "--shard " + k + "/2 "), 300);
        EXPECT_EQ(r.code, 0) << r.out;
        return out.string();
    };
    const std::string a0 = shard("0.5", "0"), a1 = shard("0.5", "1"), b1 = shard("0.25", "1");
    auto r = run("-q merge " + a0 + " " + b1 + " -o " + (root / "mixed").string(), 300);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("alpha 0.5"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("alpha 0.25"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(root / "mixed"));
    // The shards' alpha is the report's: merge has no --alpha to disagree with them.
    r = run("-q merge " + a0 + " " + a1 + " --alpha 0.25 -o " + (root / "flag").string());
    EXPECT_EQ(r.code, 2) << r.out;
    r = run("-q merge " + a0 + " " + a1 + " --faithfulness-n 0 -o " + (root / "merged").string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(identity_cam(root / "merged" / "summary.json")["alpha"].get<double>(), 0.5);
    EXPECT_EQ(slurp(root / "merged" / "store" / "cam_pred.npy"), slurp(report("0.5") / "store" / "cam_pred.npy"));
}

TEST(CamSettings, SummariesWithoutAlphaStillRead) {
    // A store written before alpha was recorded (no "alpha" in its identity) is read as alpha 1:
    // merged with a shard of this camscope (alpha 1) it is one run.
    const fs::path root = tmpdir("camset_old");
    auto r = run(analyze_cmd("", root / "s0", "--shard 0/2 "), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    r = run(analyze_cmd("", root / "s1", "--shard 1/2 "), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    json m = json::parse(slurp(root / "s0" / "manifest.json"));
    ASSERT_TRUE(m["identity"]["cam"].contains("alpha"));
    m["identity"]["cam"].erase("alpha");
    { std::ofstream(root / "s0" / "manifest.json") << m.dump(1); }
    r = run("-q merge " + (root / "s0").string() + " " + (root / "s1").string() + " --faithfulness-n 0 -o " +
                (root / "merged").string(),
            300);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(identity_cam(root / "merged" / "summary.json")["alpha"].get<double>(), 1.0);
}

TEST(CamSettings, EveryEdgeRefusesAlphaAndContrastForOtherMethodsWithOneWording) {
    // The CLI used to record --alpha 0.5 for gradcam and go on (Python and the server refused it,
    // each in its own words): check_cam_settings is the one rule now.
    const fs::path out = tmpdir("cam_settings_other_method");
    const std::string base = " -m " + kTinyModel + " -d " + kTinyData + " -b 16 ";
    auto r = run("-q analyze" + base + "--method gradcam --alpha 0.5 --limit 16 -o " + out.string(), 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("alpha applies to the finercam method only, not gradcam"), std::string::npos) << r.out;
    r = run("-q cam" + base + "--method gradcampp --alpha 2 -i 0 -o " + out.string(), 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("alpha applies to the finercam method only, not gradcampp"), std::string::npos) << r.out;
    r = run("-q cam" + base + "--contrast true -i 0 -o " + out.string(), 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("contrast applies to the finercam method only, not gradcam"), std::string::npos) << r.out;
    r = run("-q cam" + base + "--method finercam --alpha 101 -i 0 -o " + out.string(), 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("alpha must be a number in [0, 100], got 101"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(out)) << "refused before anything is written";
}
