// Server tests: run the real `camscope serve` on the tiny CIFAR-10 fixture (a free port on
// loopback), talk to it with cpp-httplib clients and raw sockets, and check every answer.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "camscope/image/image.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/npy.hpp"
#include "support/cli.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace camscope;

namespace {

using support::decode_png;
using support::is_png_data;
using support::kBin;
using support::kDir;
using support::kTinyData;
using support::kTinyModel;
using support::slurp;

/// `camscope serve` as a child process on a free port; killed (SIGTERM) and reaped on destruction.
/// Its stderr goes to a file (errors()).
class ServerProcess {
public:
    explicit ServerProcess(std::vector<std::string> extra = {}, const std::string& model = kTinyModel,
                           const std::string& data = kTinyData) {
        static int counter = 0;
        err_path_ = (fs::temp_directory_path() / ("camscope_serve_err_" + std::to_string(getpid()) + "_" +
                                                  std::to_string(counter++)))
                        .string();
        std::vector<std::string> args{kBin, "-q", "serve", "-m", model, "-d", data, "--port", "0", "--threads", "2"};
        args.insert(args.end(), extra.begin(), extra.end());
        int out[2];
        if (pipe(out) != 0) throw std::runtime_error("pipe");
        pid_ = fork();
        if (pid_ == 0) {
            dup2(out[1], STDOUT_FILENO);
            const int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (err >= 0) dup2(err, STDERR_FILENO);
            close(out[0]);
            close(out[1]);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(kBin.c_str(), argv.data());
            _exit(127);
        }
        close(out[1]);
        FILE* f = fdopen(out[0], "r");
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            output_ += line;
            const std::string l = line;
            const auto at = l.find("http://");
            const auto slash = at == std::string::npos ? at : l.find('/', at + 7);
            const auto colon = slash == std::string::npos ? slash : l.rfind(':', slash);
            if (colon != std::string::npos && colon > at + 7) {
                host_ = l.substr(at + 7, colon - at - 7);
                if (host_ == "0.0.0.0") host_ = "127.0.0.1";  // bound to every address: reach it on loopback
                port_ = std::stoi(l.substr(colon + 1));
                break;
            }
        }
        // Keep draining stdout in the background so the child never blocks on a full pipe.
        reader_ = std::thread([f] {
            char buf[256];
            while (fgets(buf, sizeof buf, f)) {
            }
            fclose(f);
        });
        if (port_ <= 0) throw std::runtime_error("camscope serve did not print its URL: " + output_ + errors());
    }
    ~ServerProcess() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            int status;
            waitpid(pid_, &status, 0);
        }
        if (reader_.joinable()) reader_.join();
        std::remove(err_path_.c_str());
    }
    int port() const { return port_; }
    const std::string& host() const { return host_; }
    httplib::Client client() const {
        httplib::Client c(host_, port_);
        c.set_read_timeout(60, 0);
        return c;
    }
    std::string errors() const {
        std::ifstream f(err_path_);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }

private:
    pid_t pid_ = -1;
    int port_ = 0;
    std::string host_ = "127.0.0.1";
    std::string output_, err_path_;
    std::thread reader_;
};

ServerProcess& shared_server() {
    static ServerProcess s;
    return s;
}

json get_json(httplib::Client& c, const std::string& path, int expect = 200) {
    auto r = c.Get(path.c_str());
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, expect) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(r->body, nullptr, false);
}


int connect_to(const std::string& host, int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/// Sends `request` raw on a new connection and reads the answer until the server closes it.
std::string raw_exchange(const std::string& host, int port, const std::string& request) {
    const int fd = connect_to(host, port);
    if (fd < 0) return "";
    timeval tv{60, 0};  // a hang fails instead of sticking
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        close(fd);
        return "";
    }
    std::string resp;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
    close(fd);
    return resp;
}

int status_of(const std::string& resp) { return resp.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(resp.substr(9, 3)) : -1; }

