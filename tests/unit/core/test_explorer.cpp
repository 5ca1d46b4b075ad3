// The explorer's data model (explorer_data, cell_rows, data.js) and its offline copy written by
// write_report, on a hand-built input whose confusions are known by design. Over 500 lines: one
// designed input shared by every test of the explorer's data.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "camscope/report/explorer.hpp"
#include "camscope/report/thumbs.hpp"
#include "camscope/util/error.hpp"
#include "support/files.hpp"
#include "support/report_input.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using nlohmann::json;
using support::TempDir;

namespace {

// 3 classes × 6 images; class 0: 4 right, 2 -> 1; class 1: 6 right; class 2: 3 right, 3 -> 0.
// The logits make the predicted class win with confidence rising with j.
AnalysisInput make_input() {
    AnalysisInput in = support::report_input({"cat", "dog", "car"}, 2, 2, 4, 4);
    in.model_path = "m.pt";
    in.dataset_name = "toy";
    in.split = "test";
    in.layer = "features";
    in.method = "gradcam";
    for (int c = 0; c < 3; ++c)
        for (int j = 0; j < 6; ++j) {
            const int pred = c == 0 ? (j < 4 ? 0 : 1) : c == 1 ? 1 : (j < 3 ? 2 : 0);
            std::vector<double> z{0.f, 0.1f, 0.2f};  // float values, as the designed logits always were
            z[pred] = 1.f + 0.5f * j;
            support::add_row(in, static_cast<int>(in.n), c, z, {1.f, 0.1f, 0.1f, 0.1f}, {0.1f, 0.1f, 0.1f, 1.f});
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
    const ExplorerRows rows = explorer_model(r, in).rows;
    EXPECT_EQ(cell_rows(rows, 2, 0), (std::vector<size_t>{17, 16, 15}));
    EXPECT_TRUE(cell_rows(rows, 1, 2).empty());
    EXPECT_EQ(d["pairs"][0]["true"], 2);  // 3 errors 2 -> 0 before 2 errors 0 -> 1
    EXPECT_EQ(d["pairs"][0]["pred"], 0);
    EXPECT_EQ(d["galleries"][2]["worst"].size(), 3u);
}

// The one JSON form of the typed model: what the writer writes reads back to the same model and
// the same JSON (schema 2, dense and sparse confusion, superclasses, a faithfulness list); a
// schema 1 document (no schema-2 keys, no rows.blank) reads and writes back as it was.
TEST(Explorer, TypedModelRoundTripsThroughItsJson) {
    const auto in = make_input();
    Report r = build_report(in, quiet());
    const json d = explorer_data(r, in);
    const ExplorerData m = explorer_from_json(d, "data.js");
    EXPECT_EQ(to_json(m), d);
    EXPECT_EQ(to_json(m).dump(), d.dump());
    EXPECT_EQ(m.classes, r.class_names);
    ASSERT_EQ(m.rows.size(), 18u);
    for (size_t i = 0; i < 18; ++i) {
        EXPECT_EQ(m.rows.label[i], r.rows[i].label);
        EXPECT_EQ(m.rows.pred[i], r.rows[i].pred);
        EXPECT_EQ(m.rows.index[i], r.rows[i].index);
        EXPECT_EQ(m.rows.top[i].size(), 3u);
    }
    EXPECT_EQ(m.confusion.counts, (std::vector<std::vector<long long>>{{4, 2, 0}, {0, 6, 0}, {3, 0, 3}}));
    EXPECT_EQ(m.method, r.method);

    r.sparse_confusion_json = true;
    r.has_superclasses = true;
    r.coarse_names = {"x", "y"};
    r.fine_to_coarse = {0, 1, 1};
    const json sparse = explorer_data(r, in);
    const ExplorerData ms = explorer_from_json(sparse, "data.js");
    EXPECT_TRUE(ms.confusion.sparse);
    EXPECT_EQ(ms.confusion.cells.size(), 5u);  // the non-zero cells of [[4,2,0],[0,6,0],[3,0,3]]
    ASSERT_TRUE(ms.superclasses.has_value());
    EXPECT_EQ(ms.superclasses->of_class, (std::vector<int>{0, 1, 1}));
    EXPECT_EQ(to_json(ms), sparse);

    json old = d;  // schema 1: what folders written before schema 2 hold
    old["schema"] = 1;
    for (const char* key : {"superclasses", "thresholds", "lists", "thumbs", "tags_key", "failure_modes"}) old.erase(key);
    for (const char* key : {"p_true", "flags", "lscore", "centre", "blank", "mode"}) old["rows"].erase(key);
    const ExplorerData m1 = explorer_from_json(old, "data.js");
    EXPECT_FALSE(m1.rows.blank.has_value());
    EXPECT_TRUE(m1.rows.p_true.empty());
    EXPECT_EQ(to_json(m1), old);
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
    EXPECT_THROW(parse_explorer_data_js("window.CAMSCOPE_DATA = {\"schema\": 3};", "x.js"), Error);
    json old = d;  // data.js of schema 1 (folders written before schema 2) still reads
    old["schema"] = 1;
    EXPECT_EQ(parse_explorer_data_js(explorer_data_js(old), "data.js")["schema"], 1);
    EXPECT_THROW(parse_explorer_data_js("window.CAMSCOPE_DATA = {not json};", "x.js"), Error);
}

TEST(Explorer, ReportWritesAnOfflineCopyWithEveryReferencedImage) {
    const auto in = make_input();
    const auto opt = quiet();
    const Report r = build_report(in, opt);
    const TempDir tmp("test_explorer");
    const fs::path dir = tmp.path() / "report";
    write_report(r, in, opt, dir.string());
    // Every embedded file of the page (CMakeLists.txt's list), byte for byte, and the data.
    EXPECT_GT(web_assets().size(), 3u);
    for (const auto& a : web_assets()) {
        std::ifstream in(dir / "explorer" / std::string(a.name), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        EXPECT_EQ(bytes.str(), a.bytes) << a.name;
    }
    EXPECT_TRUE(fs::is_regular_file(dir / "explorer" / "data.js"));
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
}

// ---------------------------------------------------------------- schema 2

namespace {

// A pseudo-random analysis: n rows, k classes, 8×8 CAMs at an 8×8 input (no upsampling, so the
// centre box is exactly rows/columns 2..5), every 7th predicted-class CAM all zeros (degenerate),
// every 11th constant (degenerate). Images of row r: 8×8 RGB whose pixel (y, x, c) = (r + 3y + 5x + 7c) % 256.
AnalysisInput random_input(size_t n, int k, unsigned seed) {
    std::vector<std::string> names;
    for (int c = 0; c < k; ++c) {
        std::string name = "c";  // not "c" + std::to_string(c): GCC 12's -Wrestrict false positive
        name += std::to_string(c);
        names.push_back(name);
    }
    AnalysisInput in = support::report_input(names, 8, 8, 8, 8);
    in.model_path = "m.pt";
    in.dataset_name = "rand";
    in.split = "test";
    in.layer = "features";
    in.method = "gradcam";
    std::uint64_t s = seed;
    auto rnd = [&] {  // uniform in [0, 1)
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return double(s >> 11) / double(1ull << 53);
    };
    for (size_t i = 0; i < n; ++i) {
        const int y = static_cast<int>(rnd() * k);
        std::vector<double> z(k);
        for (int c = 0; c < k; ++c) z[c] = 2.5 * rnd() + (c == y ? 1.5 * rnd() : 0.0);
        std::vector<float> cam;
        for (int p = 0; p < 64; ++p) cam.push_back(i % 7 == 0 ? 0.f : i % 11 == 0 ? 0.5f : static_cast<float>(rnd()));
        support::add_row(in, static_cast<int>(i), y, z, cam, cam);
    }
    in.load_image = [](size_t row) {
        Image img{8, 8, 3, std::vector<std::uint8_t>(192)};
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x)
                for (int c = 0; c < 3; ++c) img.pixels[(y * 8 + x) * 3 + c] = static_cast<std::uint8_t>((row + 3 * y + 5 * x + 7 * c) % 256);
        return img;
    };
    return in;
}

int argmax(const float* p, int k) {
    int best = 0;
    for (int c = 1; c < k; ++c)
        if (p[c] > p[best]) best = c;
    return best;
}

}  // namespace

TEST(ExplorerSchema2, RowColumnsMatchValuesRecomputedFromTheInput) {
    const size_t n = 400;
    const int k = 5;
    const auto in = random_input(n, k, 7);
    auto opt = quiet();
    opt.high_conf = 0.45;  // the random softmax rarely reaches 0.9
    opt.low_conf = 0.4;
    const Report r = build_report(in, opt);
    const json d = explorer_data(r, in);
    ASSERT_EQ(d["schema"], 2);
    const auto& rows = d["rows"];
    for (const char* col : {"p_true", "flags", "lscore", "centre"}) ASSERT_EQ(rows[col].size(), n) << col;

    // Confident learning, recomputed: t_j = mean p_j over the images labelled j.
    std::vector<double> t(k, 0), cnt(k, 0);
    for (size_t i = 0; i < n; ++i) t[in.labels[i]] += in.probs[i * k + in.labels[i]], cnt[in.labels[i]] += 1;
    for (int c = 0; c < k; ++c) t[c] /= cnt[c];

    int high = 0, low = 0, issues = 0, nulls = 0;
    for (size_t i = 0; i < n; ++i) {
        const float* p = in.probs.data() + i * k;
        const int y = in.labels[i], pred = argmax(p, k);
        EXPECT_NEAR(rows["p_true"][i].get<double>(), p[y], 5.1e-5) << i;
        const bool hc = pred != y && p[pred] >= opt.high_conf, lc = pred == y && p[pred] < opt.low_conf;
        double best = -1;
        if (p[y] < t[y])
            for (int c = 0; c < k; ++c)
                if (c != y && p[c] >= t[c]) best = std::max(best, double(p[c]));
        const bool issue = best >= 0;
        EXPECT_EQ(rows["flags"][i].get<int>(), (hc ? 1 : 0) | (lc ? 2 : 0) | (issue ? 4 : 0)) << i;
        high += hc, low += lc, issues += issue;
        if (issue) {
            ASSERT_TRUE(rows["lscore"][i].is_number()) << i;
            EXPECT_NEAR(rows["lscore"][i].get<double>(), best - p[y], 5.1e-5) << i;
        } else {
            EXPECT_TRUE(rows["lscore"][i].is_null()) << i;
        }
        // Centre share of the predicted-class map: mass in rows/cols 2..5 over all mass.
        const float* m = in.cam_pred.data() + i * 64;
        if (i % 7 == 0 || i % 11 == 0) {
            EXPECT_TRUE(rows["centre"][i].is_null()) << i;
            ++nulls;
        } else {
            double in_box = 0, all = 0;
            for (int yy = 0; yy < 8; ++yy)
                for (int xx = 0; xx < 8; ++xx) {
                    all += m[yy * 8 + xx];
                    if (yy >= 2 && yy < 6 && xx >= 2 && xx < 6) in_box += m[yy * 8 + xx];
                }
            ASSERT_TRUE(rows["centre"][i].is_number()) << i;
            EXPECT_NEAR(rows["centre"][i].get<double>(), in_box / all, 5.1e-5) << i;
        }
    }
    // The input exercises every flag, and the lists hold exactly the flagged rows.
    EXPECT_GT(high, 0);
    EXPECT_GT(low, 0);
    EXPECT_GT(issues, 0);
    EXPECT_GT(nulls, 0);
    auto rows_with = [&](int bit) {
        std::set<size_t> out;
        for (size_t i = 0; i < n; ++i)
            if (rows["flags"][i].get<int>() & bit) out.insert(i);
        return out;
    };
    auto as_set = [](const json& a) {
        std::set<size_t> out;
        for (const auto& v : a) out.insert(v.get<size_t>());
        EXPECT_EQ(out.size(), a.size());
        return out;
    };
    EXPECT_EQ(as_set(d["lists"]["high_conf_errors"]), rows_with(1));
    EXPECT_EQ(as_set(d["lists"]["low_conf_correct"]), rows_with(2));
    EXPECT_EQ(as_set(d["lists"]["label_issues"]), rows_with(4));
    // label_issues is ranked: the score never rises down the list.
    const auto& li = d["lists"]["label_issues"];
    for (size_t j = 1; j < li.size(); ++j)
        EXPECT_GE(rows["lscore"][li[j - 1].get<size_t>()].get<double>(), rows["lscore"][li[j].get<size_t>()].get<double>());
    EXPECT_EQ(d["thresholds"]["high_conf"], 0.45);
    EXPECT_EQ(d["thresholds"]["low_conf"], 0.4);
    EXPECT_TRUE(d["superclasses"].is_null());
    EXPECT_TRUE(d["lists"]["faithfulness"].is_array() && d["lists"]["faithfulness"].empty());
    // Degenerate predicted-class maps: rows divisible by 7 or 11, counted by predicted class.
    long long deg = 0;
    std::vector<long long> by(k, 0), maps(k, 0);
    for (size_t i = 0; i < n; ++i) {
        const int pred = argmax(in.probs.data() + i * k, k);
        ++maps[pred];
        if (i % 7 == 0 || i % 11 == 0) ++deg, ++by[pred];
    }
    EXPECT_EQ(d["lists"]["degenerate"]["maps"], n);
    EXPECT_EQ(d["lists"]["degenerate"]["degenerate"], deg);
    ASSERT_EQ(d["lists"]["degenerate"]["by_pred_class"].size(), size_t(k));
    for (int c = 0; c < k; ++c) {
        EXPECT_EQ(d["lists"]["degenerate"]["by_pred_class"][c]["cls"], c);
        EXPECT_EQ(d["lists"]["degenerate"]["by_pred_class"][c]["maps"], maps[c]);
        EXPECT_EQ(d["lists"]["degenerate"]["by_pred_class"][c]["degenerate"], by[c]);
    }
    EXPECT_TRUE(d["tags_key"].is_string());
    EXPECT_GE(d["tags_key"].get<std::string>().size(), 16u);
    // The thumbnails' layout: 8×8 tiles, one sheet for 400 rows.
    EXPECT_EQ(d["thumbs"]["tile"], json::parse("[8, 8]"));
    EXPECT_EQ(d["thumbs"]["sheets"], json::parse(R"(["img/thumbs-0.png"])"));
}

TEST(ExplorerSchema2, ManyClassesGiveSparseCellsRecountedFromLabelsAndPredictions) {
    const size_t n = 300;
    const int k = 12;
    const auto in = random_input(n, k, 3);
    auto opt = quiet();
    opt.dense_confusion_max = 10;  // as above 200 classes by default
    const Report r = build_report(in, opt);
    const json d = explorer_data(r, in);
    EXPECT_FALSE(d["confusion"].contains("counts"));
    std::map<std::pair<int, int>, long long> want;
    for (size_t i = 0; i < n; ++i) ++want[{in.labels[i], argmax(in.probs.data() + i * k, k)}];
    std::map<std::pair<int, int>, long long> got;
    for (const auto& c : d["confusion"]["cells"]) {
        ASSERT_EQ(c.size(), 3u);
        EXPECT_GT(c[2].get<long long>(), 0);
        EXPECT_EQ(got.count({c[0], c[1]}), 0u) << "cell listed twice";
        got[{c[0].get<int>(), c[1].get<int>()}] = c[2].get<long long>();
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(d["confusion"]["order"].size(), size_t(k));
    // The dense form at the default limit.
    const json dense = explorer_data(build_report(in, quiet()), in);
    for (const auto& [cell, count] : want) EXPECT_EQ(dense["confusion"]["counts"][cell.first][cell.second], count);
}

TEST(ExplorerSchema2, SuperclassesAreListed) {
    auto in = random_input(60, 4, 5);
    in.coarse_names = {"animal", "vehicle"};
    in.fine_to_coarse = {1, 0, 1, 0};
    const json d = explorer_data(build_report(in, quiet()), in);
    EXPECT_EQ(d["superclasses"]["names"], json::parse(R"(["animal", "vehicle"])"));
    EXPECT_EQ(d["superclasses"]["of_class"], json::parse("[1, 0, 1, 0]"));
}

TEST(ExplorerSchema2, OfflineCopyHasThumbnailSheetsOfEveryInput) {
    const size_t n = 70;
    const auto in = random_input(n, 3, 11);
    auto opt = quiet();
    opt.threads = 3;
    const Report r = build_report(in, opt);
    const TempDir tmp("test_explorer_thumbs");
    const fs::path dir = tmp.path() / "report";
    write_report(r, in, opt, dir.string());
    std::ifstream f(dir / "explorer" / "data.js");
    std::stringstream ss;
    ss << f.rdbuf();
    const json d = parse_explorer_data_js(ss.str(), "data.js");
    const auto& th = d["thumbs"];
    ASSERT_EQ(th["sheets"].size(), 1u);
    const int th_h = th["tile"][0], th_w = th["tile"][1], cols = th["cols"];
    const Image sheet = read_image_file((dir / "explorer" / th["sheets"][0].get<std::string>()).string());
    ASSERT_EQ(sheet.channels, 3);
    ASSERT_EQ(sheet.width, cols * th_w);  // 70 tiles: a full first row of 32
    ASSERT_EQ(sheet.height, 3 * th_h);    // 3 rows of tiles
    // The 8×8 inputs fit their 8×8 tiles as they are: every pixel of a few tiles equals the input's.
    for (size_t row : {size_t(0), size_t(1), size_t(33), size_t(69)}) {
        const Image img = in.load_image(row);
        const int x0 = static_cast<int>(row % cols) * th_w, y0 = static_cast<int>(row / cols) * th_h;
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x)
                for (int c = 0; c < 3; ++c) ASSERT_EQ(sheet.at(y0 + y, x0 + x, c), img.at(y, x, c)) << row << " " << y << " " << x;
    }
    // After the last tile: the background.
    EXPECT_EQ(sheet.at(2 * th_h, 6 * th_w, 0), kThumbBackground);
}

TEST(Thumbs, LargeImagesAreShrunkByAreaWithTheirAspectKeptAndCentred) {
    // Model input 96×64 (h×w): tiles 48×32. A 64×128 (h×w) image: scale min(32/128, 48/64) = 0.25 -> 16×32,
    // centred vertically at y 16; each tile pixel is the mean of a 4×4 block.
    const ThumbLayout l = thumb_layout(1, 96, 64);
    ASSERT_EQ(l.tile_h, 48);
    ASSERT_EQ(l.tile_w, 32);
    Image img{128, 64, 3, std::vector<std::uint8_t>(128 * 64 * 3)};
    for (int y = 0; y < 64; ++y)
        for (int x = 0; x < 128; ++x)
            for (int c = 0; c < 3; ++c) img.pixels[(y * 128 + x) * 3 + c] = static_cast<std::uint8_t>((x * 2 + y * 3 + c * 50) % 256);
    const Image tile = thumb_tile(img, l.tile_h, l.tile_w);
    ASSERT_EQ(tile.width, 32);
    ASSERT_EQ(tile.height, 48);
    for (int y = 0; y < 48; ++y)
        for (int x = 0; x < 32; ++x)
            for (int c = 0; c < 3; ++c) {
                int want = kThumbBackground;
                if (y >= 16 && y < 32) {
                    double s = 0;
                    for (int dy = 0; dy < 4; ++dy)
                        for (int dx = 0; dx < 4; ++dx) s += img.at((y - 16) * 4 + dy, x * 4 + dx, c);
                    want = static_cast<int>(std::lround(s / 16));
                }
                ASSERT_NEAR(tile.at(y, x, c), want, 1) << y << " " << x << " " << c;
            }
    // Grey images become RGB; an image smaller than its tile is not enlarged.
    const Image grey{4, 2, 1, {10, 20, 30, 40, 50, 60, 70, 80}};
    const Image t2 = thumb_tile(grey, 8, 8);
    EXPECT_EQ(t2.at(3, 2, 0), 10);
    EXPECT_EQ(t2.at(3, 2, 2), 10);
    EXPECT_EQ(t2.at(4, 5, 1), 80);
    EXPECT_EQ(t2.at(0, 0, 0), kThumbBackground);
    EXPECT_EQ(t2.at(3, 1, 0), kThumbBackground);
}

TEST(Thumbs, SheetsSplitTheRowsAndDoNotDependOnTheThreadCount) {
    const ThumbLayout l = thumb_layout(2500, 32, 32);
    EXPECT_EQ(l.tile_h, 32);
    EXPECT_EQ(l.per_sheet, 1024u);
    ASSERT_EQ(l.sheets(), 3u);
    EXPECT_EQ(l.rows_in(2), 2500u - 2048u);
    auto load = [](size_t row) {
        return Image{32, 32, 3, std::vector<std::uint8_t>(32 * 32 * 3, static_cast<std::uint8_t>(row % 251))};
    };
    const Image one = thumb_sheet(l, 2, load, 1), four = thumb_sheet(l, 2, load, 4);
    EXPECT_EQ(one.pixels, four.pixels);
    EXPECT_EQ(one.width, 32 * 32);
    EXPECT_EQ(one.height, 15 * 32);  // 452 tiles: 15 rows of 32
    // Row 2048 + 100 sits at tile 100: column 4, row 3.
    EXPECT_EQ(one.at(3 * 32 + 5, 4 * 32 + 7, 1), (2048 + 100) % 251);
    EXPECT_THROW(thumb_sheet(l, 3, load, 1), Error);
    EXPECT_EQ(explorer_thumbs(l, "api/thumbs/").sheets[2], "api/thumbs/2.png");
}

TEST(ExplorerSchema2, FaithfulnessListIsTheRankingThenTheLayerChecks) {
    const auto in = random_input(40, 3, 9);
    Report r = build_report(in, quiet());
    faith::Summary s;
    s.layer = "features";
    s.ranking = {{"hirescam", 1.25, {}}, {"gradcam", 1.75, {}}};
    for (const auto& [m, n, deg] : std::vector<std::tuple<std::string, long long, long long>>{{"gradcam", 20, 3}, {"hirescam", 20, 0}}) {
        faith::GroupRow g;
        g.method = m;
        g.group = "overall";
        g.n = n;
        g.degenerate = deg;
        s.rows.push_back(g);
    }
    s.layer_checks = {{"gradcam", "features", 8, 8, 20, 3}, {"gradcam", "block2", 16, 16, 20, 1}};
    r.faithfulness = s;
    const json f = explorer_data(r, in)["lists"]["faithfulness"];
    EXPECT_EQ(f, json::parse(R"([
        {"method": "hirescam", "layer": "features", "mean_rank": 1.25, "maps": 20, "degenerate": 0},
        {"method": "gradcam", "layer": "features", "mean_rank": 1.75, "maps": 20, "degenerate": 3},
        {"method": "gradcam", "layer": "block2", "mean_rank": null, "maps": 20, "degenerate": 1}])"));
}


// The flip test and the sanity gate (issue 25) in the explorer's data: rows.flip holds each tested
// error's prediction without its evidence, the counts are the report's, both read back; files
// written before them (no "flips", no rows.flip, no "sanity") still read, and a rows.flip that
// disagrees with its counts or marks a correct row is refused.
TEST(ExplorerSchema2, FlipTestAndSanityGateRoundTripAndOldFilesStillRead) {
    const auto in = make_input();
    Report r = build_report(in, quiet());
    ASSERT_NE(r.rows[4].label, r.rows[4].pred);    // 0 -> 1
    ASSERT_NE(r.rows[15].label, r.rows[15].pred);  // 2 -> 0
    FlipSummary f;
    // (row, after, the outcome by definition): the true class, the same wrong class, a third class.
    const std::vector<std::tuple<size_t, int, FlipOutcome>> tested = {
        {4, 0, FlipOutcome::flips_to_true}, {15, 0, FlipOutcome::stays}, {16, 1, FlipOutcome::flips_elsewhere}};
    for (const auto& [row, after, outcome] : tested) {
        FlipRow x;
        x.row = row;
        x.index = static_cast<int>(r.rows[row].index);
        x.label = r.rows[row].label;
        x.pred = r.rows[row].pred;
        x.after = after;
        x.outcome = outcome;
        f.rows.push_back(x);
        f.overall.add(outcome);
    }
    r.flips = f;
    faith::SanitySummary s;
    s.n = 10;
    s.threshold = 0.5;
    s.cascade.push_back({"fc", 1, 10, 0, 0.9, 0.8});  // the maps survive randomisation: the gate fails
    r.sanity = s;

    const json d = explorer_data(r, in);
    std::vector<int> want(18, -1);
    want[4] = 0, want[15] = 0, want[16] = 1;
    EXPECT_EQ(d["rows"]["flip"].get<std::vector<int>>(), want);
    EXPECT_EQ(d["flips"]["tested"], 3);
    EXPECT_EQ(d["flips"]["distractor"], 1);
    EXPECT_EQ(d["flips"]["missing"], 1);
    EXPECT_EQ(d["flips"]["unstable"], 1);
    EXPECT_EQ(d["flips"]["fraction"], 0.2);
    EXPECT_EQ(d["flips"]["headline"], flips_headline(f));
    EXPECT_EQ(d["sanity"]["passed"], false);
    EXPECT_EQ(d["sanity"]["headline"], faith::sanity_headline(s));
    EXPECT_EQ(d["sanity"]["warning"].get<std::vector<std::string>>(), faith::sanity_warning(s));
    EXPECT_FALSE(d["sanity"]["warning"].empty());
    const ExplorerData m = explorer_from_json(d, "data.js");
    ASSERT_TRUE(m.flips && m.sanity && m.rows.flip);
    EXPECT_EQ(*m.rows.flip, want);
    EXPECT_FALSE(m.sanity->passed);
    EXPECT_EQ(to_json(m), d);

    Report passed = r;  // a gate that passed: no warning lines
    passed.sanity->cascade.back().spearman = 0.1;
    const json dp = explorer_data(passed, in);
    EXPECT_EQ(dp["sanity"]["passed"], true);
    EXPECT_TRUE(dp["sanity"]["warning"].empty());

    json old = d;  // written before: neither the flip test nor the gate
    old.erase("flips");
    old.erase("sanity");
    old["rows"].erase("flip");
    const ExplorerData mo = explorer_from_json(old, "data.js");
    EXPECT_FALSE(mo.flips || mo.sanity || mo.rows.flip);
    EXPECT_EQ(to_json(mo), old);

    json bad = d;
    bad["rows"]["flip"][0] = 1;  // row 0 is correct
    EXPECT_THROW(explorer_from_json(bad, "data.js"), Error);
    bad = d;
    bad["flips"]["missing"] = 2;  // rows.flip has one
    EXPECT_THROW(explorer_from_json(bad, "data.js"), Error);
    bad = d;
    bad["rows"].erase("flip");
    EXPECT_THROW(explorer_from_json(bad, "data.js"), Error);
    bad = d;
    bad["rows"]["flip"][4] = 3;  // not a class
    EXPECT_THROW(explorer_from_json(bad, "data.js"), Error);
}
