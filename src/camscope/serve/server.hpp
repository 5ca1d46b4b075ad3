#pragma once
// `camscope serve`: the interactive explorer as a local web app (web/ assets embedded in the
// binary) with a small JSON API, and live CAMs computed by the engine for any image, target
// class, method and layer.
//
//   Explorer  — the request-handling layer: (method, path, query) -> Response (the parsing and
//               validation of path and query: request.hpp, torch-free and fuzzed). No sockets, so
//               tests call it directly. Safe to call from many threads: the model serialises its
//               own runs, the dataset reads are serialised here, the rest is read-only.
//   run_server — serves an Explorer over HTTP (the transport: http.hpp, with ServeOptions and
//               Response): requests are handed to Explorer::handle, and those Explorer::computes
//               says need the model (api/cam and api/diff answers not cached) go to the transport's
//               CAM lane (one worker, at most cam_queue waiting, beyond that 503 with Retry-After).
//               A queued CAM whose client has gone is dropped before it starts, and a Score-CAM or
//               Ablation-CAM stops between its batches of forwards when its client goes.
// Files: server.cpp (Explorer, the routes over the explorer data, images, thumbnails, tags),
// live_cam.cpp (api/cam, api/diff), explorer_state.hpp (what the routes share), http.cpp and
// http_io.cpp (the transport).
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
#include "camscope/serve/http.hpp"
#include "camscope/serve/request.hpp"

namespace camscope::serve {

/// The default cap on the channels of one live Score-CAM / Ablation-CAM (`serve --max-channels`):
/// one batch of perturbed forwards (CamRequest::perturb_batch) per map.
constexpr int kServeMaxChannels = 64;

class Explorer {
public:
    /// `data` is explorer_data() of the analysed set (rows refer to `dataset` by their "index"),
    /// `spec` the model input, `layers` the model's layers for that input (Model::layers).
    /// Throws Error when the data is malformed (explorer_from_json: any index out of range)
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

/// Serves until the process is stopped or opt.stop is set. Calls `on_listening` once the socket is bound (before the
/// first request is accepted). Throws Error if the address cannot be bound.
void run_server(const Explorer& explorer, const ServeOptions& opt, const std::function<void(const ListenInfo&)>& on_listening);

}  // namespace camscope::serve
