// Server tests: run the real `camscope serve` on the tiny CIFAR-10 fixture (a free port on
// loopback), talk to it with cpp-httplib clients and raw sockets, and check every answer: the
// embedded pages, the API and the live CAMs (transport: test_serve_transport.cpp; --results,
// thumbnails and tags: test_serve_results.cpp).
#include "serve_process.hpp"

using namespace serve_test;

TEST(Serve, ServesTheEmbeddedPagesAndNothingElse) {
    auto c = shared_server().client();
    auto r = c.Get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(r->body.find("camscope explorer"), std::string::npos);
    EXPECT_EQ(r->body, std::string(find_web_asset("index.html")->bytes));
    for (const auto& w : web_assets()) {  // every file of the page (CMakeLists.txt's list)
        const std::string name(w.name);
        auto a = c.Get(("/" + name).c_str());
        ASSERT_TRUE(a);
        EXPECT_EQ(a->status, 200) << name;
        EXPECT_EQ(a->get_header_value("Content-Type"), std::string(w.content_type)) << name;
        EXPECT_EQ(a->body, std::string(w.bytes)) << name;
    }
    auto d = c.Get("/data.js");  // served pages fetch their data: the offline hook is null
    ASSERT_TRUE(d);
    EXPECT_NE(d->body.find("window.CAMSCOPE_DATA = null"), std::string::npos);
    EXPECT_EQ(get_json(c, "/favicon.ico", 404).value("error", "").rfind("not found", 0), 0u);
}

TEST(Serve, ApiAnswersMatchThePythonPredictions) {
    auto c = shared_server().client();
    const json s = get_json(c, "/api/summary");
    EXPECT_EQ(s["run"]["n"], 200);
    EXPECT_EQ(s["run"]["num_classes"], 10);
    EXPECT_TRUE(s["live"].get<bool>());
    // Predictions against Python's argmax of the same model (tests/fixtures/make_fixtures.py).
    const auto logits = read_npy(kDir + "/tiny_cifar10_expected_preds.npy").as_float();
    int correct = 0;
    std::vector<std::vector<long long>> counts(10, std::vector<long long>(10, 0));
    for (int i = 0; i < 200; ++i) {
        const json im = get_json(c, "/api/image/" + std::to_string(i));
        const float* l = &logits[static_cast<size_t>(i) * 10];
        const int py_pred = static_cast<int>(std::max_element(l, l + 10) - l);
        ASSERT_EQ(im["pred"], py_pred) << i;
        ASSERT_EQ(im["top"].size(), 5u);
        EXPECT_EQ(im["top"][0]["class"], py_pred);
        EXPECT_EQ(im["index"], i);
        correct += im["correct"].get<bool>();
        counts[im["label"].get<int>()][py_pred]++;
    }
    EXPECT_NEAR(s["overall"]["top1"].get<double>(), correct / 200.0, 1e-12);
    const json cm = get_json(c, "/api/confusion");
    EXPECT_EQ(cm["counts"].get<std::vector<std::vector<long long>>>(), counts);
    EXPECT_EQ(cm["classes"].size(), 10u);
    // A cell lists exactly its images, most confident first.
    for (int t = 0; t < 10; ++t)
        for (int p = 0; p < 10; ++p) {
            if (!counts[t][p]) continue;
            const json cell = get_json(c, "/api/cell/" + std::to_string(t) + "/" + std::to_string(p));
            ASSERT_EQ(cell["count"], counts[t][p]);
            ASSERT_EQ(cell["rows"].size(), static_cast<size_t>(std::min<long long>(counts[t][p], 50)));
            for (size_t i = 0; i < cell["rows"].size(); ++i) {
                EXPECT_EQ(cell["rows"][i]["label"], t);
                EXPECT_EQ(cell["rows"][i]["pred"], p);
                if (i > 0) {
                    EXPECT_GE(cell["rows"][i - 1]["confidence"].get<double>(), cell["rows"][i]["confidence"].get<double>());
                }
            }
        }
    const json cls = get_json(c, "/api/classes");
    ASSERT_EQ(cls["classes"].size(), 10u);
    const std::string name = cls["classes"][3]["name"];
    const json c3 = get_json(c, "/api/class/3"), by_name = get_json(c, "/api/class/" + name);
    EXPECT_EQ(c3, by_name);
    for (const auto& w : c3["worst"]) {
        EXPECT_EQ(w["label"], 3);
        EXPECT_FALSE(w["correct"].get<bool>());
    }
    for (const auto& b : c3["best"]) EXPECT_TRUE(b["correct"].get<bool>());
    const json methods = get_json(c, "/api/methods");
    EXPECT_NE(std::find(methods["methods"].begin(), methods["methods"].end(), "gradcam"), methods["methods"].end());
    const json layers = get_json(c, "/api/layers");
    EXPECT_FALSE(layers["default"].get<std::string>().empty());
    EXPECT_EQ(get_json(c, "/api/explorer")["rows"]["pred"].size(), 200u);
}

