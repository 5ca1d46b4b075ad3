// The live-CAM lane of `camscope serve`, in process: the Explorer over the tiny CIFAR-10 fixture and
// run_server on a free loopback port, driven through ServeOptions::hooks so that every step is an
// event the test waits for, never a duration: a CAM held at its start keeps the lane busy while
// the test fills the queue, asks for cheap routes and closes clients. (The 60 s waits only guard
// against a hang.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/pipeline/analyze.hpp"
#include "camscope/pipeline/measure.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/serve/server.hpp"
#include "camscope/util/error.hpp"

using namespace camscope;
using namespace camscope::serve;
using nlohmann::json;

namespace {

const std::string kDir = CAMSCOPE_FIXTURES_DIR;

/// The model, dataset and explorer data of the tiny fixture, made once.
struct Fixture {
    std::unique_ptr<Model> model;
    std::unique_ptr<Dataset> data;
    InputSpec spec;
    json explorer_data;

    Fixture() {
        model = std::make_unique<Model>(Model::load(kDir + "/tiny_cifar10_model.pt"));
        data = open_dataset(kDir + "/tiny_cifar10");
        spec = resolve_input_spec(model->info(), data->info(), {});
        data = fit_to_model(*model, std::move(data), spec, true);
        PassOptions po;
        po.progress = false;
        po.limit = 40;
        po.cams = true;
        po.cam.layers = {model->resolve_layer("", spec)};
        AnalysisOptions ro;
        ro.progress = false;
        const AnalysisInput in = measure(*model, *data, spec, po, kDir + "/tiny_cifar10_model.pt", kDir + "/tiny_cifar10");
        explorer_data = camscope::explorer_data(build_report(in, ro), in);
    }

