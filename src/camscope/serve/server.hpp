#pragma once
// `camscope serve`: the interactive explorer as a local web app (web/ assets embedded in the
// binary) with a small JSON API, and live CAMs computed by the engine for any image, target
// class, method and layer.
//
//   Explorer  — the request-handling layer: (method, path, query) -> Response (the parsing and
//               validation of path and query: request.hpp, torch-free and fuzzed). No sockets, so
//               tests call it directly. Safe to call from many threads: the model serialises its
//               own runs, the dataset reads are serialised here, the rest is read-only.
//   run_server — binds cpp-httplib to host:port and routes every GET to Explorer::handle.
//
// The URL never names a file: static answers come from the embedded asset table by exact name,
// everything else is an /api/ route, so no path (`..`, encoded or not) can reach the filesystem.
// API (documented in README.md): /api/explorer, /api/summary, /api/classes, /api/class/{c},
// /api/confusion, /api/cell/{true}/{pred}, /api/image/{i}, /api/image/{i}/input.png,
// /api/cam?image=&target=&method=&layer=[&format=json], /api/diff?image=&method=&layer=,
// /api/methods, /api/layers. Errors: JSON {"error": "..."} with 400 (bad parameter, unknown class
// or method or layer), 404 (unknown path, image or class index out of range), 405, 500.
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

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

class Explorer {
public:
    /// `data` is explorer_data() of the analysed set (rows refer to `dataset` by their "index"),
    /// `spec` the model input, `layers` the model's layers for that input (Model::layers).
    /// Throws Error when the data does not fit the dataset or the model (class count, labels).
    Explorer(Model& model, const Dataset& dataset, InputSpec spec, nlohmann::json data, std::vector<LayerInfo> layers);
    ~Explorer();

    /// Answers one request. `path` is already percent-decoded (as HTTP servers hand it over).
    Response handle(const std::string& method, const std::string& path, const Query& query) const;

    const nlohmann::json& data() const { return data_; }

private:
    struct State;
    Model& model_;
    const Dataset& dataset_;
    InputSpec spec_;
    nlohmann::json data_;
    std::unique_ptr<State> state_;
    Response route(const std::string& path, const Query& q) const;
    Response cam(const Request& req) const;
};

struct ServeOptions {
    std::string host = "127.0.0.1";
    int port = 8765;         // 0 = any free port (the URL printed says which)
    int http_threads = 8;    // requests handled concurrently (CAMs still run one at a time)
    bool log_requests = false;
};

/// Serves until the process is stopped. Calls `on_listening(url)` once the socket is bound
/// (before the first request is accepted). Throws Error if the address cannot be bound.
void run_server(const Explorer& explorer, const ServeOptions& opt, const std::function<void(const std::string&)>& on_listening);

}  // namespace camscope::serve