TEST(Serve, LiveCamsAnswerPngsAndChangeWithTheTarget) {
    auto c = shared_server().client();
    auto in = c.Get("/api/image/5/input.png");
    ASSERT_TRUE(in);
    EXPECT_EQ(in->get_header_value("Content-Type"), "image/png");
    const Image img = decode_png(in->body, "input.png");
    EXPECT_EQ(img.width, 32);
    EXPECT_EQ(img.height, 32);

    const json im = get_json(c, "/api/image/5");
    const int pred = im["pred"], other = (pred + 1) % 10;
    auto a = c.Get("/api/cam?image=5&target=pred");
    auto b = c.Get(("/api/cam?image=5&target=" + std::to_string(other)).c_str());
    auto a2 = c.Get(("/api/cam?image=5&target=" + std::to_string(pred) + "&method=gradcam").c_str());
    ASSERT_TRUE(a && b && a2);
    ASSERT_EQ(a->status, 200) << a->body;
    ASSERT_EQ(b->status, 200) << b->body;
    EXPECT_TRUE(is_png_data(a->body));
    const json sa = json::parse(a->get_header_value("X-Camscope-Cam")), sb = json::parse(b->get_header_value("X-Camscope-Cam"));
    EXPECT_EQ(sa["target"], pred);
    EXPECT_EQ(sb["target"], other);
    EXPECT_NE(sa["fingerprint"], sb["fingerprint"]);
    EXPECT_NE(a->body, b->body);
    EXPECT_EQ(a->body, a2->body);  // "pred" is the predicted class, the default method gradcam

    // The JSON form has the map itself: normalised to [0, 1] with its peak at 1.
    const json m = get_json(c, "/api/cam?image=5&target=" + std::to_string(other) + "&format=json");
    ASSERT_EQ(m["map"].size(), static_cast<size_t>(m["fh"].get<int>() * m["fw"].get<int>()));
    float mx = 0;
    for (const auto& v : m["map"]) {
        EXPECT_GE(v.get<double>(), 0.0);
        EXPECT_LE(v.get<double>(), 1.0);
        mx = std::max(mx, v.get<float>());
    }
    EXPECT_NEAR(mx, 1.0, 1e-3);
    EXPECT_EQ(m["fingerprint"], sb["fingerprint"]);

    // Every method and every candidate layer answers.
    const json methods = get_json(c, "/api/methods"), layers = get_json(c, "/api/layers");
    for (const auto& meth : methods["methods"]) {
        auto r = c.Get(("/api/cam?image=1&target=true&method=" + meth.get<std::string>()).c_str());
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << meth << ": " << r->body;
    }
    for (const auto& l : layers["layers"]) {
        auto r = c.Get(("/api/cam?image=1&layer=" + l["path"].get<std::string>()).c_str());
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << l["path"] << ": " << r->body;
    }
    auto d = c.Get("/api/diff?image=5");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 200);
    EXPECT_TRUE(is_png_data(d->body));

    // view=heatmap: the heat layer alone. Blended with the input as pytorch-grad-cam's
    // show_cam_on_image does (0.5·heat + 0.5·image in float32, divided by the peak, truncated), it
    // gives the overlay the default view answers, byte for byte up to float rounding.
    auto h = c.Get(("/api/cam?image=5&target=" + std::to_string(other) + "&view=heatmap").c_str());
    auto o = c.Get(("/api/cam?image=5&target=" + std::to_string(other) + "&view=overlay").c_str());
    ASSERT_TRUE(h && o);
    ASSERT_EQ(h->status, 200) << h->body;
    EXPECT_EQ(o->body, b->body);
    EXPECT_EQ(json::parse(h->get_header_value("X-Camscope-Cam"))["view"], "heatmap");
    EXPECT_EQ(json::parse(o->get_header_value("X-Camscope-Cam"))["view"], "overlay");
    const Image heat = decode_png(h->body, "heatmap.png"), over = decode_png(o->body, "overlay.png");
    ASSERT_EQ(heat.width, img.width);
    ASSERT_EQ(heat.height, img.height);
    std::vector<float> mixed(heat.pixels.size());
    float peak = 0;
    for (size_t i = 0; i < mixed.size(); ++i) {
        mixed[i] = 0.5f * (heat.pixels[i] / 255.0f) + 0.5f * (img.pixels[i] / 255.0f);
        peak = std::max(peak, mixed[i]);
    }
    int worst = 0;
    for (size_t i = 0; i < mixed.size(); ++i)
        worst = std::max(worst, std::abs(int(std::clamp(255.0f * mixed[i] / peak, 0.f, 255.f)) - int(over.pixels[i])));
    EXPECT_LE(worst, 1);
    EXPECT_EQ(raw_status(shared_server().port(), "/api/cam?image=5&view=sepia"), 400);
}