    std::unique_ptr<Explorer> explorer(int max_channels = kServeMaxChannels) {
        return std::make_unique<Explorer>(*model, *data, spec, explorer_data, model->layers(spec), "", max_channels);
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

/// What the hooks saw; the CAM worker waits at each CAM's start until open.
struct Lane {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    int started = 0, dropped = 0;
    size_t queued = 0;  // the n of the last cam_queued

    void hook(ServeOptions& o) {
        o.hooks.cam_queued = [this](size_t n) {
            std::lock_guard l(mu);
            queued = n;
            cv.notify_all();
        };
        o.hooks.cam_start = [this] {
            std::unique_lock l(mu);
            ++started;
            cv.notify_all();
            cv.wait(l, [&] { return open; });
        };
        o.hooks.cam_dropped = [this] {
            std::lock_guard l(mu);
            ++dropped;
            cv.notify_all();
        };
    }
    template <class Pred>
    bool wait(Pred p) {
        std::unique_lock l(mu);
        return cv.wait_for(l, std::chrono::seconds(60), p);  // a hang guard, not a timing
    }
    int count(const int& n) {
        std::lock_guard l(mu);
        return n;
    }
    void release() {
        std::lock_guard l(mu);
        open = true;
        cv.notify_all();
    }
};

/// run_server on 127.0.0.1, any free port, in a thread; stopped and joined on destruction.
class Running {
public:
    Running(const Explorer& ex, ServeOptions o) : opt_(std::move(o)) {
        opt_.host = "127.0.0.1";
        opt_.port = 0;
        opt_.stop = std::make_shared<std::atomic<bool>>(false);
        std::promise<int> bound;
        auto port = bound.get_future();
        thread_ = std::thread([this, &ex, &bound] {
            bool told = false;
            try {
                run_server(ex, opt_, [&](const ListenInfo& at) {
                    told = true;
                    bound.set_value(at.port);
                });
            } catch (...) {
                if (!told) bound.set_exception(std::current_exception());
            }
        });
        try {
            port_ = port.get();
        } catch (...) {
            thread_.join();
            throw;
        }
    }
    ~Running() {
        opt_.stop->store(true);
        thread_.join();
    }
    int port() const { return port_; }

private:
    ServeOptions opt_;
    std::thread thread_;
    int port_ = 0;
};

/// A connection that has sent one GET (fd; -1 if it could not connect).
int send_get(int port, const std::string& target, const std::string& extra = "") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    timeval tv{60, 0};  // a hang guard
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n" + extra +
                            "Connection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
        ::close(fd);
        return -1;
    }
    return fd;
}

struct Answer {
    int status = -1;
    std::string head, body;
    bool has(const std::string& header_line) const { return head.find(header_line) != std::string::npos; }
};

/// Reads the whole answer (the server closes: Connection: close) and closes fd.
Answer read_answer(int fd) {
    std::string all;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        all.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    Answer a;
    const size_t end = all.find("\r\n\r\n");
    if (all.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return a;
    a.status = std::stoi(all.substr(9, 3));
    a.head = all.substr(0, end);
    a.body = all.substr(end + 4);
    return a;
}

Answer get(int port, const std::string& target, const std::string& extra = "") {
    return read_answer(send_get(port, target, extra));
}

std::string cam(int image) { return "/api/cam?image=" + std::to_string(image) + "&format=json"; }

}  // namespace

TEST(ServeLive, CamQueueIsBoundedAndCheapRoutesNeverWaitBehindIt) {
    auto ex = fixture().explorer();
    Lane lane;
    ServeOptions o;
    o.http_threads = 1;  // one worker for everything else: a CAM on it would block the summary below
    o.cam_queue = 1;
    lane.hook(o);
    Running srv(*ex, o);
    const int a = send_get(srv.port(), cam(0));
    ASSERT_GE(a, 0);
    ASSERT_TRUE(lane.wait([&] { return lane.started == 1; }));  // A is being computed (held at its start)
    const int b = send_get(srv.port(), cam(1));
    ASSERT_TRUE(lane.wait([&] { return lane.queued == 2; }));  // B waits behind it: the queue is full
    // C: beyond the queue, 503 with Retry-After, at once.
    const Answer c = get(srv.port(), cam(2));
    EXPECT_EQ(c.status, 503) << c.head << c.body;
    EXPECT_TRUE(c.has("Retry-After: ")) << c.head;
    EXPECT_NE(json::parse(c.body, nullptr, false).value("error", "").find("try again"), std::string::npos) << c.body;
    // The cheap routes are answered while the lane is busy and full, on the one worker.
    const Answer summary = get(srv.port(), "/api/summary");
    EXPECT_EQ(summary.status, 200) << summary.body;
    EXPECT_EQ(json::parse(summary.body, nullptr, false)["live"], true);
    EXPECT_EQ(get(srv.port(), "/").status, 200);
    EXPECT_EQ(get(srv.port(), "/api/image/3").status, 200);
    lane.release();
    const Answer ra = read_answer(a), rb = read_answer(b);
    EXPECT_EQ(ra.status, 200) << ra.body;
    EXPECT_EQ(rb.status, 200) << rb.body;
    EXPECT_EQ(json::parse(ra.body)["image"], 0);
    EXPECT_EQ(json::parse(rb.body)["image"], 1);
    EXPECT_EQ(lane.count(lane.started), 2);
    // A cached CAM is a cheap route: answered beside the lane, which never sees it.
    EXPECT_FALSE(ex->computes("/api/cam", {{"image", "0"}, {"format", "json"}}));
    EXPECT_EQ(get(srv.port(), cam(0)).status, 200);
    EXPECT_EQ(lane.count(lane.started), 2);
}

TEST(ServeLive, AQueuedCamWhoseClientHasGoneIsDroppedBeforeItStarts) {
    auto ex = fixture().explorer();
    Lane lane;
    ServeOptions o;
    o.cam_queue = 2;
    lane.hook(o);
    Running srv(*ex, o);
    const int a = send_get(srv.port(), cam(5));
    ASSERT_TRUE(lane.wait([&] { return lane.started == 1; }));
    const int b = send_get(srv.port(), cam(6));
    ASSERT_TRUE(lane.wait([&] { return lane.queued == 2; }));
    ::close(b);  // B's client goes away (an <img> removed, a tab closed) while B waits
    const int d = send_get(srv.port(), cam(7));
    ASSERT_TRUE(lane.wait([&] { return lane.queued == 3; }));
    lane.release();
    EXPECT_EQ(read_answer(a).status, 200);
    EXPECT_EQ(read_answer(d).status, 200);  // the lane is first in, first out: B's turn came before D's
    std::lock_guard l(lane.mu);
    EXPECT_EQ(lane.dropped, 1);
    EXPECT_EQ(lane.started, 2);  // A and D: B was never started
    EXPECT_TRUE(ex->computes("/api/cam", {{"image", "6"}, {"format", "json"}}));  // nor computed
    EXPECT_FALSE(ex->computes("/api/cam", {{"image", "7"}, {"format", "json"}}));
}

TEST(ServeLive, APerturbationCamStopsBetweenBatchesWhenItsClientGoes) {
    // A Score-CAM difference of classes 0 and 1: two maps, each one batch of perturbed forwards
    // (the tiny model's layers have at most 64 channels), with the progress hook after each batch.
    // A client gone after the first batch stops the second from running.
    auto ex = fixture().explorer();
    const Query q{{"image", "2"}, {"a", "0"}, {"b", "1"}, {"method", "scorecam"}, {"format", "json"}};
    int asked = 0;
    const Response r = ex->handle("GET", "/api/diff", q, "", [&] { return ++asked > 1; });  // gone after the start check
    EXPECT_EQ(r.status, 499) << r.body;
    EXPECT_NE(r.body.find("went away"), std::string::npos) << r.body;
    EXPECT_EQ(asked, 2) << "asked before the start and after the first batch, then stopped";
    EXPECT_TRUE(ex->computes("/api/diff", q));  // nothing was cached
    // A client that stays gets the whole difference, asked before the start and after each batch.
    asked = 0;
    const Response full = ex->handle("GET", "/api/diff", q, "", [&] { return ++asked < 0; });
    ASSERT_EQ(full.status, 200) << full.body;
    EXPECT_EQ(asked, 3);
    EXPECT_FALSE(ex->computes("/api/diff", q));
    // Gone before the start: nothing runs.
    asked = 0;
    const Query other{{"image", "4"}, {"method", "ablationcam"}, {"format", "json"}};
    EXPECT_EQ(ex->handle("GET", "/api/cam", other, "", [&] { return ++asked > 0; }).status, 499);
    EXPECT_EQ(asked, 1);
}

TEST(ServeLive, PerturbationCamsAreCappedByDefaultAndSayHowFar) {
    auto ex = fixture().explorer();  // the default cap
    EXPECT_EQ(json::parse(ex->handle("GET", "/api/methods", {}).body)["max_channels"], kServeMaxChannels);
    EXPECT_EQ(json::parse(ex->handle("GET", "/api/explorer", {}).body)["max_channels"], kServeMaxChannels);
    auto stats = [&](const Query& q) {
        const Response r = ex->handle("GET", "/api/cam", q);
        EXPECT_EQ(r.status, 200) << r.body;
        return json::parse(r.body, nullptr, false);
    };
    EXPECT_EQ(stats({{"image", "1"}, {"method", "scorecam"}, {"format", "json"}})["max_channels"], kServeMaxChannels);
    EXPECT_EQ(stats({{"image", "1"}, {"method", "scorecam"}, {"max_channels", "0"}, {"format", "json"}})["max_channels"],
              kServeMaxChannels);
    EXPECT_EQ(stats({{"image", "1"}, {"method", "ablationcam"}, {"max_channels", "5"}, {"format", "json"}})["max_channels"], 5);
    EXPECT_FALSE(stats({{"image", "1"}, {"method", "gradcam"}, {"format", "json"}}).contains("max_channels"));
    // A PNG says it in its X-Camscope-Cam header.
    const Response png = ex->handle("GET", "/api/cam", {{"image", "1"}, {"method", "scorecam"}, {"max_channels", "999"}});
    ASSERT_EQ(png.status, 200);
    bool said = false;
    for (const auto& [k, v] : png.headers)
        if (k == "X-Camscope-Cam") said = json::parse(v)["max_channels"] == kServeMaxChannels;
    EXPECT_TRUE(said);
}

TEST(ServeLive, EveryAnswerForbidsFramingAndCrossSiteApiRequestsAreRefused) {
    auto ex = fixture().explorer();
    Running srv(*ex, ServeOptions{});
    for (const char* target : {"/", "/app.js", "/api/summary", "/api/nope", "/api/image/99999"}) {
        const Answer a = get(srv.port(), target);
        EXPECT_TRUE(a.has("X-Frame-Options: DENY")) << target << "\n" << a.head;
        EXPECT_TRUE(a.has("Content-Security-Policy: frame-ancestors 'none'")) << target << "\n" << a.head;
    }
    const std::string cross = "Sec-Fetch-Site: cross-site\r\n";
    const Answer refused = get(srv.port(), cam(3), cross);  // another site's <img src=...>
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_NE(refused.body.find("cross-site"), std::string::npos) << refused.body;
    EXPECT_TRUE(ex->computes("/api/cam", {{"image", "3"}, {"format", "json"}}));  // and nothing was computed
    EXPECT_TRUE(refused.has("X-Frame-Options: DENY"));
    EXPECT_EQ(get(srv.port(), "/api/summary", cross).status, 403);
    EXPECT_EQ(get(srv.port(), "/", cross).status, 200);  // the pages themselves may be linked to
    for (const char* site : {"same-origin", "same-site", "none"})
        EXPECT_EQ(get(srv.port(), "/api/summary", std::string("Sec-Fetch-Site: ") + site + "\r\n").status, 200) << site;
}

TEST(ServeLive, FramingCanBeAllowedForTheNotebook) {
    auto ex = fixture().explorer();
    ServeOptions o;
    o.frame_ancestors = "'self' http://localhost:* http://127.0.0.1:*";
    Running srv(*ex, o);
    const Answer a = get(srv.port(), "/");
    EXPECT_EQ(a.status, 200);
    EXPECT_TRUE(a.has("Content-Security-Policy: frame-ancestors 'self' http://localhost:* http://127.0.0.1:*")) << a.head;
    EXPECT_FALSE(a.has("X-Frame-Options")) << a.head;
    // A value that would inject another directive or header is refused before binding.
    for (const char* bad : {"'self'; script-src *", "a, b", "x\r\nSet-Cookie: y", ""}) {
        ServeOptions b;
        b.frame_ancestors = bad;
        EXPECT_THROW({ Running r(*ex, b); }, UsageError) << bad;
    }
}

// The routes read the typed explorer model (report/explorer.hpp): the same data given in its
// many-class form (confusion "cells" instead of "counts") answers api/confusion with exactly the
// non-zero cells of the dense matrix, recounted here from the JSON; every other route answers as
// over the dense form.
TEST(ServeLive, ConfusionCellsOfTheManyClassFormAreTheNonZeroCounts) {
    Fixture& f = fixture();
    json sparse_data = f.explorer_data;
    const json counts = sparse_data["confusion"]["counts"];
    json cells = json::array();
    for (size_t t = 0; t < counts.size(); ++t)
        for (size_t p = 0; p < counts[t].size(); ++p)
            if (counts[t][p].get<long long>() != 0) cells.push_back({t, p, counts[t][p]});
    ASSERT_GT(cells.size(), 1u);
    sparse_data["confusion"].erase("counts");
    sparse_data["confusion"]["cells"] = cells;

    auto dense = f.explorer();
    Explorer sparse(*f.model, *f.data, f.spec, sparse_data, f.model->layers(f.spec), "");
    const json answer = json::parse(sparse.handle("GET", "/api/confusion", {}).body);
    EXPECT_FALSE(answer.contains("counts"));
    EXPECT_EQ(answer["cells"], cells);
    EXPECT_EQ(answer["order"], sparse_data["confusion"]["order"]);
    EXPECT_EQ(json::parse(dense->handle("GET", "/api/confusion", {}).body)["counts"], counts);
    for (const char* path : {"/api/summary", "/api/classes", "/api/class/3", "/api/cell/3/5", "/api/image/7", "/api/methods"})
        EXPECT_EQ(sparse.handle("GET", path, {}).body, dense->handle("GET", path, {}).body) << path;
}
