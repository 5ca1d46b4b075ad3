#pragma once
// What the serve tests share: `camscope serve` as a child process (ServerProcess, shared_server),
// JSON and raw-socket requests. Included by test_serve.cpp (pages, API, live CAMs),
// test_serve_transport.cpp (bind, Host check, slow clients, framing, gzip) and
// test_serve_results.cpp (--results, thumbnails, tags).
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

namespace serve_test {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace camscope;

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

inline ServerProcess& shared_server() {
    static ServerProcess s;
    return s;
}

inline json get_json(httplib::Client& c, const std::string& path, int expect = 200) {
    auto r = c.Get(path.c_str());
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, expect) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(r->body, nullptr, false);
}


inline int connect_to(const std::string& host, int port) {
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
inline std::string raw_exchange(const std::string& host, int port, const std::string& request) {
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

inline int status_of(const std::string& resp) { return resp.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(resp.substr(9, 3)) : -1; }

/// One raw HTTP/1.1 request (no client-side normalisation of the path); returns the status code.
inline int raw_status(int port, const std::string& target, std::string* body = nullptr, const std::string& host_header = "127.0.0.1",
               const std::string& host = "127.0.0.1") {
    const std::string resp =
        raw_exchange(host, port, "GET " + target + " HTTP/1.1\r\nHost: " + host_header + "\r\nConnection: close\r\n\r\n");
    if (body) *body = resp;
    return status_of(resp);
}

}  // namespace serve_test
