#pragma once
// `camscope serve`: the interactive explorer as a local web app (web/ assets embedded in the
// binary) with a small JSON API, and live CAMs computed by the engine for any image, target
// class, method and layer.
//
//   Explorer  — the request-handling layer: (method, path, query) -> Response (the parsing and
//               validation of path and query: request.hpp, torch-free and fuzzed). No sockets, so
//               tests call it directly. Safe to call from many threads: the model serialises its
//               own runs, the dataset reads are serialised here, the rest is read-only.
//   run_server — listens on host:port; one poller thread keeps every connection while it is idle
//               or its request head (and a Content-Length body of at most 64 KiB) is arriving (deadlines: header_timeout_s for a whole head,
//               keep_alive_s between requests, at most max_connections, the oldest idle one
//               closed for a new one), and hands a connection with a complete head to one of
//               http_threads workers, which answer through cpp-httplib's parser and router.
//               Slow or idle clients never hold a worker. Every request's Host header is checked
//               (host_allowed, request.hpp) whatever the bind address.
//               Live CAMs that need the model (Explorer::computes: api/cam and api/diff answers not
//               cached) go to a lane of their own instead: one worker (the model runs one CAM at a
//               time), at most cam_queue waiting behind it; beyond that the answer is 503 with
//               Retry-After. So the other routes never wait behind CAM work. A queued CAM whose
//               client has gone (its socket closed) is dropped before it starts, and a Score-CAM
//               or Ablation-CAM stops between its batches of forwards when its client goes.
//               Every answer carries X-Frame-Options: DENY and Content-Security-Policy:
//               frame-ancestors 'none' (ServeOptions::frame_ancestors may allow framing); an API
//               request a browser marks Sec-Fetch-Site: cross-site (another site's <img> or fetch)
//               is refused with 403.
//
// The URL never names a file: static answers come from the embedded asset table by exact name,
// everything else is an /api/ route, so no path (`..`, encoded or not) can reach the filesystem.
// API (documented in docs/explorer.md, "JSON API"): /api/explorer, /api/summary, /api/classes, /api/class/{c},
// /api/confusion, /api/cell/{true}/{pred}, /api/image/{i}, /api/image/{i}/input.png,
// /api/cam?image=&target=&method=&layer=[&format=json], /api/diff?image=&method=&layer=,
// /api/methods, /api/layers, /api/thumbs/{k}.png (thumbnail sprite sheets, report/thumbs.hpp: built
// on first request from the dataset, then kept, at most kThumbCacheBytes of PNG, oldest dropped
// first), /api/tags (GET; POST {"row", "tags"} replaces a row's tags: serve/tags.hpp, persisted
// atomically when a file is given). Score-CAM and Ablation-CAM use at most the Explorer's
// max_channels channels (the most active; a request's larger max_channels, or 0, is lowered to
// it): the answer's stats say "max_channels" (the X-Camscope-Cam header of a PNG, the JSON body).
// Errors: JSON {"error": "..."} with 400 (bad parameter, unknown class or method or layer, a
// malformed tags body), 403 (Host not allowed; a POST whose Origin is not this server; an API
// request marked Sec-Fetch-Site: cross-site), 404 (unknown path, image or class index out of
// range), 405 (not GET/HEAD, or POST to another route than api/tags, with Allow), 415 (a POST
// api/tags whose Content-Type is not application/json, optionally ;charset=utf-8), 499 (a live
// CAM whose client went away, never read), 500 (no local path in it: the details go to stderr;
// a tag change the tags file could not take says so, with "persisted": false), 503 (the live CAM
// queue is full, with Retry-After).
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/serve/request.hpp"

namespace camscope::serve {

/// The default cap on the channels of one live Score-CAM / Ablation-CAM (`serve --max-channels`):
/// one batch of perturbed forwards (CamRequest::perturb_batch) per map.
constexpr int kServeMaxChannels = 64;

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    /// The same body gzip-compressed, for answers kept and sent many times (the explorer data,
    /// the pages); the server sends it to clients that accept gzip.
    std::shared_ptr<const std::string> gzip;
};

class Explorer {
public:
    /// `data` is explorer_data() of the analysed set (rows refer to `dataset` by their "index"),
    /// `spec` the model input, `layers` the model's layers for that input (Model::layers).
    /// Throws Error when the data is malformed (validate_explorer_data: any index out of range)
    /// or does not fit the dataset or the model (class count, image count, labels).
    /// `tags_path`: the file the image tags are kept in (tags.hpp; read now, an Error naming it if
    /// malformed), "" = in memory only. `max_channels`: the most channels a live Score-CAM or
    /// Ablation-CAM uses (RequestLimits::max_channels; 0 = no cap). `alpha`: Finer-CAM's when a
    /// request names none (RequestLimits::default_alpha: the analysis's, RunIdentity).
    Explorer(Model& model, const Dataset& dataset, InputSpec spec, nlohmann::json data, std::vector<LayerInfo> layers,
             std::string tags_path = "", int max_channels = kServeMaxChannels, double alpha = 1.0);
    ~Explorer();

    /// Answers one request. `path` is already percent-decoded (as HTTP servers hand it over);
    /// `body` is the request body (POST api/tags only). `client_gone`, when given, is asked before
    /// a live CAM starts and between the batches of a perturbation method's forwards: once it says
    /// true, the CAM is abandoned and the answer is 499 (nobody reads it).
    Response handle(const std::string& method, const std::string& path, const Query& query, const std::string& body = "",
                    const std::function<bool()>& client_gone = {}) const;

    /// Whether answering a GET of `path` and `query` needs the model: a valid api/cam or api/diff
    /// request whose answer is not cached. False for everything else (malformed requests too).
    /// Cheap: parses the request and looks the cache up.
    bool computes(const std::string& path, const Query& query) const;

    const nlohmann::json& data() const { return data_; }

private:
    struct State;
    Model& model_;
    const Dataset& dataset_;
    InputSpec spec_;
    nlohmann::json data_;
    std::unique_ptr<State> state_;
    Response route(const std::string& path, const Query& q, bool post, const std::string& body,
                   const std::function<bool()>& client_gone) const;
    Response thumbs(size_t sheet) const;
    Response cam(const Request& req, const std::function<bool()>& client_gone) const;
    std::string cam_key(const Request& req) const;
};

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

/// Serves until the process is stopped or opt.stop is set. Calls `on_listening` once the socket is bound (before the
/// first request is accepted). Throws Error if the address cannot be bound.
void run_server(const Explorer& explorer, const ServeOptions& opt, const std::function<void(const ListenInfo&)>& on_listening);

}  // namespace camscope::serve