TEST(Serve, FinerCamContrastsTheTargetWithAChosenClass) {
    // "Why the prediction and not the true class": Finer-CAM with contrast=true (numbers against
    // pytorch-grad-cam's FinerCAM are checked by the engine tests; here the parameters' path).
    auto c = shared_server().client();
    const json im = get_json(c, "/api/image/3");
    const int label = im["label"];
    const json vs_true = get_json(c, "/api/cam?image=3&method=finercam&target=pred&contrast=true&format=json");
    const json vs_label =
        get_json(c, "/api/cam?image=3&method=finercam&target=pred&contrast=" + std::to_string(label) + "&format=json");
    const json vs_default = get_json(c, "/api/cam?image=3&method=finercam&target=pred&format=json");
    const json half = get_json(c, "/api/cam?image=3&method=finercam&target=pred&contrast=true&alpha=0.5&format=json");
    EXPECT_EQ(vs_true["contrast"], label);
    EXPECT_EQ(vs_true["contrast_name"], im["label_name"]);
    EXPECT_EQ(vs_true["alpha"], 1.0);
    EXPECT_EQ(vs_true["map"], vs_label["map"]);
    EXPECT_FALSE(vs_default.contains("contrast"));
    EXPECT_NE(half["fingerprint"], vs_true["fingerprint"]);
    auto png = c.Get("/api/cam?image=3&method=finercam&target=pred&contrast=true");
    ASSERT_TRUE(png);
    EXPECT_EQ(png->status, 200);
    EXPECT_TRUE(is_png_data(png->body));
    for (const char* bad : {"/api/cam?image=3&method=finercam&alpha=nan", "/api/cam?image=3&method=finercam&alpha=-1",
                            "/api/cam?image=3&method=gradcam&contrast=true",
                            "/api/cam?image=3&method=finercam&contrast=nosuchclass"}) {
        auto r = c.Get(bad);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
    }
}

TEST(Serve, DifferenceMapsTakeFinerCamContrastAndAlphaAsCamsDo) {
    // api/diff ignored them: the same map whatever alpha, and gradcam took alpha without a word.
    auto c = shared_server().client();
    int row = 0;  // a misclassified image: its difference map is not zero
    while (row < 200 && get_json(c, "/api/image/" + std::to_string(row))["correct"] == true) ++row;
    ASSERT_LT(row, 200);
    const std::string at = "/api/diff?image=" + std::to_string(row) + "&method=finercam&format=json";
    const json plain = get_json(c, at);
    const json half = get_json(c, at + "&alpha=0.5");
    const json vs0 = get_json(c, at + "&contrast=0");
    EXPECT_EQ(plain["alpha"], 1.0);
    EXPECT_EQ(half["alpha"], 0.5);
    EXPECT_NE(half["fingerprint"], plain["fingerprint"]);
    EXPECT_EQ(vs0["contrast"], 0);
    EXPECT_NE(vs0["fingerprint"], plain["fingerprint"]);
    // Each side of the difference is that of api/cam with the same comparison.
    const std::string cam = "/api/cam?image=" + std::to_string(row) + "&method=finercam&alpha=0.5&format=json&target=";
    const json a = get_json(c, cam + "pred");
    const json b = get_json(c, cam + "true");
    ASSERT_EQ(a["map"].size(), half["map"].size());
    for (size_t i = 0; i < a["map"].size(); ++i)
        EXPECT_NEAR(half["map"][i].get<double>(), a["map"][i].get<double>() - b["map"][i].get<double>(), 2e-4) << i;
    for (const char* bad : {"/api/diff?image=3&method=gradcam&alpha=2", "/api/diff?image=3&method=gradcam&contrast=true",
                            "/api/diff?image=3&method=finercam&alpha=-1"}) {
        auto r = c.Get(bad);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
    }
}