/// One raw HTTP/1.1 request (no client-side normalisation of the path); returns the status code.
int raw_status(int port, const std::string& target, std::string* body = nullptr, const std::string& host_header = "127.0.0.1",
               const std::string& host = "127.0.0.1") {
    const std::string resp =
        raw_exchange(host, port, "GET " + target + " HTTP/1.1\r\nHost: " + host_header + "\r\nConnection: close\r\n\r\n");
    if (body) *body = resp;
    return status_of(resp);
}

}  // namespace

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

TEST(Serve, HostCheckHoldsForEveryBind) {
    const int port = shared_server().port();
    std::string body;
    EXPECT_EQ(raw_status(port, "/api/summary", &body, "LOCALHOST"), 200);
    EXPECT_EQ(raw_status(port, "/api/summary", &body, "localhost:" + std::to_string(port)), 200);
    EXPECT_EQ(raw_status(port, "/api/summary", &body, "[::1]:" + std::to_string(port)), 200);
    for (const std::string evil : {"evil.com", "127.0.0.1:80@evil.com", "localhost.evil.com", "127.0.0.1.nip.io",
                                   "localhost:99999", "127.0.0.1:0", "localhost:65536"}) {  // no such port
        EXPECT_EQ(raw_status(port, "/api/summary", &body, evil), 403) << evil;
        EXPECT_NE(body.find("\"error\""), std::string::npos) << body;
    }
    // Bound to another loopback address: still checked (it used to turn off).
    {
        ServerProcess other({"--host", "127.0.0.2"});
        ASSERT_EQ(other.host(), "127.0.0.2");
        EXPECT_EQ(raw_status(other.port(), "/api/summary", &body, "evil.com", "127.0.0.2"), 403);
        EXPECT_EQ(raw_status(other.port(), "/api/summary", &body, "127.0.0.2", "127.0.0.2"), 200);
        EXPECT_EQ(other.errors().find("WARNING"), std::string::npos) << other.errors();
    }
    // Bound to every interface: a loud warning (even with -q), the check stays on, --allow-host extends it.
    {
        ServerProcess all({"--host", "0.0.0.0", "--allow-host", "my.box"});
        const std::string err = all.errors();
        EXPECT_NE(err.find("WARNING: listening on 0.0.0.0"), std::string::npos) << err;
        EXPECT_NE(err.find("no authentication"), std::string::npos) << err;
        EXPECT_EQ(raw_status(all.port(), "/api/summary", &body, "evil.com"), 403);
        EXPECT_EQ(raw_status(all.port(), "/api/summary", &body, "my.box:" + std::to_string(all.port())), 200);
        EXPECT_EQ(raw_status(all.port(), "/api/summary", &body, "127.0.0.1"), 200);
    }
}

