#pragma once
// The HTTP transport of `camscope serve`: sockets, the poller, deadlines, framing and the lanes
// requests are answered on. It knows nothing of the explorer: it hands each request to an HttpApp
// (plain Response values, no sockets), as llama.cpp's server-http.cpp wraps its HTTP library behind
// plain request/response structs. The routes are Explorer (server.hpp); run_server joins the two.
//
// serve_http listens on host:port; one poller thread keeps every connection while it is idle or its
// request head (and a Content-Length body of at most 64 KiB) is arriving (deadlines:
// header_timeout_s for a whole head, keep_alive_s between requests, at most max_connections, the
// oldest idle one closed for a new one), and hands a connection with a complete head to one of
// http_threads workers, which answer through cpp-httplib's parser and router. Slow or idle clients
// never hold a worker. Every request's Host header is checked (host_allowed, request.hpp) whatever
// the bind address.
// Requests the app says compute (HttpApp::computes: live CAMs not cached) go to a lane of their own
// instead: one worker (the model runs one CAM at a time), at most cam_queue waiting behind it;
// beyond that the answer is 503 with Retry-After. So the other routes never wait behind CAM work. A
// queued request whose client has gone (its socket closed) is dropped before it starts, and the
// app's client_gone says when its client goes while it is answered.
// Every answer carries X-Frame-Options: DENY and Content-Security-Policy: frame-ancestors 'none'
// (ServeOptions::frame_ancestors may allow framing); an API request a browser marks
// Sec-Fetch-Site: cross-site (another site's <img> or fetch) is refused with 403. A POST whose
// Origin is not this server is refused with 403; a POST api/tags that is not JSON with 415.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/serve/request.hpp"

namespace camscope::serve {

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    /// The same body gzip-compressed, for answers kept and sent many times (the explorer data,
    /// the pages); the server sends it to clients that accept gzip.
    std::shared_ptr<const std::string> gzip;
};

/// `j` dumped (ASCII only) as an application/json answer.
Response json_response(const nlohmann::json& j, int status = 200);
/// {"error": message} with `status`.
Response error_response(int status, const std::string& message);
/// What a 500 says (the details, which may name local paths, go to stderr only).
inline constexpr const char* kInternalError = "internal error while answering this request (the server's log has the details)";

/// The body gzip-compressed (zlib, level 6), for answers that are sent many times unchanged; null
/// if zlib fails.
std::shared_ptr<const std::string> gzip(std::string_view body);

/// Whether an Accept-Encoding header value takes gzip ("gzip", "gzip;q=0.5", "*"; not "gzip;q=0").
bool accepts_gzip(const std::string& header);

struct ServeOptions {
    std::string host = "127.0.0.1";
    int port = 8765;         // 0 = any free port (the URL printed says which)
    int http_threads = 8;    // requests answered concurrently (CAMs still run one at a time)
    bool log_requests = false;
    std::vector<std::string> allow_hosts;  // Host names accepted besides localhost, `host` and addresses
    int header_timeout_s = 10;   // a request head (and body) must arrive within this, from its first byte
    int keep_alive_s = 5;        // an idle keep-alive connection is closed after this
    int keep_alive_max = 100;    // requests per connection
    int write_timeout_s = 30;    // to send one answer
    int max_connections = 256;   // open connections (the oldest idle one makes room for a new one)
    /// Live CAMs that need the model (Explorer::computes) waiting behind the one being computed;
    /// one more is answered 503 with Retry-After. At least 0.
    int cam_queue = 8;
    /// The Content-Security-Policy frame-ancestors sources of every answer. "'none'" (the CLI):
    /// no page may frame the explorer, and X-Frame-Options: DENY is sent too. Another value (the
    /// Python package's notebook IFrame: loopback origins) allows those origins and sends no
    /// X-Frame-Options. run_server refuses a value with ';', ',' or control characters.
    std::string frame_ancestors = "'none'";
    /// For tests (all optional, called on server threads): cam_queued(n) when a live CAM joins the
    /// lane (n: CAMs queued or running, this one included); cam_start() on the CAM worker as one
    /// starts (after the disconnect check; it may block, holding the lane); cam_dropped() when a
    /// queued one is dropped because its client has gone.
    struct Hooks {
        std::function<void(size_t)> cam_queued;
        std::function<void()> cam_start, cam_dropped;
    } hooks;
    /// When set and it becomes true, run_server returns within about 0.1 s: requests being answered
    /// finish, the connections and the socket are closed (the Python package's explorer.stop()).
    /// Null: serves until the process ends (the CLI).
    std::shared_ptr<std::atomic<bool>> stop;
};

struct ListenInfo {
    std::string url;
    int port = 0;
    bool loopback = true;  // bound to a loopback address only (else: reachable from other machines)
};

/// Throws UsageError unless `value` can be ServeOptions::frame_ancestors (non-empty; no ';', ',' or
/// control characters, which would end the directive or the header). run_server checks it first.
void check_frame_ancestors(const std::string& value);

/// What the transport asks of the application; both are called on worker threads, concurrently.
struct HttpApp {
    /// Answers one request (Explorer::handle): `path` percent-decoded, `query` the first value of
    /// each key, `body` the request body; `client_gone` says whether the client has closed the
    /// connection.
    std::function<Response(const std::string& method, const std::string& path, const Query& query, const std::string& body,
                           const std::function<bool()>& client_gone)>
        handle;
    /// Whether a GET or HEAD of `path` and `query` goes to the CAM lane (Explorer::computes).
    std::function<bool(const std::string& path, const Query& query)> computes;
};

/// Serves `app` until opt.stop is set (or the process ends). Calls `on_listening` once the socket is
/// bound (before the first request is accepted). Throws Error if the address cannot be bound,
/// UsageError for a bad opt.frame_ancestors.
void serve_http(const HttpApp& app, const ServeOptions& opt, const std::function<void(const ListenInfo&)>& on_listening);

}  // namespace camscope::serve