TEST(Serve, BlankCamsAreFlaggedAndNeverDrawnAsOverlays) {
    // The tiny model has classes whose map is all zero on an image (nothing at layer3 raises their
    // score): the header says so, the JSON map is all zero, there is no peak, and the PNG is the
    // grey stand-in, not a JET overlay. A map with evidence has colour and degenerate = false.
    auto c = shared_server().client();
    int blank_seen = 0, shown_seen = 0;
    for (int image = 0; image < 10 && !(blank_seen && shown_seen); ++image)
        for (int t = 0; t < 10; ++t) {
            const std::string q = "/api/cam?image=" + std::to_string(image) + "&target=" + std::to_string(t);
            const json m = get_json(c, q + "&format=json");
            float mx = 0;
            for (const auto& v : m["map"]) mx = std::max(mx, v.get<float>());
            ASSERT_EQ(m["degenerate"].get<bool>(), mx <= 0.f) << q;
            auto png = c.Get(q.c_str());
            ASSERT_TRUE(png);
            ASSERT_EQ(png->status, 200);
            EXPECT_EQ(json::parse(png->get_header_value("X-Camscope-Cam"))["degenerate"], m["degenerate"]) << q;
            const bool grey = support::is_grey(decode_png(png->body, q));
            if (m["degenerate"].get<bool>()) {
                ++blank_seen;
                EXPECT_TRUE(m["peak"].is_null()) << q;
                EXPECT_TRUE(grey) << q << ": a blank map is drawn as the grey stand-in";
            } else {
                ++shown_seen;
                EXPECT_EQ(m["peak"].size(), 2u) << q;
                EXPECT_FALSE(grey) << q << ": a map with evidence is a colour overlay";
            }
        }
    EXPECT_GT(blank_seen, 0) << "the tiny model gives blank maps for some classes";
    EXPECT_GT(shown_seen, 0);
}

TEST(Serve, BadRequestsAnswer400Or404WithAMessage) {
    auto c = shared_server().client();
    const std::vector<std::pair<std::string, int>> cases{
        {"/api/image/200", 404},                       // out of range (200 images)
        {"/api/image/99999999", 404},
        {"/api/image/abc", 400},
        {"/api/image/-1", 400},
        {"/api/image/200/input.png", 404},
        {"/api/cam", 400},                             // no image
        {"/api/cam?image=200", 404},
        {"/api/cam?image=x", 400},
        {"/api/cam?image=0&target=no_such_class", 400},
        {"/api/cam?image=0&target=10", 400},           // 10 classes
        {"/api/cam?image=0&target=99999999999", 400},  // any number of digits (data/class_ref)
        {"/api/cam?image=0&method=finercam&contrast=99999999999", 400},
        {"/api/class/99999999999", 404},
        {"/api/cam?image=0&method=no_such_method", 400},
        {"/api/cam?image=0&layer=no.such.layer", 400},
        {"/api/cam?image=0&format=gif", 400},
        {"/api/diff?image=0&a=nope", 400},
        {"/api/class/10", 404},
        {"/api/class/no_such_class", 400},
        {"/api/cell/0/10", 404},
        {"/api/cell/0/x", 400},
        {"/api/cell/0/1?limit=x", 400},
        {"/api/no_such_route", 404},
        {"/api/summary/extra", 404},
    };
    for (const auto& [path, status] : cases) {
        const json j = get_json(c, path, status);
        ASSERT_TRUE(j.is_object()) << path;
        EXPECT_FALSE(j.value("error", "").empty()) << path;
    }
    EXPECT_NE(get_json(c, "/api/cam?image=0&method=no_such_method", 400)["error"].get<std::string>().find("gradcam"),
              std::string::npos);  // the message lists the methods
    // Other methods: 405 with a JSON error and Allow, as documented.
    auto post = c.Post("/api/summary", "x", "text/plain");
    auto options = c.Options("/api/summary");
    auto del = c.Delete("/api/image/0");
    for (const auto* r : {&post, &options, &del}) {
        ASSERT_TRUE(*r);
        EXPECT_EQ((*r)->status, 405);
        EXPECT_EQ((*r)->get_header_value("Allow"), "GET, HEAD");
        const json j = json::parse((*r)->body, nullptr, false);
        EXPECT_NE(j.value("error", "").find("not allowed"), std::string::npos) << (*r)->body;
    }
    // Requests addressed to another host name (DNS rebinding) are refused.
    auto evil = c.Get("/api/summary", {{"Host", "evil.example:80"}});
    ASSERT_TRUE(evil);
    EXPECT_EQ(evil->status, 403);
}