TEST(Serve, OversizedRequestHeadIsRefused) {
    // 20,000 bytes of one header line and no end: 431 with a JSON error, then the connection closes.
    const std::string resp = raw_exchange("127.0.0.1", shared_server().port(),
                                          "GET /api/summary HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(19950, 'b'));
    EXPECT_EQ(status_of(resp), 431) << resp.substr(0, 200);
    EXPECT_NE(resp.find("{\"error\": \"the request head is larger than 16384 bytes\"}"), std::string::npos) << resp;
}

TEST(Serve, InternalErrorsNameNoLocalPath) {
    // A dataset file that goes bad while the server runs: the answer is a 500 without the path
    // (the server's log has the details).
    const auto data = fs::temp_directory_path() / "camscope_serve_shrinking_data";
    fs::remove_all(data);
    fs::copy(kTinyData, data, fs::copy_options::recursive);
    ServerProcess srv({}, kTinyModel, data.string());
    fs::resize_file(data / "test_batch.bin", 100 * 3073);  // images 100.. are gone
    std::string resp;
    EXPECT_EQ(raw_status(srv.port(), "/api/image/150/input.png", &resp), 500) << resp;
    EXPECT_EQ(resp.find(data.string()), std::string::npos) << resp;
    EXPECT_EQ(resp.find("test_batch.bin"), std::string::npos) << resp;
    EXPECT_NE(resp.find("the server's log has the details"), std::string::npos) << resp;
    EXPECT_EQ(raw_status(srv.port(), "/api/cam?image=150", &resp), 500);
    EXPECT_EQ(resp.find(data.string()), std::string::npos) << resp;
    EXPECT_NE(srv.errors().find("test_batch.bin"), std::string::npos) << srv.errors();  // the log does
    EXPECT_EQ(raw_status(srv.port(), "/api/image/5/input.png", &resp), 200);           // the rest still works
    fs::remove_all(data);
}

TEST(Serve, SlowAndIdleClientsDoNotStarveOthers) {
    // Held open for the whole test (the test never closes them; the server may): 8 idle keep-alive
    // connections after one request each, 8 silent connections, 2 clients dribbling a request head
    // byte by byte and 10 sending one header line per second (12 slow clients, more than the
    // server's 8 workers: a thread-per-connection server never answers anyone else while they
    // dribble). Normal requests (the explorer data, a thumbnail sheet, tags read and written) must
    // still be answered: a hang detector (60 s per request), not a speed bound.
    ServerProcess srv;
    const int port = srv.port();
    std::vector<int> held;
    for (int i = 0; i < 8; ++i) {
        const int fd = connect_to("127.0.0.1", port);
        ASSERT_GE(fd, 0);
        const std::string req = "GET /api/summary HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        ASSERT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
        timeval tv{60, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::string resp;
        char buf[4096];
        while (resp.find("\r\n\r\n") == std::string::npos || resp.find("}") == std::string::npos) {
            const ssize_t n = read(fd, buf, sizeof buf);
            ASSERT_GT(n, 0) << "no answer on keep-alive connection " << i;
            resp.append(buf, static_cast<size_t>(n));
        }
        EXPECT_EQ(status_of(resp), 200);
        held.push_back(fd);
    }
    for (int i = 0; i < 8; ++i) held.push_back(connect_to("127.0.0.1", port));
    std::vector<int> slow;
    for (int i = 0; i < 12; ++i) {
        const int fd = connect_to("127.0.0.1", port);
        const std::string start = "GET /api/summary HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        send(fd, start.data(), start.size(), MSG_NOSIGNAL);
        slow.push_back(fd);
    }
    // 10 more whose POST head is complete but whose body (Content-Length 64) comes a byte at a time.
    std::vector<int> slow_body;
    for (int i = 0; i < 10; ++i) {
        const int fd = connect_to("127.0.0.1", port);
        const std::string head = "POST /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 64\r\n\r\n{";
        send(fd, head.data(), head.size(), MSG_NOSIGNAL);
        slow_body.push_back(fd);
    }
    std::atomic<bool> stop{false};
    std::thread dribble([&] {
        // The first 2 slow clients send their head byte by byte (one every 0.1 s), the others a line a second.
        const std::string line = "X-Slow: 1\r\n";
        for (size_t tick = 0; !stop; ++tick) {
            for (int c = 0; c < 2; ++c) send(slow[c], &line[tick % line.size()], 1, MSG_NOSIGNAL);
            if (tick < 40)  // never the whole body: 40 of its 64 bytes
                for (int fd : slow_body) send(fd, " ", 1, MSG_NOSIGNAL);
            if (tick % 10 == 0)
                for (size_t c = 2; c < slow.size(); ++c) send(slow[c], line.data(), line.size(), MSG_NOSIGNAL);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    {
        auto c = srv.client();
        for (const char* p : {"/api/summary", "/api/explorer", "/api/image/3", "/api/cam?image=4", "/app.js", "/api/class/2",
                              "/api/thumbs/0.png", "/api/tags"}) {
            auto r = c.Get(p);
            ASSERT_TRUE(r) << p << ": no answer while slow and idle clients are connected";
            EXPECT_EQ(r->status, 200) << p;
        }
        auto post = c.Post("/api/tags", R"({"row": 5, "tags": ["relabel"]})", "application/json");
        ASSERT_TRUE(post) << "POST api/tags: no answer while slow and idle clients are connected";
        EXPECT_EQ(post->status, 200) << post->body;
        std::vector<std::thread> clients;
        std::atomic<int> answered{0};
        for (int t = 0; t < 8; ++t)
            clients.emplace_back([&] {
                auto ct = srv.client();
                if (auto r = ct.Get("/api/explorer"); r && r->status == 200) ++answered;
            });
        for (auto& t : clients) t.join();
        EXPECT_EQ(answered, 8);
    }
    // The slow clients' heads never complete: the server closes them (its header timeout is 10 s;
    // 60 s here is a hang detector).
    timeval tv{60, 0};
    setsockopt(slow[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b;
    const ssize_t got = read(slow[0], &b, 1);
    const int err = errno;
    EXPECT_TRUE(got == 0 || (got < 0 && err == ECONNRESET))
        << "a request head that never completes was not cut off (read " << got << ", " << strerror(err) << ")";
    stop = true;
    dribble.join();
    for (int fd : held) close(fd);
    for (int fd : slow) close(fd);
    for (int fd : slow_body) close(fd);
}

TEST(Serve, APostBodyArrivingInPiecesIsAnsweredWhole) {
    // The poller gathers a Content-Length body before a worker takes the request: pieces 0.2 s
    // apart make one update.
    ServerProcess srv;
    const int fd = connect_to("127.0.0.1", srv.port());
    ASSERT_GE(fd, 0);
    const std::string body = R"({"row": 12, "tags": ["relabel", "ambiguous"]})";
    const std::string head = "POST /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    ASSERT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
    for (size_t at = 0; at < body.size(); at += 16) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const std::string piece = body.substr(at, 16);
        ASSERT_EQ(send(fd, piece.data(), piece.size(), MSG_NOSIGNAL), static_cast<ssize_t>(piece.size()));
    }
    timeval tv{60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string resp;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
    close(fd);
    EXPECT_EQ(status_of(resp), 200) << resp;
    const size_t at = resp.find("\r\n\r\n");
    ASSERT_NE(at, std::string::npos) << resp;
    EXPECT_EQ(json::parse(resp.substr(at + 4)), json::parse(R"({"tags": {"12": ["relabel", "ambiguous"]}, "persisted": false})"));
    auto c = srv.client();
    EXPECT_EQ(get_json(c, "/api/tags")["tags"], json::parse(R"({"12": ["relabel", "ambiguous"]})"));
}

TEST(Serve, ExplorerDataIsCompressedOnceAndSentGzip) {
    const auto& srv = shared_server();
    httplib::Client raw(srv.host(), srv.port());
    raw.set_read_timeout(60, 0);
    raw.set_decompress(false);
    auto plain = raw.Get("/api/explorer", {{"Accept-Encoding", "identity"}});
    auto g1 = raw.Get("/api/explorer", {{"Accept-Encoding", "gzip, deflate, br"}});
    auto g2 = raw.Get("/api/explorer", {{"Accept-Encoding", "br;q=1.0, gzip;q=0.8"}});
    auto br = raw.Get("/api/explorer", {{"Accept-Encoding", "br"}});
    auto no_gzip = raw.Get("/api/explorer", {{"Accept-Encoding", "gzip;q=0"}});
    ASSERT_TRUE(plain && g1 && g2 && br && no_gzip);
    EXPECT_FALSE(plain->has_header("Content-Encoding"));
    ASSERT_EQ(g1->get_header_value("Content-Encoding"), "gzip");
    EXPECT_EQ(g1->get_header_value("Vary"), "Accept-Encoding");
    EXPECT_EQ(g1->body, g2->body);       // the bytes compressed once
    EXPECT_LT(g1->body.size(), plain->body.size() / 3);
    EXPECT_FALSE(br->has_header("Content-Encoding"));  // never Brotli-compressed afresh per request
    EXPECT_EQ(br->body, plain->body);
    EXPECT_FALSE(no_gzip->has_header("Content-Encoding"));
    // What a gzip-capable client decodes is the plain answer.
    auto c = srv.client();
    auto decoded = c.Get("/api/explorer", {{"Accept-Encoding", "gzip"}});
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->body, plain->body);
    EXPECT_EQ(json::parse(plain->body)["rows"]["pred"].size(), 200u);
    // Other answers go out as they are.
    auto small = raw.Get("/api/summary", {{"Accept-Encoding", "gzip, br"}});
    ASSERT_TRUE(small);
    EXPECT_FALSE(small->has_header("Content-Encoding"));
    EXPECT_TRUE(json::parse(small->body).is_object());
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
