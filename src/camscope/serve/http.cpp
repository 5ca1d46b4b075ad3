// The HTTP transport of `camscope serve` (http.hpp): the poller, the lanes, framing, and
// cpp-httplib as request parser and response writer. The socket calls are in http_io.cpp.
#include "camscope/serve/http.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "camscope/serve/http_io.hpp"
#include "camscope/serve/tags.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::serve {

using nlohmann::json;
using namespace http_io;

Response json_response(const json& j, int status) {
    Response r;
    r.status = status;
    r.body = j.dump(-1, ' ', /*ensure_ascii=*/true);
    return r;
}

Response error_response(int status, const std::string& message) { return json_response({{"error", message}}, status); }

std::shared_ptr<const std::string> gzip(std::string_view body) {
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return nullptr;
    std::string out(deflateBound(&z, body.size()) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
    z.avail_in = static_cast<uInt>(body.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) return nullptr;
    return std::make_shared<const std::string>(std::move(out));
}

bool accepts_gzip(const std::string& header) {
    for (const auto& part : split(header, ',')) {
        const auto fields = split(part, ';');
        const std::string coding = to_lower(trim(fields[0]));
        if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
        bool zero = false;
        for (size_t i = 1; i < fields.size(); ++i) {
            const std::string f = trim(fields[i]);
            if (f.rfind("q=", 0) == 0) zero = std::strtod(f.c_str() + 2, nullptr) <= 0;
        }
        if (!zero) return true;
    }
    return false;
}

namespace {

/// The headers that keep other sites from framing the explorer (clickjacking), on every answer.
std::vector<std::pair<std::string, std::string>> frame_headers(const std::string& ancestors) {
    std::vector<std::pair<std::string, std::string>> h{{"Content-Security-Policy", "frame-ancestors " + ancestors}};
    if (ancestors == "'none'") h.push_back({"X-Frame-Options", "DENY"});  // for browsers without CSP
    return h;
}

// ---------------------------------------------------------------- connections
// cpp-httplib's own server gives every connection a worker thread from accept to close: a client
// that sends its request slowly, or keeps an idle keep-alive connection open, holds a worker for
// seconds, and a handful of them starve everyone else. Here one thread (the poller) owns every
// connection while it is idle or its request head is still arriving, with deadlines; a worker
// gets a connection only once a complete request head is there, answers it through httplib's
// request parser and router (Server::process_request), and hands the connection back.

constexpr size_t kMaxHead = 16 * 1024;  // request line + headers; cpp-httplib allows 8 KB per line

// cpp-httplib compresses a text answer whenever the request's Accept-Encoding allows, afresh on
// every request (Brotli at its highest quality). The header is renamed in the request head before
// httplib parses it, and the server chooses the encoding itself (cached gzip, see set_answer).
constexpr const char* kAcceptEncoding = "X-Camscope-Accept-Encoding";

void hide_accept_encoding(std::string& buf) {
    const size_t head_end = buf.find("\r\n\r\n");
    static const std::string name = "accept-encoding:";
    for (size_t line = buf.find('\n'); line != std::string::npos && line < head_end; line = buf.find('\n', line + 1)) {
        const size_t at = line + 1;
        if (buf.size() - at >= name.size() && to_lower(std::string_view(buf).substr(at, name.size())) == name) {
            buf.replace(at, name.size() - 1, kAcceptEncoding);
            break;
        }
    }
}

/// The request a worker is answering, for the route handler (set by Front::answer on its thread).
struct RequestContext {
    int fd = -1;
    bool busy = false;  // a live CAM beyond the queue: answer 503
};
thread_local const RequestContext* t_request = nullptr;

/// httplib::Server as request parser, router and response writer only (process_request is
/// protected): connections are accepted and kept by Front below, never by httplib's listen().
class Router : public httplib::Server {
public:
    bool answer(httplib::Stream& strm, bool close_connection, bool& connection_closed) {
        return process_request(strm, close_connection, connection_closed, nullptr);
    }
};

struct Conn {
    int fd = -1;
    bool busy = false;           // a live CAM the lane had no room for (answered 503)
    std::string buf;             // bytes of the next request read so far
    Clock::time_point deadline;  // idle: until the next request starts; then: until its head is complete
    Clock::time_point last;      // last activity (the oldest idle connection goes first when full)
    unsigned served = 0;         // requests answered on this connection
    bool started = false;        // a request head has begun
};

class Front {
public:
    /// `computes(head)`: whether the request in a complete head goes to the CAM lane.
    Front(Router& router, const ServeOptions& opt, std::function<bool(std::string_view head)> computes)
        : router_(router), opt_(opt), computes_(std::move(computes)) {
        if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
    }

    ~Front() {
        for (const int fd : wake_)
            if (fd >= 0) ::close(fd);
    }

    /// Serves until opt_.stop is set (never without one); then the workers finish their requests,
    /// and every connection and the listening socket are closed.
    void run(int listen_fd) {
        httplib::ThreadPool pool(static_cast<size_t>(std::max(1, opt_.http_threads)));
        httplib::ThreadPool cam_pool(1);  // the model computes one CAM at a time: one worker, a bounded queue
        cam_pool_ = &cam_pool;
        std::vector<pollfd> fds;
        const auto stopped = [this] { return opt_.stop && opt_.stop->load(); };
        while (!stopped()) {
            for (const int fd : adopt_returned())  // a pipelined request may be complete already
                if (auto it = conns_.find(fd); it != conns_.end()) dispatch_if_complete(it, pool);
            const auto now = Clock::now();
            for (auto it = conns_.begin(); it != conns_.end();) {  // expired: idle too long, or a head too slow
                if (it->second.deadline <= now) {
                    close_fd(it->first);
                    it = conns_.erase(it);
                } else {
                    ++it;
                }
            }
            fds.clear();
            fds.push_back({listen_fd, POLLIN, 0});
            fds.push_back({wake_[0], POLLIN, 0});
            auto next = now + std::chrono::seconds(60);
            for (const auto& [fd, c] : conns_) {
                fds.push_back({fd, POLLIN, 0});
                next = std::min(next, c.deadline);
            }
            if (opt_.stop) next = std::min(next, now + std::chrono::milliseconds(100));  // to see a stop soon
            const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
            const int r = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(wait_ms, 1)));
            if (r < 0 && errno != EINTR) throw Error(std::string("poll: ") + std::strerror(errno));
            if (r <= 0) continue;
            for (size_t i = 2; i < fds.size(); ++i)
                if (fds[i].revents) on_readable(fds[i].fd, pool);
            if (fds[1].revents) {
                char drain[64];
                while (::read(wake_[0], drain, sizeof drain) > 0) {
                }
            }
            if (fds[0].revents) accept_all(listen_fd);
        }
        ::close(listen_fd);
        cam_pool.shutdown();  // the CAM being computed finishes; the queued ones are dropped (stopped())
        pool.shutdown();  // joins the workers: none answers after this
        adopt_returned();
        for (const auto& [fd, c] : conns_) close_fd(fd);
        conns_.clear();
    }

private:
    void accept_all(int listen_fd) {
        for (;;) {
            const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0) return;  // EAGAIN, or out of descriptors: try again on the next round
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (conns_.size() >= static_cast<size_t>(std::max(1, opt_.max_connections))) {
                // Full: the connection idle the longest makes room (a flood of silent sockets
                // cannot lock new clients out).
                auto oldest = std::min_element(conns_.begin(), conns_.end(),
                                               [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
                close_fd(oldest->first);
                conns_.erase(oldest);
            }
            Conn c;
            c.fd = fd;
            c.last = Clock::now();
            c.deadline = c.last + std::chrono::seconds(opt_.header_timeout_s);
            conns_.emplace(fd, std::move(c));
        }
    }

    void on_readable(int fd, httplib::ThreadPool& pool) {
        auto it = conns_.find(fd);
        if (it == conns_.end()) return;
        Conn& c = it->second;
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            close_fd(fd);
            conns_.erase(it);
            return;
        }
        if (n < 0) return;
        const auto now = Clock::now();
        if (!c.started) {  // the first byte of a request: its whole head must follow within the timeout
            c.started = true;
            c.deadline = now + std::chrono::seconds(opt_.header_timeout_s);
        }
        c.buf.append(buf, static_cast<size_t>(n));
        c.last = now;
        dispatch_if_complete(it, pool);
    }

    /// Whether the request in `buf` (its head complete) has its whole body: a Content-Length body
    /// (POST api/tags) is gathered here, so a client sending it slowly holds no worker either. A
    /// body over the server's limit, a malformed length or a chunked body go to a worker as they are
    /// (cpp-httplib answers 413/400, or reads the chunks within the request's deadline).
    static bool body_complete(const std::string& buf) {
        size_t head_end = buf.find("\r\n\r\n");
        const size_t sep = head_end == std::string::npos ? 2 : 4;
        if (head_end == std::string::npos) head_end = buf.find("\n\n");
        const std::string head = to_lower(std::string_view(buf).substr(0, head_end));
        static const std::string name = "\ncontent-length:";
        const size_t at = head.find(name);
        if (at == std::string::npos) return true;
        const size_t eol = head.find('\n', at + name.size());
        const std::string value = trim(head.substr(at + name.size(), eol == std::string::npos ? std::string::npos : eol - at - name.size()));
        unsigned long long len = 0;
        bool overflow = false;
        if (!parse_unsigned(value, len, overflow) || len > kMaxTagsBody) return true;
        return buf.size() - (head_end + sep) >= len;
    }

    void dispatch_if_complete(std::map<int, Conn>::iterator it, httplib::ThreadPool& pool) {
        Conn& c = it->second;
        if (c.buf.find("\r\n\r\n") == std::string::npos && c.buf.find("\n\n") == std::string::npos) {
            if (c.buf.size() > kMaxHead) {
                const std::string body = format("{\"error\": \"the request head is larger than %zu bytes\"}", kMaxHead);
                std::string resp = format("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: "
                                          "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n",
                                          body.size());
                for (const auto& [k, v] : frame_headers(opt_.frame_ancestors)) resp += k + ": " + v + "\r\n";
                resp += "\r\n" + body;
                (void)!::send(c.fd, resp.data(), resp.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                close_fd(c.fd);
                conns_.erase(it);
            }
            return;
        }
        if (!body_complete(c.buf)) return;  // a body still arriving stays with the poller (same deadline)
        Conn taken = std::move(c);
        conns_.erase(it);
        if (computes_ && computes_(taken.buf)) {
            // A live CAM: the lane's one worker, behind at most cam_queue others; beyond that 503
            // (answered by a worker of the pool, as every other route: never behind CAM work).
            const size_t room = 1 + static_cast<size_t>(std::max(0, opt_.cam_queue));
            if (cam_pending_.load() >= room) {
                taken.busy = true;
            } else {
                const size_t n = ++cam_pending_;
                if (opt_.hooks.cam_queued) opt_.hooks.cam_queued(n);
                cam_pool_->enqueue([this, conn = std::make_shared<Conn>(std::move(taken))]() mutable {
                    answer(std::move(*conn), true);
                    --cam_pending_;
                });
                return;
            }
        }
        pool.enqueue([this, conn = std::make_shared<Conn>(std::move(taken))]() mutable { answer(std::move(*conn), false); });
    }

    /// On a worker: one request, then the connection goes back to the poller (or is closed).
    /// `cam`: on the CAM lane, where a request whose client has gone, or any once the server
    /// stops, is dropped before it starts.
    void answer(Conn c, bool cam) {
        if (cam) {
            const bool stopping = opt_.stop && opt_.stop->load();
            if (stopping || peer_gone(c.fd)) {
                close_fd(c.fd);
                if (!stopping && opt_.hooks.cam_dropped) opt_.hooks.cam_dropped();
                return;
            }
            if (opt_.hooks.cam_start) opt_.hooks.cam_start();
        }
        const auto now = Clock::now();
        hide_accept_encoding(c.buf);
        ConnStream strm(c.fd, std::move(c.buf), now + std::chrono::seconds(opt_.header_timeout_s),
                        now + std::chrono::seconds(opt_.write_timeout_s));
        bool closed = false;
        const bool last = ++c.served >= static_cast<unsigned>(std::max(1, opt_.keep_alive_max));
        const RequestContext ctx{c.fd, c.busy};
        t_request = &ctx;
        const bool ok = router_.answer(strm, last, closed);
        t_request = nullptr;
        c.busy = false;
        if (!ok || closed || last) {
            close_fd(c.fd);
            return;
        }
        c.buf = strm.leftover();
        c.started = !c.buf.empty();
        c.last = Clock::now();
        c.deadline = c.last + std::chrono::seconds(c.started ? opt_.header_timeout_s : opt_.keep_alive_s);
        {
            std::lock_guard lock(returned_mu_);
            returned_.push_back(std::move(c));
        }
        (void)!::write(wake_[1], "x", 1);
    }

    /// The connections workers handed back; returns those with bytes of a next request.
    std::vector<int> adopt_returned() {
        std::vector<Conn> back;
        {
            std::lock_guard lock(returned_mu_);
            back.swap(returned_);
        }
        std::vector<int> with_bytes;
        for (auto& c : back) {
            if (!c.buf.empty()) with_bytes.push_back(c.fd);
            conns_[c.fd] = std::move(c);
        }
        return with_bytes;
    }

    Router& router_;
    const ServeOptions& opt_;
    std::function<bool(std::string_view)> computes_;
    httplib::ThreadPool* cam_pool_ = nullptr;  // run()'s CAM lane
    std::atomic<size_t> cam_pending_{0};       // live CAMs queued or being computed
    std::map<int, Conn> conns_;  // owned by the poller thread
    int wake_[2] = {-1, -1};
    std::mutex returned_mu_;
    std::vector<Conn> returned_;
};
void set_answer(httplib::Response& res, const Response& r, const httplib::Request& req, const ServeOptions& opt) {
    res.status = r.status;
    for (const auto& [k, v] : r.headers) res.set_header(k.c_str(), v);
    for (const auto& [k, v] : frame_headers(opt.frame_ancestors)) res.set_header(k.c_str(), v);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Cache-Control", "no-cache");
    // Bodies go out as they are: httplib never sees the client's Accept-Encoding (Front renames
    // it), so it does not Brotli-compress every text answer afresh (1.6 s for the 643 KB of
    // /api/explorer at 10,000 images). Answers the app keeps compressed (the explorer data,
    // the pages) go out gzip'd when the client takes it.
    if (r.gzip) {
        res.set_header("Vary", "Accept-Encoding");
        if (accepts_gzip(req.get_header_value(kAcceptEncoding))) {
            res.set_header("Content-Encoding", "gzip");
            res.set_content(*r.gzip, r.content_type.c_str());
            return;
        }
    }
    res.set_content(r.body, r.content_type.c_str());
}

}  // namespace

