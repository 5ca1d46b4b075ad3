// The results folder `camscope serve --results` trusts (serve/results.hpp) and the identity that
// ties it to a model file and dataset (report/identity.hpp): a complete, consistent pair parses;
// every malformed index, count or missing part is refused with an Error naming the file and the
// field; the fuzz target's seeds-turned-regressions (tests/fuzz_regressions/fuzz_results/) replay.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include "camscope/report/identity.hpp"
#include "camscope/serve/results.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/sha256.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using nlohmann::json;

namespace {

const std::string kHash(64, 'a');

std::string summary_text() {
    return R"({"schema_version":1,"generator":"camscope","run":{"num_images":4},"classes":["a","b","c"],"identity":{)"
           R"("model":{"path":"m.pt","bytes":10,"sha256":")" + kHash + R"("},"dataset":{"path":"d","format":"cifar10",)"
           R"("name":"cifar10","split":"test","images":4,"classes":3,"fingerprint":")" + kHash + R"("},"input":{"channels":3,)"
           R"("height":32,"width":32,"mean":[0.5,0.5,0.5],"std":[0.25,0.25,0.25]},"cam":{"method":"gradcam",)"
           R"("layer":"layer4","eigen_smooth":false,"aug_smooth":false,"max_channels":0}}})";
}

std::string data_text() {
    return "// camscope explorer data\nwindow.CAMSCOPE_DATA = "
           R"({"schema":1,"run":{"method":"gradcam","layer":"layer4","n":4},"overall":{"top1":0.5},"calibration":{"ece":0.1},)"
           R"("classes":["a","b","c"],"per_class":[{},{},{}],"confusion":{"counts":[[1,1,0],[0,1,0],[0,0,1]],"order":[0,1,2]},)"
           R"("pairs":[{"true":0,"pred":1,"count":1,"rate":0.5}],"rows":{"index":[0,1,2,3],"label":[0,0,1,2],"pred":[0,1,1,2],)"
           R"("conf":[0.9,0.6,0.8,0.7],"top":[[0,1],[1,0],[1,2],[2,0]],"top_p":[[0.9,0.1],[0.6,0.4],[0.8,0.2],[0.7,0.3]]},)"
           R"("galleries":[{"cls":0,"worst":[1],"best":[0]},{"cls":1,"worst":[],"best":[2]},{"cls":2,"worst":[],"best":[3]}]};)"
           "\n";
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
    const size_t at = s.find(from);
    if (at == std::string::npos) throw std::runtime_error("no '" + from + "' in the test text");
    return s.replace(at, from.size(), to);
}

/// The Error message of parsing the pair ("" if it parses).
std::string refusal(const std::string& summary, const std::string& data) {
    try {
        serve::parse_results(summary, data, "r/summary.json", "r/explorer/data.js");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

/// A dataset in memory: n images of 2×2 RGB, label i % k.
class MemDataset : public Dataset {
public:
    MemDataset(size_t n, int k) : n_(n) {
        info_.format = "cifar10";
        info_.name = "mem";
        info_.split = "test";
        for (int c = 0; c < k; ++c) info_.class_names.push_back("c" + std::to_string(c));
    }
    size_t size() const override { return n_; }
    Sample get(size_t i) const override {
        Sample s;
        s.image = Image{2, 2, 3, std::vector<std::uint8_t>(12, static_cast<std::uint8_t>(i + bump))};
        s.label = static_cast<int>(i % info_.class_names.size());
        return s;
    }
    const DatasetInfo& info() const override { return info_; }
    int bump = 0;
    DatasetInfo info_;

private:
    size_t n_;
};

}  // namespace

TEST(ServeResults, ACompletePairParses) {
    const auto r = serve::parse_results(summary_text(), data_text(), "s", "d");
    EXPECT_EQ(r.data["rows"]["pred"][1], 1);
    EXPECT_EQ(r.identity.model_sha256, kHash);
    EXPECT_EQ(r.identity.cam.layers, std::vector<std::string>{"layer4"});
    EXPECT_EQ(r.identity.mean, (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST(ServeResults, EveryBadIndexIsRefusedNamingTheField) {
    const std::string s = summary_text(), d = data_text();
    const std::vector<std::tuple<std::string, std::string, std::string>> cases{
        // the issue's crash: a row predicting class 99 of 3
        {R"("pred":[0,1,1,2])", R"("pred":[0,1,99,2])", "rows.pred[2]: 99 is not a class index"},
        {R"("label":[0,0,1,2])", R"("label":[0,0,-1,2])", "rows.label[2]: -1 is not a class index"},
        {R"("label":[0,0,1,2])", R"("label":[0,0,1.5,2])", "rows.label[2]: must be an integer"},
        {R"("index":[0,1,2,3])", R"("index":[0,1,2,"3"])", "rows.index[3]: must be an integer"},
        {R"("index":[0,1,2,3])", R"("index":[0,1,2])", "rows.label: 4 entries, rows.index has 3"},
        {R"("conf":[0.9,0.6,0.8,0.7])", R"("conf":[0.9,0.6,1.8,0.7])", "rows.conf[2]"},
        {R"("top":[[0,1],[1,0],[1,2],[2,0]])", R"("top":[[0,1],[1,0],[1,7],[2,0]])", "rows.top[2][1]: 7 is not a class index"},
        {R"([0.7,0.3]])", R"([0.7]])", "rows.top_p[3]"},
        {R"("best":[3])", R"("best":[4])", "galleries[2].best[0]: 4 is not a row"},
        {R"({"cls":1,)", R"({"cls":2,)", "galleries[1].cls"},
        {R"("order":[0,1,2])", R"("order":[0,1,1])", "confusion.order[2]: class 1 appears twice"},
        {R"([0,0,1]])", R"([0,0]])", "confusion.counts[2]"},
        {R"("pairs":[{"true":0,"pred":1,)", R"("pairs":[{"true":0,"pred":3,)", "pairs[0].pred: 3 is not a class index"},
        {R"("per_class":[{},{},{}])", R"("per_class":[{},{}])", "per_class: 2 entries for 3 classes"},
        {R"("schema":1)", R"("schema":3)", "schema: this camscope reads explorer data schemas 1 and 2, the file has 3"},
        {R"("schema":1)", R"("schema":2)", "rows.p_true: missing"},  // schema 2 without its fields
        {R"("overall":{"top1":0.5},)", "", "overall: missing"},
        {R"("run":{"method":"gradcam")", R"("run":{"method":7)", "run.method: must be a string"},
    };
    for (const auto& [from, to, expect] : cases) {
        const std::string msg = refusal(s, replaced(d, from, to));
        EXPECT_NE(msg.find("r/explorer/data.js: " + expect), std::string::npos) << from << " -> " << to << ": " << msg;
    }
    // Nesting deep enough to exhaust the stack of a recursive walker later is refused up front.
    std::string deep = replaced(d, R"("run":{)", R"("run":{"x":)" + std::string(100000, '[') + std::string(100000, ']') + ",");
    EXPECT_NE(refusal(s, deep).find("nested more than 32 levels"), std::string::npos);
    EXPECT_NE(refusal(s, "window.CAMSCOPE_DATA = null;").find("not an explorer data file"), std::string::npos);
    EXPECT_NE(refusal(s, replaced(d, "};", "}; alert(1)")).find("unexpected bytes"), std::string::npos);
}

namespace {

// data_text() as schema 2: the same 4 rows and 3 classes with the fields schema 2 adds.
json data2() {
    const std::string d = data_text();
    json j = json::parse(d.substr(d.find('{'), d.rfind('}') - d.find('{') + 1));
    j["schema"] = 2;
    j["rows"]["p_true"] = {0.9, 0.4, 0.8, 0.7};
    j["rows"]["flags"] = {0, 4, 0, 2};
    j["rows"]["lscore"] = {nullptr, 0.2, nullptr, nullptr};
    j["rows"]["centre"] = {0.3, nullptr, 0.5, 0.25};
    j["superclasses"] = {{"names", {"x", "y"}}, {"of_class", {0, 1, 1}}};
    j["thresholds"] = {{"high_conf", 0.9}, {"low_conf", 0.5}};
    j["lists"] = {{"label_issues", {1}},
                  {"high_conf_errors", json::array()},
                  {"low_conf_correct", {3}},
                  {"faithfulness", {{{"method", "gradcam"}, {"layer", "layer4"}, {"mean_rank", 1.5}, {"maps", 4}, {"degenerate", 1}}}},
                  {"degenerate", {{"maps", 4}, {"degenerate", 1}, {"by_pred_class", {{{"cls", 1}, {"maps", 2}, {"degenerate", 1}}}}}}};
    j["thumbs"] = {{"tile", {32, 32}}, {"cols", 32}, {"per_sheet", 1024}, {"sheets", {"img/thumbs-0.png"}}};
    j["tags_key"] = "abc";
    return j;
}

std::string js_of(const json& j) { return "window.CAMSCOPE_DATA = " + j.dump() + ";\n"; }

}  // namespace

TEST(ServeResults, Schema2IsReadAndItsFieldsChecked) {
    const std::string s = summary_text();
    EXPECT_EQ(refusal(s, js_of(data2())), "");
    json sparse = data2();  // many classes: the non-zero cells instead of the matrix
    sparse["confusion"].erase("counts");
    sparse["confusion"]["cells"] = {{0, 0, 1}, {0, 1, 1}, {1, 1, 1}, {2, 2, 1}};
    EXPECT_EQ(refusal(s, js_of(sparse)), "");
    json no_super = data2();
    no_super["superclasses"] = nullptr;
    EXPECT_EQ(refusal(s, js_of(no_super)), "");

    const std::vector<std::pair<std::function<void(json&)>, std::string>> cases{
        {[](json& j) { j["rows"]["p_true"][2] = 1.5; }, "rows.p_true[2]: 1.5 is not in [0, 1]"},
        {[](json& j) { j["rows"]["p_true"].erase(3); }, "rows.p_true: 3 entries, rows.index has 4"},
        {[](json& j) { j["rows"]["flags"][0] = 8; }, "rows.flags[0]: 8 is not a set of flags"},
        {[](json& j) { j["rows"]["lscore"][1] = "x"; }, "rows.lscore[1]: must be a number"},
        {[](json& j) { j["rows"]["centre"][0] = -0.1; }, "rows.centre[0]"},
        {[](json& j) { j["rows"].erase("centre"); }, "rows.centre: missing"},
        {[](json& j) { j["superclasses"]["of_class"][2] = 2; }, "superclasses.of_class[2]: 2 is not a superclass index"},
        {[](json& j) { j["superclasses"]["of_class"].erase(0); }, "superclasses.of_class: 2 entries for 3 classes"},
        {[](json& j) { j["thresholds"]["low_conf"] = 2; }, "thresholds.low_conf"},
        {[](json& j) { j["lists"]["label_issues"][0] = 4; }, "lists.label_issues[0]: 4 is not a row"},
        {[](json& j) { j["lists"]["low_conf_correct"][0] = -1; }, "lists.low_conf_correct[0]: -1 is not a row"},
        {[](json& j) { j["lists"]["faithfulness"][0]["degenerate"] = 5; }, "lists.faithfulness[0].degenerate: 5 is not a count of at most maps"},
        {[](json& j) { j["lists"]["faithfulness"][0]["method"] = 1; }, "lists.faithfulness[0].method: must be a string"},
        {[](json& j) { j["lists"]["degenerate"]["by_pred_class"][0]["cls"] = 3; }, "lists.degenerate.by_pred_class[0].cls: 3 is not a class index"},
        {[](json& j) { j["thumbs"]["tile"][0] = 49; }, "thumbs.tile[0]: 49 is not a tile height"},
        {[](json& j) { j["thumbs"]["per_sheet"] = 1000; }, "thumbs.per_sheet: 1000 is not a multiple of thumbs.cols"},
        {[](json& j) { j["thumbs"]["per_sheet"] = 1 << 20; }, "thumbs.per_sheet"},
        {[](json& j) { j["thumbs"]["sheets"].push_back("x"); }, "thumbs.sheets: 2 sheets, 4 rows at 1024 per sheet need 1"},
        {[](json& j) { j.erase("tags_key"); }, "tags_key: missing"},
        {[](json& j) { j["confusion"].erase("counts"); j["confusion"]["cells"] = {{0, 3, 1}}; }, "confusion.cells[0][1]: 3 is not a class index"},
        {[](json& j) { j["confusion"].erase("counts"); j["confusion"]["cells"] = {{0, 1, 0}}; }, "confusion.cells[0][2]: 0 is not a positive count"},
        {[](json& j) { j["confusion"].erase("counts"); j["confusion"]["cells"] = {{0, 1}}; }, "confusion.cells[0]: must be [true, pred, count]"},
    };
    for (const auto& [corrupt, expect] : cases) {
        json j = data2();
        corrupt(j);
        const std::string msg = refusal(s, js_of(j));
        EXPECT_NE(msg.find("r/explorer/data.js: " + expect), std::string::npos) << expect << " | got: " << msg;
    }
}

TEST(ServeResults, SummaryMustBeCompleteAndAgreeWithTheData) {
    const std::string s = summary_text(), d = data_text();
    EXPECT_NE(refusal("", d).find("r/summary.json: not valid JSON"), std::string::npos);
    EXPECT_NE(refusal(replaced(s, R"("identity")", R"("identity_")"), d).find("records no identity"), std::string::npos);
    EXPECT_NE(refusal(replaced(s, "camscope", "other"), d).find("not a camscope summary"), std::string::npos);
    EXPECT_NE(refusal(replaced(s, R"("sha256":")", R"("sha256":"x)"), d).find("model.sha256"), std::string::npos);
    EXPECT_NE(refusal(replaced(s, R"("num_images":4)", R"("num_images":5)"), d).find("run.num_images"), std::string::npos);
    EXPECT_NE(refusal(replaced(s, R"(["a","b","c"])", R"(["a","b","x"])"), d).find("classes differ"), std::string::npos);
    EXPECT_NE(refusal(replaced(s, R"("images":4)", R"("images":3)"), d).find("dataset.images is 3, the explorer data has 4 rows"),
              std::string::npos);
    EXPECT_NE(refusal(s, replaced(d, R"("index":[0,1,2,3])", R"("index":[0,1,2,7])")).find("rows.index[3]: 7 is not an index of the 4"),
              std::string::npos);
}

TEST(ServeResults, FolderWithoutCompletionMarkerIsRefused) {
    const fs::path dir = fs::temp_directory_path() / "camscope_results_unit";
    fs::remove_all(dir);
    fs::create_directories(dir / "explorer");
    std::ofstream(dir / "explorer" / "data.js") << data_text();
    try {
        serve::read_results_folder(dir.string());
        ADD_FAILURE() << "a folder without summary.json was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no summary.json: not a complete report"), std::string::npos) << e.what();
    }
    std::ofstream(dir / "summary.json") << summary_text();
    EXPECT_EQ(serve::read_results_folder(dir.string()).data["classes"].size(), 3u);
    EXPECT_EQ(serve::read_results_folder((dir / "explorer").string()).data["classes"].size(), 3u);  // explorer/ given
    fs::remove_all(dir);
}

TEST(ServeResults, SpecialFilesAreRefusedAtOnceNamingTheFile) {
    // summary.json or explorer/data.js as a link to /dev/zero, a FIFO or a file over the cap:
    // refused by name, promptly (nothing blocks or grows).
    const fs::path dir = fs::temp_directory_path() / ("camscope_results_special_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "explorer");
    const fs::path summary = dir / "summary.json", data = dir / "explorer" / "data.js";
    auto error_of = [&] {
        try {
            serve::read_results_folder(dir.string());
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    std::ofstream(data) << data_text();
    fs::create_symlink("/dev/zero", summary);
    std::string msg = error_of();
    EXPECT_NE(msg.find(summary.string() + ": is a character device, expected a regular file"), std::string::npos) << msg;
    fs::remove(summary);
    ASSERT_EQ(::mkfifo(summary.c_str(), 0600), 0);
    msg = error_of();
    EXPECT_NE(msg.find(summary.string() + ": is a FIFO (named pipe), expected a regular file"), std::string::npos) << msg;
    fs::remove(summary);
    std::ofstream(summary) << summary_text();
    fs::remove(data);
    ASSERT_EQ(::mkfifo(data.c_str(), 0600), 0);
    msg = error_of();
    EXPECT_NE(msg.find(data.string() + ": is a FIFO (named pipe), expected a regular file"), std::string::npos) << msg;
    fs::remove(data);
    { std::ofstream(data) << data_text(); }
    fs::resize_file(data, serve::kMaxDataJsBytes + 1);  // sparse: nothing written or read
    msg = error_of();
    EXPECT_NE(msg.find(data.string() + ": is " + std::to_string(serve::kMaxDataJsBytes + 1) + " bytes, more than the " +
                       std::to_string(serve::kMaxDataJsBytes) + " bytes"),
              std::string::npos)
        << msg;
    fs::resize_file(summary, serve::kMaxSummaryBytes + 1);
    msg = error_of();
    EXPECT_NE(msg.find(summary.string() + ": is "), std::string::npos) << msg;
    fs::remove_all(dir);
}

TEST(ServeResults, FuzzRegressionsAreRefusedOrValid) {
    const fs::path dir = fs::path(CAMSCOPE_FIXTURES_DIR).parent_path() / "fuzz_regressions" / "fuzz_results";
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        std::ifstream f(e.path(), std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        const std::string b = ss.str();
        ASSERT_GE(b.size(), 2u) << e.path();
        const size_t len = std::min<size_t>((size_t(static_cast<unsigned char>(b[0])) << 8) | static_cast<unsigned char>(b[1]), b.size() - 2);
        try {
            const auto r = serve::parse_results(b.substr(2, len), b.substr(2 + len), "summary.json", "data.js");
            (void)explorer_from_json(r.data, "again");  // what was accepted stays acceptable
            EXPECT_EQ(to_json(explorer_from_json(to_json(r.explorer), "again")), to_json(r.explorer)) << e.path();
        } catch (const Error& err) {
            EXPECT_NE(std::string(err.what()).find(".js"), std::string::npos) << e.path() << ": " << err.what();
        }
        ++n;
    }
    EXPECT_GE(n, 3);
}

TEST(Identity, RoundTripsAndNamesEveryDifference) {
    MemDataset ds(10, 3);
    RunIdentity a;
    identify_model(a, std::string(CAMSCOPE_FIXTURES_DIR) + "/tiny_cifar10_model.pt", "");
    identify_dataset(a, ds, "/data/mem");
    InputSpec spec{3, 32, 32, {{0.5f, 0.4f, 0.3f}, {0.2f, 0.2f, 0.2f}}};
    identify_input(a, spec);
    a.cam.method = "gradcam";
    a.cam.layers = {"layer4"};
    EXPECT_EQ(a.model_sha256, sha256_file(std::string(CAMSCOPE_FIXTURES_DIR) + "/tiny_cifar10_model.pt"));
    EXPECT_EQ(a.data_images, 10u);
    const RunIdentity back = parse_identity(identity_json(a), "s.json");
    EXPECT_TRUE(identity_differences(a, back).empty());
    // Another model file (same name elsewhere would not matter: the bytes do).
    RunIdentity b = back;
    identify_model(b, std::string(CAMSCOPE_FIXTURES_DIR) + "/resnet_traced.pt", "");
    auto d = identity_differences(a, b);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].rfind("model: the results were made with ", 0), 0u) << d[0];
    EXPECT_NE(d[0].find(a.model_sha256.substr(0, 12)), std::string::npos) << d[0];
    // The same dataset at another path: no difference; one pixel of the last image: a difference.
    b = back;
    identify_dataset(b, ds, "/copy/of/mem");
    EXPECT_TRUE(identity_differences(a, b).empty());
    ds.bump = 1;
    identify_dataset(b, ds, "/data/mem");
    d = identity_differences(a, b);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_NE(d[0].find("dataset: "), std::string::npos) << d[0];
    EXPECT_NE(d[0].find("fingerprint"), std::string::npos) << d[0];
    // Input and CAM settings.
    b = back;
    b.std[0] = 0.25;
    b.cam.layers = {"layer3"};
    d = identity_differences(a, b);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].rfind("input: ", 0), 0u) << d[0];
    EXPECT_EQ(d[1].rfind("CAM layer: ", 0), 0u) << d[1];
    // Finer-CAM's alpha: recorded and read back; absent (an older summary.json) = 1; a store of
    // another alpha differs in its "CAM options".
    b = back;
    b.cam.alpha = 0.5;
    EXPECT_EQ(parse_identity(identity_json(b), "s.json").cam, b.cam);
    json old = identity_json(b);
    old["cam"].erase("alpha");
    EXPECT_EQ(parse_identity(old, "s.json").cam.alpha, 1.0);
    const auto opt = cam_options_difference(a.cam, b.cam);
    ASSERT_TRUE(opt.has_value());
    EXPECT_NE(opt->find("alpha 1; this server runs"), std::string::npos) << *opt;
    EXPECT_NE(opt->find("alpha 0.5"), std::string::npos) << *opt;
    EXPECT_FALSE(cam_options_difference(a.cam, back.cam).has_value());
    for (const json bad : {json(-1), json("0.5"), json(101)}) {
        json j = identity_json(b);
        j["cam"]["alpha"] = bad;
        EXPECT_THROW(parse_identity(j, "s.json"), Error) << bad;
    }
    // Malformed identities name the field.
    json j = identity_json(a);
    j["dataset"]["images"] = -1;
    try {
        parse_identity(j, "s.json");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("s.json: identity: 'dataset.images'"), std::string::npos) << e.what();
    }
}
