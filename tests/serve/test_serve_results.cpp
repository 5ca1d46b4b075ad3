// `camscope serve --results` (the explorer data of an earlier analyze, checked against the live
// model and data), the thumbnail sheets and the image tags.
#include "serve_process.hpp"

using namespace serve_test;

namespace {

/// `camscope ARGS` to completion (through `timeout`: a server that wrongly starts fails as 124).
std::pair<int, std::string> run_camscope(const std::string& args) {
    const support::Run r = support::run(args, 120);
    return {r.code, r.out};
}

/// DIR/model.pt (the tiny model) and DIR/report (its `analyze` results), made once.
fs::path analyzed_once() {
    static const fs::path dir = [] {
        const auto d = fs::temp_directory_path() / ("camscope_serve_results_" + std::to_string(getpid()));
        fs::remove_all(d);
        fs::create_directories(d);
        fs::copy_file(kTinyModel, d / "model.pt");
        const auto r = run_camscope("-q analyze --faithfulness-n 0 -m " + (d / "model.pt").string() + " -d " + kTinyData +
                                    " -o " + (d / "report").string());
        if (r.first != 0) throw std::runtime_error("analyze failed: " + r.second);
        return d;
    }();
    static const struct Cleanup {
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    } cleanup;
    return dir;
}

}  // namespace

TEST(Serve, ResultsOfFinerCamServeTheirAlpha) {
    // Results made with --method finercam --alpha 0.5: the live Finer-CAMs that name no alpha are the
    // report's (alpha 0.5), not alpha 1's.
    const auto dir = fs::temp_directory_path() / ("camscope_serve_results_alpha_" + std::to_string(getpid()));
    fs::remove_all(dir);
    const std::string cmd = kBin + " -q analyze --faithfulness-n 0 --limit 32 --method finercam --alpha 0.5 -m " +
                            kTinyModel + " -d " + kTinyData + " -o " + dir.string() + " >/dev/null 2>&1";
    ASSERT_EQ(system(cmd.c_str()), 0);
    ServerProcess srv({"--results", dir.string()});
    auto c = srv.client();
    const std::string at = "/api/cam?image=3&method=finercam&format=json";
    const json plain = get_json(c, at), half = get_json(c, at + "&alpha=0.5"), one = get_json(c, at + "&alpha=1");
    EXPECT_EQ(plain["alpha"], 0.5);
    EXPECT_EQ(plain["map"], half["map"]);
    EXPECT_NE(plain["map"], one["map"]);
    fs::remove_all(dir);
}

TEST(ServeResultsFolder, ResultsOfAnotherModelWithTheSameFileNameAreRefused) {
    const fs::path made = analyzed_once();
    // Other weights under the same file name.
    const auto other = fs::temp_directory_path() / "camscope_serve_other_model";
    fs::remove_all(other);
    fs::create_directories(other);
    fs::copy_file(kDir + "/resnet_traced.pt", other / "model.pt");
    const auto r = run_camscope("-q serve --port 0 -m " + (other / "model.pt").string() + " -d " + kTinyData + " --results " +
                                (made / "report").string());
    EXPECT_EQ(r.first, 1) << r.second;
    EXPECT_NE(r.second.find("these results were not made from what this server runs"), std::string::npos) << r.second;
    EXPECT_NE(r.second.find("model: the results were made with " + (made / "model.pt").string()), std::string::npos)
        << r.second;
    EXPECT_NE(r.second.find("SHA-256"), std::string::npos) << r.second;
    // Another layer than the results' is refused too; the same model and data are accepted (the
    // ResultsOfAnalyzeServeTheSameData test serves them).
    const auto l = run_camscope("-q serve --port 0 -m " + (made / "model.pt").string() + " -d " + kTinyData +
                                " --layer conv1 --results " + (made / "report").string());
    EXPECT_EQ(l.first, 1) << l.second;
    EXPECT_NE(l.second.find("CAM layer: the results were made with layer3; this server runs conv1"), std::string::npos)
        << l.second;
    fs::remove_all(other);
}

