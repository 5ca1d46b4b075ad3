// The report folder of `camscope analyze` under failure: a run that is killed, interrupted, given
// a typo or an unwritable folder never leaves a mixed or half-written report, never removes a good
// one, and leaves no hidden temporary files behind (or the next run removes them).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "camscope/image/image.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/sha256.hpp"
#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;

namespace {

const std::string kModel = kDir + "/tiny_cifar10_model.pt";
const std::string kOtherModel = kDir + "/resnet_traced.pt";  // 10 classes, 3x32x32 too: another model
const std::string kData = kDir + "/tiny_cifar10";

/// Every file under `dir` (hidden ones too) with the SHA-256 of its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = sha256_hex(slurp(e.path()));
    return out;
}

/// Hidden temporary names (".X.tmp-<pid>-<n>") anywhere under `dir`, `dir` itself included.
std::vector<std::string> temp_names(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (parse_temp_name(e.path().filename().string())) out.push_back(e.path().string());
    return out;
}

std::string analyze_args(const std::string& model, const fs::path& out) {
    return "-q analyze --faithfulness-n 0 -m " + model + " -d " + kData + " -o " + out.string();
}

/// Runs with CAMSCOPE_TEST_SIGNAL_AFTER set: the run signals itself right after writing `file`.
camscope::testing::Run run_signalled(const std::string& args, int sig, const std::string& file) {
    setenv("CAMSCOPE_TEST_SIGNAL_AFTER", (std::to_string(sig) + ":" + file).c_str(), 1);
    auto r = run(args, 120);
    unsetenv("CAMSCOPE_TEST_SIGNAL_AFTER");
    return r;
}

std::string model_of(const fs::path& report) {
    return nlohmann::json::parse(slurp(report / "summary.json"))["identity"]["model"]["path"].get<std::string>();
}

}  // namespace

TEST(ReportOutput, KilledDuringTheGalleriesLeavesTheOldReportWhole) {
    const fs::path root = tmpdir("killed");
    const fs::path out = root / "report";
    ASSERT_EQ(run(analyze_args(kModel, out)).code, 0);
    const auto before = snapshot(out);
    ASSERT_TRUE(before.count("summary.json") && before.count("explorer/data.js"));

    // Another model into the same folder, killed (SIGKILL: no cleanup possible) after the gallery
    // of class 3: the folder is byte for byte the old report; the new one was being built beside it.
    auto r = run_signalled(analyze_args(kOtherModel, out), 9, "worst_predictions/class_3_cat.png");
    EXPECT_EQ(r.code, 128 + 9) << r.out;
    EXPECT_EQ(snapshot(out), before);
    const auto left = temp_names(root);
    ASSERT_EQ(left.size(), 1u) << "the killed run's staging folder";
    EXPECT_TRUE(fs::exists(fs::path(left[0]) / "worst_predictions" / "class_3_cat.png"));

    // The next run removes what the killed one left, keeps a staging folder of a live run and the
    // user's own file in the report folder, and replaces the report as a whole.
    const fs::path live = root / (".report.tmp-" + std::to_string(getpid()) + "-99");
    fs::create_directories(live);
    write_file_atomic((out / "my_notes.txt").string(), "mine");
    r = run(analyze_args(kOtherModel, out), 120);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_FALSE(fs::exists(left[0]));
    EXPECT_TRUE(fs::exists(live));
    fs::remove_all(live);
    EXPECT_TRUE(temp_names(root).empty());
    EXPECT_EQ(slurp(out / "my_notes.txt"), "mine");
    EXPECT_EQ(model_of(out), kOtherModel);
    const auto js = slurp(out / "explorer" / "data.js");
    EXPECT_NE(js.find(kOtherModel), std::string::npos);  // the pages say the new model too
    EXPECT_EQ(js.find(kModel), std::string::npos);
    fs::remove_all(root);
}

TEST(ReportOutput, InterruptedBySigintCleansUpAndKeepsTheOldReport) {
    const fs::path root = tmpdir("sigint");
    const fs::path out = root / "report";
    ASSERT_EQ(run(analyze_args(kModel, out)).code, 0);
    const auto before = snapshot(out);
    auto r = run_signalled(analyze_args(kOtherModel, out), 2, "worst_predictions/class_3_cat.png");
    EXPECT_EQ(r.code, 128 + 2) << r.out;  // ends by the signal, as without the cleanup
    EXPECT_EQ(snapshot(out), before);
    EXPECT_TRUE(temp_names(root).empty()) << temp_names(root)[0];
    // Interrupted in a fresh folder: no report folder appears at all.
    const fs::path fresh = root / "fresh";
    r = run_signalled(analyze_args(kModel, fresh), 2, "confusion_matrix.csv");
    EXPECT_EQ(r.code, 128 + 2) << r.out;
    EXPECT_FALSE(fs::exists(fresh));
    EXPECT_TRUE(temp_names(root).empty());
    fs::remove_all(root);
}