TEST(Serve, OverflowingAndMalformedNumbersAnswerAJsonError) {
    // Numbers are parsed whole (std::from_chars, request.cpp): no 500, no garbage accepted.
    auto c = shared_server().client();
    const json big = get_json(c, "/api/image/99999999999", 404);
    ASSERT_TRUE(big.is_object());
    EXPECT_NE(big.value("error", "").find("99999999999"), std::string::npos) << big.dump();
    EXPECT_TRUE(get_json(c, "/api/image/99999999999999999999999999/input.png", 404).contains("error"));
    const json mc = get_json(c, "/api/cam?image=0&max_channels=1e9x", 400);
    ASSERT_TRUE(mc.is_object());
    const std::string msg = mc.value("error", "");
    EXPECT_NE(msg.find("max_channels"), std::string::npos) << msg;
    EXPECT_NE(msg.find("1e9x"), std::string::npos) << msg;
    EXPECT_TRUE(get_json(c, "/api/image/12abc", 400).contains("error"));
    EXPECT_TRUE(get_json(c, "/api/class/4294967299", 404).contains("error"));
    EXPECT_EQ(get_json(c, "/api/class/CAT")["class"]["name"], "cat");  // a class by name, any case
}

TEST(Serve, NoPathEscapesTheEmbeddedAssets) {
    const int port = shared_server().port();
    for (const std::string target :
         {"/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
          "/..%2f..%2f..%2fetc%2fpasswd", "/api/../../etc/passwd", "/api/image/0/../../../../etc/passwd",
          "/api/%2e%2e/%2e%2e/CMakeLists.txt", "/./app.js/../../README.md", "//etc/passwd", "/etc/passwd",
          "/web/app.js", "/CMakeLists.txt", "/app.js%00.html", "/api/image/0/input.png/../../../../../etc/passwd"}) {
        std::string body;
        const int status = raw_status(port, target, &body);
        EXPECT_TRUE(status == 404 || status == 400) << target << " -> " << status;
        EXPECT_EQ(body.find("root:"), std::string::npos) << target;
        EXPECT_EQ(body.find("cmake_minimum_required"), std::string::npos) << target;
    }
    EXPECT_EQ(raw_status(port, "/app.js"), 200);
}

TEST(Serve, ConcurrentClientsGetTheSingleThreadedAnswers) {
    // Expected answers from one client, one request at a time.
    std::vector<std::string> paths;
    for (int i = 0; i < 12; ++i) {
        paths.push_back("/api/cam?image=" + std::to_string(i) + "&target=" + std::to_string(i % 10));
        paths.push_back("/api/cam?image=" + std::to_string(i) + "&target=true&method=gradcampp");
        paths.push_back("/api/cam?image=" + std::to_string(i + 20) + "&target=pred&format=json");
        paths.push_back("/api/image/" + std::to_string(i * 7));
        paths.push_back("/api/image/" + std::to_string(i * 3) + "/input.png");
        paths.push_back("/api/diff?image=" + std::to_string(i + 40));
    }
    paths.push_back("/api/class/2");
    paths.push_back("/api/cell/3/5");
    std::map<std::string, std::string> expected;
    {
        auto c = shared_server().client();
        for (const auto& p : paths) {
            auto r = c.Get(p.c_str());
            ASSERT_TRUE(r) << p;
            ASSERT_EQ(r->status, 200) << p << ": " << r->body;
            std::string body = r->body;
            if (p.find("format=json") != std::string::npos) {  // compute_ms is a measurement
                auto j = json::parse(body);
                j.erase("compute_ms");
                body = j.dump();
            }
            expected[p] = body + "|" + r->get_header_value("X-Camscope-Cam");
        }
    }
    // A fresh server (nothing cached), 6 clients at once, each in its own order.
    ServerProcess fresh;
    constexpr int kClients = 6;
    std::vector<std::vector<std::string>> mismatches(kClients);
    std::vector<std::thread> threads;
    for (int t = 0; t < kClients; ++t)
        threads.emplace_back([&, t] {
            auto c = fresh.client();
            std::vector<std::string> order = paths;
            std::rotate(order.begin(), order.begin() + static_cast<long>((t * 11) % order.size()), order.end());
            if (t % 2) std::reverse(order.begin(), order.end());
            for (const auto& p : order) {
                auto r = c.Get(p.c_str());
                if (!r || r->status != 200) {
                    mismatches[t].push_back(p + " (no answer or error)");
                    continue;
                }
                std::string body = r->body;
                if (p.find("format=json") != std::string::npos) {
                    auto j = json::parse(body);
                    j.erase("compute_ms");
                    body = j.dump();
                }
                if (body + "|" + r->get_header_value("X-Camscope-Cam") != expected.at(p)) mismatches[t].push_back(p);
            }
        });
    for (auto& th : threads) th.join();
    for (int t = 0; t < kClients; ++t) EXPECT_TRUE(mismatches[t].empty()) << "client " << t << ": " << mismatches[t].size()
                                                                         << " wrong answers, first " << mismatches[t][0];
}