TEST(ServeResultsFolder, IncompleteOrMalformedResultsAreRefused) {
    const fs::path made = analyzed_once();
    const auto copy = fs::temp_directory_path() / "camscope_serve_bad_results";
    fs::remove_all(copy);
    fs::copy(made / "report", copy, fs::copy_options::recursive);
    // The issue's crash: a row predicting class 99 (of 10) made /api/image/100 dereference past the
    // class names. It is refused at startup, naming the file, the row and the field.
    const std::string js_path = (copy / "explorer" / "data.js").string();
    const auto js = read_file(js_path);
    json data = parse_explorer_data_js(std::string(js.begin(), js.end()), js_path);
    data["rows"]["pred"][100] = 99;
    write_file_atomic(js_path, explorer_data_js(data));
    auto r = run_camscope("-q serve --port 0 -m " + (made / "model.pt").string() + " -d " + kTinyData + " --results " +
                          copy.string());
    EXPECT_EQ(r.first, 1) << r.second;
    EXPECT_NE(r.second.find(js_path + ": rows.pred[100]: 99 is not a class index (the data has 10 classes)"),
              std::string::npos)
        << r.second;
    // Without its completion marker (an interrupted or failed run) the folder is refused.
    fs::remove(copy / "summary.json");
    r = run_camscope("-q serve --port 0 -m " + (made / "model.pt").string() + " -d " + kTinyData + " --results " + copy.string());
    EXPECT_EQ(r.first, 1) << r.second;
    EXPECT_NE(r.second.find("no summary.json: not a complete report"), std::string::npos) << r.second;
    fs::remove_all(copy);
}


namespace {

/// POST body to /api/tags with `type`; {status, body}.
std::pair<int, std::string> post_tags(httplib::Client& c, const std::string& body, const std::string& type = "application/json",
                                      const httplib::Headers& headers = {}) {
    auto r = c.Post("/api/tags", headers, body, type);
    if (!r) return {-1, ""};
    return {r->status, r->body};
}

}  // namespace

TEST(Serve, ThumbnailSheetsHoldEveryInputImage) {
    auto c = shared_server().client();
    const json ex = get_json(c, "/api/explorer");
    const auto& th = ex["thumbs"];
    ASSERT_EQ(th["tile"], json::parse("[32, 32]"));  // CIFAR inputs at their size
    ASSERT_EQ(th["sheets"], json::parse(R"(["api/thumbs/0.png"])"));
    const int cols = th["cols"];
    auto r = c.Get("/api/thumbs/0.png");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
    const Image sheet = decode_png(r->body);
    ASSERT_EQ(sheet.width, cols * 32);
    ASSERT_EQ(sheet.height, (200 + cols - 1) / cols * 32);
    // Tiles equal the inputs the image route serves, pixel for pixel (32×32 needs no resizing).
    for (int row : {0, 1, 31, 32, 117, 199}) {
        auto in = c.Get(("/api/image/" + std::to_string(row) + "/input.png").c_str());
        ASSERT_TRUE(in);
        const Image img = decode_png(in->body);
        ASSERT_EQ(img.width, 32);
        const int x0 = (row % cols) * 32, y0 = (row / cols) * 32;
        for (int y = 0; y < 32; ++y)
            for (int x = 0; x < 32; ++x)
                for (int ch = 0; ch < 3; ++ch)
                    ASSERT_EQ(sheet.at(y0 + y, x0 + x, ch), img.at(y, x, ch)) << row << " " << y << " " << x;
    }
    auto again = c.Get("/api/thumbs/0.png");  // cached: the same bytes
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body, r->body);
    EXPECT_EQ(raw_status(shared_server().port(), "/api/thumbs/1.png"), 404);
    EXPECT_EQ(raw_status(shared_server().port(), "/api/thumbs/0.jpg"), 404);
    EXPECT_EQ(raw_status(shared_server().port(), "/api/thumbs/-1.png"), 404);
}

