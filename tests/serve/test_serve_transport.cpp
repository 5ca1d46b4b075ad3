// Server transport tests (the real `camscope serve`): every bind's Host check, oversized heads,
// slow and idle clients, a POST body in pieces, the explorer data sent gzip.
#include "serve_process.hpp"

using namespace serve_test;

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