TEST(ReportOutput, ATypoLeavesAGoodReportUntouched) {
    const fs::path root = tmpdir("typo");
    const fs::path out = root / "report";
    ASSERT_EQ(run(analyze_args(kModel, out)).code, 0);
    const auto before = snapshot(out);
    const std::string base = " --faithfulness-n 0 -o " + out.string();
    for (const std::string& args :
         {"-q analyze -m /nonexistent.pt -d " + kData + base, "-q analyze -m " + kModel + " -d /nonexistent/data" + base,
          "-q analyze -m " + kModel + " -d " + kData + " --layer no.such.layer" + base,
          "-q analyze -m " + kModel + " -d " + kData + " --norm no-such-preset" + base}) {
        const auto r = run(args, 120);
        EXPECT_NE(r.code, 0) << args << "\n" << r.out;
        EXPECT_EQ(snapshot(out), before) << args;
    }
    EXPECT_TRUE(temp_names(root).empty());
    // An empty --out is bad usage, never "/" + "summary.json".
    const auto r = run("-q analyze --faithfulness-n 0 -m " + kModel + " -d " + kData + " -o ''", 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--out"), std::string::npos) << r.out;
    fs::remove_all(root);
}

TEST(ReportOutput, AnUnusableFolderIsRefusedBeforeTheAnalysis) {
    // Without -q the analysis announces itself ("CAM gradcam at layer ..."); these fail before it.
    const auto proc = run("analyze --faithfulness-n 0 -m " + kModel + " -d " + kData + " -o /proc/camscope_report", 120);
    EXPECT_EQ(proc.code, 1) << proc.out;
    EXPECT_NE(proc.out.find("/proc/camscope_report"), std::string::npos) << proc.out;
    EXPECT_EQ(proc.out.find("CAM gradcam at layer"), std::string::npos) << proc.out;

    const fs::path root = tmpdir("foreign");
    fs::create_directories(root / "photos");
    write_file_atomic((root / "photos" / "holiday.jpg").string(), "jpeg");
    const auto foreign = run("analyze --faithfulness-n 0 -m " + kModel + " -d " + kData + " -o " + (root / "photos").string(), 120);
    EXPECT_EQ(foreign.code, 1) << foreign.out;
    EXPECT_NE(foreign.out.find("holiday.jpg"), std::string::npos) << foreign.out;
    EXPECT_NE(foreign.out.find("not a camscope report"), std::string::npos) << foreign.out;
    EXPECT_EQ(foreign.out.find("CAM gradcam at layer"), std::string::npos) << foreign.out;
    EXPECT_EQ(slurp(root / "photos" / "holiday.jpg"), "jpeg");
    EXPECT_TRUE(temp_names(root).empty());
    fs::remove_all(root);
}

TEST(ReportOutput, LongClassNamesGiveFileNamesThatFit) {
    // An image folder whose class folder has a 250-byte name (the file system's limit is 255):
    // the gallery's file name is cut to fit, the report names the class in full.
    const fs::path root = tmpdir("longnames");
    const std::string long_name(250, 'n');
    std::vector<std::string> names{long_name};
    for (int c = 1; c < 10; ++c) names.push_back("class" + std::to_string(c));
    for (size_t c = 0; c < names.size(); ++c)
        for (int i = 0; i < 3; ++i) {
            Image img{32, 32, 3, std::vector<std::uint8_t>(32 * 32 * 3)};
            for (size_t p = 0; p < img.pixels.size(); ++p) img.pixels[p] = static_cast<std::uint8_t>(p * (c + 3) + i * 17);
            write_file_atomic((root / "data" / names[c] / (std::to_string(i) + ".png")).string(), encode_png(img));
        }
    const fs::path out = root / "report";
    const auto r = run("-q analyze --faithfulness-n 0 --norm cifar10 -m " + kModel + " -d " + (root / "data").string() +
                          " -o " + out.string(),
                      120);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
    EXPECT_NE(std::find(summary["classes"].begin(), summary["classes"].end(), long_name), summary["classes"].end());
    int galleries = 0;
    for (const auto& e : fs::directory_iterator(out / "worst_predictions")) {
        EXPECT_LE(e.path().filename().string().size(), 255u);
        EXPECT_TRUE(is_png(e.path()));
        ++galleries;
    }
    EXPECT_EQ(galleries, 10);
    fs::remove_all(root);
}