TEST(Serve, TagsArePersistedAtomicallyAndSurviveARestart) {
    const auto dir = fs::temp_directory_path() / ("camscope_serve_tags_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path file = dir / "tags.json";
    {
        ServerProcess srv({"--tags", file.string()});
        auto c = srv.client();
        EXPECT_EQ(get_json(c, "/api/tags"), json::parse(R"({"tags": {}, "persisted": true})"));
        auto [st, body] = post_tags(c, R"({"row": 3, "tags": ["relabel", "ambiguous", "relabel"]})");
        EXPECT_EQ(st, 200) << body;
        EXPECT_EQ(json::parse(body), json::parse(R"({"tags": {"3": ["relabel", "ambiguous"]}, "persisted": true})"));
        std::tie(st, body) = post_tags(c, R"({"row": 199, "tags": ["ok"]})");
        EXPECT_EQ(st, 200) << body;
        // The file holds the full state after each change, and nothing else is left in the folder.
        EXPECT_EQ(json::parse(slurp(file)), json::parse(R"({"tags": {"3": ["relabel", "ambiguous"], "199": ["ok"]}})"));
        size_t entries = 0;
        for (const auto& e : fs::directory_iterator(dir)) {
            ++entries;
            EXPECT_EQ(e.path().filename(), "tags.json");
        }
        EXPECT_EQ(entries, 1u);
        // Malformed updates: 400 with a message naming the problem; the state is unchanged.
        const std::pair<std::string, std::string> bad[] = {
            {"{not json", "JSON object"},
            {R"([1, 2])", "JSON object"},
            {R"({"tags": ["x"]})", "'row' missing"},
            {R"({"row": 3})", "'tags' missing"},
            {R"({"row": 200, "tags": []})", "[0, 200)"},
            {R"({"row": -1, "tags": []})", "[0, 200)"},
            {R"({"row": 1.5, "tags": []})", "[0, 200)"},
            {R"({"row": "3", "tags": []})", "[0, 200)"},
            {R"({"row": 3, "tags": "relabel"})", "list of strings"},
            {R"({"row": 3, "tags": ["a/b"]})", "character"},
            {R"({"row": 3, "tags": [""]})", "characters (1 to 40)"},
            {R"({"row": 3, "tags": [")" + std::string(41, 'x') + R"("]})", "characters (1 to 40)"},
            {R"({"row": 3, "tags": [1]})", "must be a string"},
            {R"({"row": 3, "tags": ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]})", "17 tags"},
            {R"({"row": 3, "tags": [], "extra": 1})", "unknown field 'extra'"},
            // a chosen label ("relabel:<k>") names one of the analysis' 10 classes, one per image
            {R"({"row": 3, "tags": ["relabel:10"]})", "chooses class 10; the classes are 0..9"},
            {R"({"row": 3, "tags": ["relabel:1", "relabel:2"]})", "one chosen label per image"},
        };
        for (const auto& [b, why] : bad) {
            std::tie(st, body) = post_tags(c, b);
            EXPECT_EQ(st, 400) << b << ": " << body;
            const json e = json::parse(body, nullptr, false);
            ASSERT_TRUE(e.is_object() && e.contains("error")) << body;
            EXPECT_NE(e["error"].get<std::string>().find(why), std::string::npos) << b << ": " << body;
        }
        std::tie(st, body) = post_tags(c, R"({"row": 3, "tags": []})", "text/plain");  // a cross-site "simple" POST
        EXPECT_EQ(st, 415) << body;
        for (const char* type : {"application/jsonfoo", "application/json-seq", "application/json; charset=latin1"}) {
            std::tie(st, body) = post_tags(c, R"({"row": 3, "tags": []})", type);  // a prefix is not the media type
            EXPECT_EQ(st, 415) << type << ": " << body;
        }
        std::tie(st, body) = post_tags(c, R"({"row": 3, "tags": []})", "application/json", {{"Origin", "http://evil.com"}});
        EXPECT_EQ(st, 403) << body;
        std::tie(st, body) = post_tags(c, R"({"row": 3, "tags": ["x"]})" + std::string(70000, ' '));
        EXPECT_EQ(st, 413) << body;  // over the 64 KiB body limit
        auto other = c.Post("/api/explorer", "{}", "application/json");
        ASSERT_TRUE(other);
        EXPECT_EQ(other->status, 405);
        EXPECT_EQ(other->get_header_value("Allow"), "GET, HEAD");
        EXPECT_EQ(json::parse(slurp(file)), json::parse(R"({"tags": {"3": ["relabel", "ambiguous"], "199": ["ok"]}})"));
        // [] removes the row (with a charset: still JSON).
        std::tie(st, body) = post_tags(c, R"({"row": 199, "tags": []})", "application/json; charset=UTF-8");
        EXPECT_EQ(st, 200) << body;
        EXPECT_EQ(json::parse(body)["tags"], json::parse(R"({"3": ["relabel", "ambiguous"]})"));
        // A chosen label is kept as the tag "relabel:<k>" (what `camscope rescore` applies).
        std::tie(st, body) = post_tags(c, R"({"row": 7, "tags": ["relabel", "relabel:4"]})");
        EXPECT_EQ(st, 200) << body;
        EXPECT_EQ(json::parse(slurp(file))["tags"]["7"], json::parse(R"(["relabel", "relabel:4"])"));
        std::tie(st, body) = post_tags(c, R"({"row": 7, "tags": []})");
        EXPECT_EQ(st, 200) << body;
        // The file cannot be written any more (its folder turned into a file; as a read-only or full
        // disk, and as root too): the change is refused and not made, and the answer says so.
        const fs::path moved = dir.string() + ".moved";
        fs::remove_all(moved);
        fs::rename(dir, moved);
        { std::ofstream(dir.string()) << "in the way"; }
        std::tie(st, body) = post_tags(c, R"({"row": 5, "tags": ["lost"]})");
        EXPECT_EQ(st, 500) << body;
        const json failed = json::parse(body, nullptr, false);
        EXPECT_EQ(failed["persisted"], false) << body;
        EXPECT_NE(failed.value("error", "").find("not saved"), std::string::npos) << body;
        EXPECT_NE(failed.value("error", "").find("tags.json"), std::string::npos) << body;
        EXPECT_EQ(failed.value("error", "").find(dir.string()), std::string::npos) << body;  // no local path
        EXPECT_EQ(failed["tags"], json::parse(R"({"3": ["relabel", "ambiguous"]})")) << body;  // as before
        EXPECT_EQ(get_json(c, "/api/tags")["tags"], json::parse(R"({"3": ["relabel", "ambiguous"]})"));
        fs::remove(dir);
        fs::rename(moved, dir);
    }
    {  // A new server reads them back.
        ServerProcess srv({"--tags", file.string()});
        auto c = srv.client();
        EXPECT_EQ(get_json(c, "/api/tags"), json::parse(R"({"tags": {"3": ["relabel", "ambiguous"]}, "persisted": true})"));
    }
    {  // Without a file: in memory only, and says so.
        ServerProcess srv;
        auto c = srv.client();
        auto [st, body] = post_tags(c, R"({"row": 1, "tags": ["ok"]})");
        EXPECT_EQ(json::parse(body), json::parse(R"({"tags": {"1": ["ok"]}, "persisted": false})"));
    }
    // A malformed tags file stops the server at start, naming the file and the problem.
    write_file_atomic(file.string(), R"({"tags": {"500": ["ok"]}})");
    auto r = run_camscope("-q serve --port 0 -m " + kTinyModel + " -d " + kTinyData + " --tags " + file.string());
    EXPECT_EQ(r.first, 1) << r.second;
    EXPECT_NE(r.second.find(file.string() + ": tags: \"500\" is not an image row in [0, 200)"), std::string::npos) << r.second;
    write_file_atomic(file.string(), "[]");
    r = run_camscope("-q serve --port 0 -m " + kTinyModel + " -d " + kTinyData + " --tags " + file.string());
    EXPECT_EQ(r.first, 1) << r.second;
    EXPECT_NE(r.second.find(file.string() + ": not a tags file"), std::string::npos) << r.second;
    fs::remove_all(dir);
}

TEST(Serve, HelpStatesTheCostBounds) {
    const auto [rc, out] = run_camscope("serve --help");
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("--max-channels"), std::string::npos) << out;
    EXPECT_NE(out.find("=64"), std::string::npos) << out;  // the default cap, shown
    EXPECT_NE(out.find("--cam-queue"), std::string::npos) << out;
    EXPECT_NE(out.find("503"), std::string::npos) << out;
}

TEST(ServeResultsFolder, TagsAreKeptInTheResultsFolder) {
    const fs::path made = analyzed_once();
    const fs::path file = made / "report" / "tags.json";
    fs::remove(file);
    {
        ServerProcess srv({"--results", (made / "report").string()}, (made / "model.pt").string());
        auto c = srv.client();
        // Served: the sheets are the server's routes, not the offline files.
        EXPECT_EQ(get_json(c, "/api/explorer")["thumbs"]["sheets"], json::parse(R"(["api/thumbs/0.png"])"));
        auto [st, body] = post_tags(c, R"({"row": 7, "tags": ["relabel"]})");
        EXPECT_EQ(st, 200) << body;
    }
    EXPECT_EQ(json::parse(slurp(file)), json::parse(R"({"tags": {"7": ["relabel"]}})"));
    {
        ServerProcess srv({"--results", (made / "report").string()}, (made / "model.pt").string());
        auto c = srv.client();
        EXPECT_EQ(get_json(c, "/api/tags")["tags"], json::parse(R"({"7": ["relabel"]})"));
    }
    fs::remove(file);
}
