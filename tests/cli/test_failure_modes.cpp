// Failure modes end to end on planted causes: `camscope analyze` of a hand-set model with two
// shortcuts (tests/fixtures/make_failure_modes_model.py: a white patch reads as class "patch", a blue
// cast as class "blue") on an image folder made here, where the errors of "object" come from exactly
// those two causes. The report's groups must recover the causes (purity >= 90 %), the patch mode's
// description must name the top-left corner, and the files, summary and explorer must carry them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "camscope/image/image.hpp"
#include "camscope/report/explorer.hpp"
#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;

namespace {

constexpr int kSide = 32;

void fill(Image& img, int y0, int x0, int h, int w, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    for (int y = std::max(0, y0); y < std::min(kSide, y0 + h); ++y)
        for (int x = std::max(0, x0); x < std::min(kSide, x0 + w); ++x) {
            std::uint8_t* p = img.pixels.data() + (static_cast<size_t>(y) * kSide + x) * 3;
            p[0] = r, p[1] = g, p[2] = b;
        }
}

/// A red square (12×12, its corner jittered) on grey.
Image object(std::mt19937& rng) {
    Image img{kSide, kSide, 3, std::vector<std::uint8_t>(kSide * kSide * 3, 128)};
    std::uniform_int_distribution<int> at(7, 13);
    fill(img, at(rng), at(rng), 12, 12, 255, 51, 51);
    return img;
}

enum Cause { kClean, kPatch, kCast };

struct Made {
    std::map<std::string, Cause> cause;  // file name (under 0_object/) -> cause
};

/// ROOT/0_object: 20 clean, 12 with a white 12×12 patch in the top-left corner (position jittered),
/// 12 under a blue cast (R − s, B + s', strength jittered); ROOT/1_patch and ROOT/2_blue: 4 each.
/// The folders sort in the model's class order (the image folder's classes are its sorted folders).
Made make_folder(const fs::path& root) {
    std::mt19937 rng(5);
    Made m;
    for (const char* c : {"0_object", "1_patch", "2_blue"}) fs::create_directories(root / c);
    int k = 0;
    auto save = [&](const Image& img, Cause c) {
        const std::string name = format("img_%03d.png", k++);
        write_png((root / "0_object" / name).string(), img);
        m.cause[name] = c;
    };
    for (int i = 0; i < 20; ++i) save(object(rng), kClean);
    std::uniform_int_distribution<int> off(0, 2);
    for (int i = 0; i < 12; ++i) {
        Image img = object(rng);
        fill(img, off(rng), off(rng), 12, 12, 255, 255, 255);
        save(img, kPatch);
    }
    std::uniform_int_distribution<int> cast(70, 110);
    for (int i = 0; i < 12; ++i) {
        Image img = object(rng);
        const int s = cast(rng);
        for (size_t p = 0; p < img.pixels.size(); p += 3) {
            img.pixels[p] = static_cast<std::uint8_t>(std::max(0, img.pixels[p] - s));
            img.pixels[p + 2] = static_cast<std::uint8_t>(std::min(255, img.pixels[p + 2] + s + 30));
        }
        save(img, kCast);
    }
    for (int i = 0; i < 4; ++i) {
        Image white{kSide, kSide, 3, std::vector<std::uint8_t>(kSide * kSide * 3, 128)};
        fill(white, 0, 0, 16, 16, 255, 255, 255);
        write_png((root / "1_patch" / format("w_%d.png", i)).string(), white);
        Image blue{kSide, kSide, 3, std::vector<std::uint8_t>(kSide * kSide * 3, 0)};
        fill(blue, 0, 0, kSide, kSide, 40, 128, 230);
        write_png((root / "2_blue" / format("b_%d.png", i)).string(), blue);
    }
    return m;
}

TEST(FailureModesCli, PlantedShortcutsAreRecovered) {
    const fs::path root = tmpdir("fm_data"), out = tmpdir("fm_report");
    const Made made = make_folder(root);
    const auto r = run("analyze -m " + kDir + "/failure_modes_model.pt -d " + root.string() +
                           " --mean 0,0,0 --std 1,1,1 --layer relu --faithfulness-n 0 --flip-n 24 --out " + out.string(),
                       300);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
    const auto& fm = summary.at("failure_modes");
    ASSERT_TRUE(fm.is_object()) << fm.dump();
    const nlohmann::json* group = nullptr;
    for (const auto& g : fm.at("groups"))
        if (g.at("kind") == "class" && g.at("true_name") == "0_object") group = &g;
    ASSERT_NE(group, nullptr) << fm.dump(1);
    EXPECT_EQ(group->at("errors").get<int>(), 24);
    ASSERT_EQ(group->at("k").get<int>(), 2) << group->dump(1);
    // Rows are report rows, in dataset order: 0_object/ first, its files by name, so row k is img_k.
    long long majority = 0, total = 0;
    bool corner = false;
    int patch_mode = -1;
    for (const auto& m : group->at("modes")) {
        std::map<Cause, long long> count;
        for (const auto& row : m.at("rows")) ++count[made.cause.at(format("img_%03d.png", row.get<int>()))];
        long long best = 0;
        Cause which = kClean;
        for (auto [c, n] : count)
            if (n > best) best = n, which = c;
        majority += best;
        total += static_cast<long long>(m.at("rows").size());
        const std::string d = m.at("description");
        if (which == kPatch) {
            patch_mode = m.at("id").get<int>();
            corner = d.find("top-left corner") != std::string::npos;
            EXPECT_TRUE(corner) << d;
            EXPECT_EQ(m.at("goes_to").at(0).at("name"), "1_patch") << d;
        } else {
            EXPECT_EQ(which, kCast) << d;
            EXPECT_EQ(m.at("goes_to").at(0).at("name"), "2_blue") << d;
        }
    }
    EXPECT_EQ(total, 24);
    EXPECT_GE(double(majority) / double(total), 0.9);
    EXPECT_TRUE(corner);
    // The flip test by failure mode (every error tested: --flip-n 24): removing what the patch mode's
    // errors look at (the patch) gives the true class back: distractor evidence.
    const nlohmann::json* flips = nullptr;
    for (const auto& g : summary.at("flip_test").at("per_mode"))
        if (g.at("mode") == patch_mode) flips = &g;
    ASSERT_NE(flips, nullptr) << summary.at("flip_test").dump(1);
    EXPECT_GE(flips->at("tested").get<int>(), 10) << flips->dump();
    EXPECT_GE(flips->at("distractor").get<double>(), 0.8 * flips->at("tested").get<double>()) << flips->dump();
    EXPECT_TRUE(is_png(out / "flip_test" / format("mode_%d.png", patch_mode)));
    // The sheet, the index section, the text summary and the explorer's filter data.
    EXPECT_TRUE(is_png(out / group->at("file").get<std::string>()));
    EXPECT_NE(slurp(out / "index.html").find("id=\"failure-modes\""), std::string::npos);
    EXPECT_NE(slurp(out / "analysis_summary.txt").find("Failure modes"), std::string::npos);
    const ExplorerData d = explorer_from_json(parse_explorer_data_js(slurp(out / "explorer" / "data.js"), "data.js"),
                                              "data.js");
    ASSERT_TRUE(d.failure_modes && d.rows.mode);
    long long with_mode = 0;
    for (int v : *d.rows.mode) with_mode += v >= 0;
    EXPECT_EQ(with_mode, 24);
}

}  // namespace