void check_frame_ancestors(const std::string& value) {
    if (value.empty() || std::any_of(value.begin(), value.end(), [](char c) {
            return c == ';' || c == ',' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        }))
        throw UsageError("frame_ancestors '" + value.substr(0, 80) +
                         "': expected CSP sources separated by spaces (no ';', ',' or control characters), or 'none'");
}

void serve_http(const HttpApp& app, const ServeOptions& opt, const std::function<void(const ListenInfo&)>& on_listening) {
    check_frame_ancestors(opt.frame_ancestors);
    int port = opt.port;
    bool loopback = true;
    const int listen_fd = bind_listen(opt.host, port, loopback);

    // Every bind keeps the DNS-rebinding check: Host must be an address literal, localhost, the
    // --host name, or an --allow-host name.
    std::vector<std::string> names{"localhost", opt.host};
    names.insert(names.end(), opt.allow_hosts.begin(), opt.allow_hosts.end());

    Router router;
    router.set_payload_max_length(kMaxTagsBody);  // the only body taken: POST api/tags (64 KiB)
    router.set_keep_alive_timeout(opt.keep_alive_s);  // what its Keep-Alive header announces; Front enforces it
    router.set_keep_alive_max_count(static_cast<size_t>(std::max(1, opt.keep_alive_max)));
    router.set_pre_routing_handler([names, &opt](const httplib::Request& req, httplib::Response& res) {
        if (host_allowed(req.get_header_value("Host"), names)) return httplib::Server::HandlerResponse::Unhandled;
        set_answer(res, error_response(403, "requests must address this server by its address, localhost or an --allow-host name"),
                   req, opt);
        if (opt.log_requests) fprintf(stderr, "403 %s %s (Host: %s)\n", req.method.c_str(), req.target.c_str(),
                                      req.get_header_value("Host").c_str());
        return httplib::Server::HandlerResponse::Handled;
    });
    auto handler = [&app, &opt](const httplib::Request& req, httplib::Response& res) {
        Query q;
        for (const auto& [k, v] : req.params) q.emplace(k, v);  // the first value of a repeated key
        const auto refuse = [&](int status, const std::string& message) {
            set_answer(res, error_response(status, message), req, opt);
            if (opt.log_requests) fprintf(stderr, "%d %s %s\n", status, req.method.c_str(), req.target.c_str());
        };
        // Another site's page (an <img>, a fetch) must not make this machine compute or read the
        // data: browsers mark such requests, and the API refuses them (pages and assets stay open).
        if (req.path.rfind("/api/", 0) == 0 && to_lower(trim(req.get_header_value("Sec-Fetch-Site"))) == "cross-site")
            return refuse(403, "API requests from another site's pages are refused (Sec-Fetch-Site: cross-site)");
        if (req.method == "POST") {
            // A browser page of another origin may send a "simple" POST (text/plain, no preflight):
            // only JSON from this server's own pages is taken (the Host check above still applies).
            // https://: those pages reached through a TLS proxy (a notebook server's, camscope.explore).
            const std::string origin = req.get_header_value("Origin"), host = req.get_header_value("Host");
            if (!origin.empty() && origin != "http://" + host && origin != "https://" + host)
                return refuse(403, "a POST must come from this server's own pages (Origin differs)");
            if (req.path == "/api/tags" && !is_json_content_type(req.get_header_value("Content-Type")))
                return refuse(415, "POST api/tags takes a JSON body (Content-Type: application/json, optionally "
                                   "; charset=utf-8), got '" + req.get_header_value("Content-Type").substr(0, 80) + "'");
        }
        if (t_request && t_request->busy) {  // the live CAM queue is full
            Response r = error_response(503, format("the server is computing live CAMs with %d more waiting: try again "
                                                    "in a moment (other pages and data are answered meanwhile)",
                                                    std::max(0, opt.cam_queue)));
            r.headers.push_back({"Retry-After", "2"});
            set_answer(res, r, req, opt);
            if (opt.log_requests) fprintf(stderr, "503 %s %s\n", req.method.c_str(), req.target.c_str());
            return;
        }
        std::function<bool()> gone;
        if (t_request && t_request->fd >= 0) gone = [fd = t_request->fd] { return peer_gone(fd); };
        const Response r = app.handle(req.method, req.path, q, req.body, gone);
        set_answer(res, r, req, opt);
        if (opt.log_requests) fprintf(stderr, "%d %s %s\n", r.status, req.method.c_str(), req.target.c_str());
    };
    router.Get(".*", handler);  // HEAD too
    router.Post(".*", handler);  // api/tags; the others and these: Explorer::handle answers 405
    router.Put(".*", handler);
    router.Patch(".*", handler);
    router.Delete(".*", handler);
    router.Options(".*", handler);
    // httplib's own refusals (a malformed request line, a body over the limit): JSON like ours,
    // and an exception never reaches the client with its message (it could hold a local path).
    router.set_error_handler(httplib::Server::HandlerWithResponse([&opt](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty() || res.content_length_ > 0) return httplib::Server::HandlerResponse::Unhandled;
        set_answer(res, error_response(res.status, format("HTTP %d", res.status)), req, opt);
        return httplib::Server::HandlerResponse::Handled;
    }));
    router.set_exception_handler([&opt](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            fprintf(stderr, "camscope serve: error answering %s: %s\n", req.target.c_str(), e.what());
        } catch (...) {
        }
        set_answer(res, error_response(500, kInternalError), req, opt);
    });

    ListenInfo info;
    const std::string shown = opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host;
    info.url = format("http://%s:%d/", shown.c_str(), port);
    info.port = port;
    info.loopback = loopback;
    on_listening(info);
    // The CAM lane takes the GET/HEAD requests the router would answer by computing a live CAM
    // (not those it refuses first: a Host not allowed, a cross-site request).
    const auto computes = [&app, names](std::string_view head) {
        const HeadInfo h = parse_head(head);
        if (h.method != "GET" && h.method != "HEAD") return false;
        if (!host_allowed(header_of(h, "host"), names) || to_lower(header_of(h, "sec-fetch-site")) == "cross-site") return false;
        const auto [path, query] = split_target(h.target);
        return app.computes && app.computes(path, query);
    };
    Front front(router, opt, computes);
    front.run(listen_fd);  // returns once opt.stop is set
}

}  // namespace camscope::serve