TEST(Serve, LiveCamOfAnUncachedRequest) {
    // Behaviour only (no wall-clock bound): an uncached live CAM after the warm-up answers a PNG of
    // the image's size with the requested target. Its time is printed for information.
    auto c = shared_server().client();
    ASSERT_TRUE(c.Get("/api/cam?image=150&target=1"));  // warm-up: the probe graph's first use
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.Get("/api/cam?image=151&target=2");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    ASSERT_TRUE(is_png_data(r->body));
    const Image img = decode_png(r->body, "cam.png");
    EXPECT_EQ(img.width, 32);
    EXPECT_EQ(img.height, 32);
    EXPECT_EQ(json::parse(r->get_header_value("X-Camscope-Cam"))["target"], 2);
    printf("one live CAM (tiny CIFAR-10 model, 32x32): %.1f ms\n", 1000 * s);
}

TEST(Serve, ResultsOfAnalyzeServeTheSameData) {
    const auto dir = fs::temp_directory_path() / "camscope_serve_results";
    fs::remove_all(dir);
    const std::string cmd =
        kBin + " -q analyze --faithfulness-n 0 -m " + kTinyModel + " -d " + kTinyData + " -o " + dir.string() + " >/dev/null 2>&1";
    ASSERT_EQ(system(cmd.c_str()), 0);
    // The offline copy: the assets, data.js and the images it references.
    for (const char* f : {"index.html", "app.js", "style.css", "data.js"})
        EXPECT_TRUE(fs::is_regular_file(dir / "explorer" / f)) << f;
    const auto js = read_file((dir / "explorer" / "data.js").string());
    const json offline = parse_explorer_data_js(std::string(js.begin(), js.end()), "data.js");
    EXPECT_TRUE(offline["offline"].get<bool>());
    ASSERT_FALSE(offline["images"].empty());
    for (const auto& [row, files] : offline["images"].items())
        for (const auto& [kind, file] : files.items())
            EXPECT_TRUE(fs::is_regular_file(dir / "explorer" / file.get<std::string>())) << file;
    // Every gallery image is in the offline copy, with the dual view for errors.
    for (const auto& g : offline["galleries"])
        for (const auto& w : g["worst"]) {
            const auto& e = offline["images"][std::to_string(w.get<int>())];
            EXPECT_TRUE(e.contains("true") && e.contains("diff")) << w;
        }
    // index.html of the report links the explorer.
    const auto index = read_file((dir / "index.html").string());
    EXPECT_NE(std::string(index.begin(), index.end()).find("explorer/index.html"), std::string::npos);

    ServerProcess from_results({"--results", dir.string()});
    auto a = from_results.client();
    auto b = shared_server().client();
    for (const char* p : {"/api/summary", "/api/confusion", "/api/class/4", "/api/image/17", "/api/cell/1/1"})
        EXPECT_EQ(get_json(a, p), get_json(b, p)) << p;
    // Results of another dataset are refused at startup.
    EXPECT_NE(system((kBin + " -q serve -m " + kDir + "/tiny_cifar100_model.pt -d " + kDir +
                      "/tiny_cifar100 --port 0 --results " + dir.string() + " >/dev/null 2>&1")
                         .c_str()),
              0);
}
