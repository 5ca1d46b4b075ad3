// The explorer's data model (explorer_data, cell_rows, data.js) and its offline copy written by
// write_report, on a hand-built input whose confusions are known by design.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "camscope/report/explorer.hpp"
#include "camscope/util/error.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using nlohmann::json;

namespace {

// 3 classes × 6 images; class 0: 4 right, 2 -> 1; class 1: 6 right; class 2: 3 right, 3 -> 0.
// The logits make the predicted class win with confidence rising with j.
AnalysisInput make_input() {
    AnalysisInput in;
    in.model_path = "m.pt";
    in.dataset_name = "toy";
    in.split = "test";
    in.layer = "features";
    in.method = "gradcam";
    in.class_names = {"cat", "dog", "car"};
    in.num_classes = 3;
    in.fh = in.fw = 2;
    in.input_h = in.input_w = 4;
    for (int c = 0; c < 3; ++c)
        for (int j = 0; j < 6; ++j) {
            const int pred = c == 0 ? (j < 4 ? 0 : 1) : c == 1 ? 1 : (j < 3 ? 2 : 0);
            in.indices.push_back(static_cast<int>(in.n++));
            in.labels.push_back(c);
            std::vector<float> z{0.f, 0.1f, 0.2f};
            z[pred] = 1.f + 0.5f * j;
            double s = 0;
            for (float v : z) s += std::exp(double(v));
            for (float v : z) {
                in.logits.push_back(v);
                in.probs.push_back(static_cast<float>(std::exp(double(v)) / s));
            }
            for (int k = 0; k < 4; ++k) {
                in.cam_pred.push_back(k == 0 ? 1.f : 0.1f);
                in.cam_true.push_back(k == 3 ? 1.f : 0.1f);
            }
        }
    in.load_image = [](size_t row) {
        return Image{4, 4, 3, std::vector<std::uint8_t>(48, static_cast<std::uint8_t>(10 * row))};
    };
    return in;
}

AnalysisOptions quiet() {
    AnalysisOptions o;
    o.progress = false;
    return o;
}

}  // namespace

TEST(Explorer, AssetsAreEmbeddedAndLookedUpByExactName) {
    for (const char* name : {"index.html", "app.js", "style.css"}) {
        const WebAsset* a = find_web_asset(name);
        ASSERT_NE(a, nullptr) << name;
        EXPECT_GT(a->bytes.size(), 100u) << name;
    }
    EXPECT_EQ(find_web_asset("index.html")->content_type, "text/html; charset=utf-8");
    EXPECT_NE(find_web_asset("index.html")->bytes.find("app.js"), std::string_view::npos);
    for (const char* name : {"", "/index.html", "../index.html", "./app.js", "web/app.js", "data.js"})
        EXPECT_EQ(find_web_asset(name), nullptr) << name;
}

TEST(Explorer, DataHasTheDesignedConfusionsAndTopK) {
    const auto in = make_input();
    const Report r = build_report(in, quiet());
    const json d = explorer_data(r, in);
    EXPECT_EQ(d["schema"], kExplorerSchema);
    EXPECT_EQ(d["run"]["n"], 18);
    EXPECT_EQ(d["confusion"]["counts"], json::parse("[[4,2,0],[0,6,0],[3,0,3]]"));
    ASSERT_EQ(d["rows"]["pred"].size(), 18u);
    for (size_t i = 0; i < 18; ++i) {
        const auto& top = d["rows"]["top"][i];
        const auto& p = d["rows"]["top_p"][i];
        ASSERT_EQ(top.size(), 3u);  // top-5 clamped to 3 classes
        EXPECT_EQ(top[0], d["rows"]["pred"][i]);
        EXPECT_GE(p[0].get<double>(), p[1].get<double>());
        EXPECT_GE(p[1].get<double>(), p[2].get<double>());
        EXPECT_NEAR(p[0].get<double>(), d["rows"]["conf"][i].get<double>(), 1e-4);
    }
    // Cell 2 -> 0: rows 15, 16, 17, most confident (largest j) first.
    EXPECT_EQ(cell_rows(d, 2, 0), (std::vector<size_t>{17, 16, 15}));
    EXPECT_TRUE(cell_rows(d, 1, 2).empty());
    EXPECT_EQ(d["pairs"][0]["true"], 2);  // 3 errors 2 -> 0 before 2 errors 0 -> 1
    EXPECT_EQ(d["pairs"][0]["pred"], 0);
    EXPECT_EQ(d["galleries"][2]["worst"].size(), 3u);
}

TEST(Explorer, DataJsRoundTripsAndRejectsOtherFiles) {
    const auto in = make_input();
    const json d = explorer_data(build_report(in, quiet()), in);
    json odd = d;
    odd["run"]["model_path"] = "</script><b>x";
    const std::string js = explorer_data_js(odd);
    EXPECT_EQ(js.find("</script>"), std::string::npos);  // safe to inline into HTML
    EXPECT_EQ(parse_explorer_data_js(js, "data.js"), odd);
    EXPECT_THROW(parse_explorer_data_js("alert(1)", "x.js"), Error);
    EXPECT_THROW(parse_explorer_data_js("window.CAMSCOPE_DATA = {\"schema\": 1};", "x.js"), Error);
    EXPECT_THROW(parse_explorer_data_js("window.CAMSCOPE_DATA = {\"schema\": 99};", "x.js"), Error);
    EXPECT_THROW(parse_explorer_data_js("window.CAMSCOPE_DATA = {not json};", "x.js"), Error);
}

TEST(Explorer, ReportWritesAnOfflineCopyWithEveryReferencedImage) {
    const auto in = make_input();
    const auto opt = quiet();
    const Report r = build_report(in, opt);
    const fs::path dir = fs::temp_directory_path() / "camscope_test_explorer";
    fs::remove_all(dir);
    write_report(r, in, opt, dir.string());
    for (const char* f : {"index.html", "app.js", "style.css", "data.js"})
        EXPECT_TRUE(fs::is_regular_file(dir / "explorer" / f)) << f;
    std::ifstream f(dir / "explorer" / "data.js");
    std::stringstream ss;
    ss << f.rdbuf();
    const json d = parse_explorer_data_js(ss.str(), "data.js");
    EXPECT_TRUE(d["offline"].get<bool>());
    // 18 images: all of them fit the offline budget; errors have the dual view.
    ASSERT_EQ(d["images"].size(), 18u);
    for (const auto& [row, e] : d["images"].items()) {
        const bool error = d["rows"]["label"][std::stoul(row)] != d["rows"]["pred"][std::stoul(row)];
        EXPECT_EQ(e.contains("diff"), error) << row;
        for (const auto& [kind, file] : e.items()) EXPECT_TRUE(fs::is_regular_file(dir / "explorer" / file.get<std::string>()));
    }
    EXPECT_TRUE(fs::is_regular_file(dir / "summary.json"));
    fs::remove_all(dir);
}
