// `camscope serve`: Explorer (request handling, see server.hpp) and run_server (cpp-httplib).
#include "camscope/serve/server.hpp"

#include "camscope/serve/request.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "camscope/image/cam_view.hpp"
#include "camscope/image/image.hpp"
#include "camscope/pipeline/cams.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/report/thumbs.hpp"
#include "camscope/serve/results.hpp"
#include "camscope/serve/tags.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::serve {

using nlohmann::json;

namespace {

Response json_response(const json& j, int status = 200) {
    Response r;
    r.status = status;
    r.body = j.dump(-1, ' ', /*ensure_ascii=*/true);
    return r;
}

Response error_response(int status, const std::string& message) { return json_response({{"error", message}}, status); }

constexpr const char* kInternalError = "internal error while answering this request (the server's log has the details)";

/// The body gzip-compressed (zlib, level 6), for answers that are sent many times unchanged.
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

/// Whether an Accept-Encoding header value takes gzip ("gzip", "gzip;q=0.5", "*"; not "gzip;q=0").
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

/// The headers that keep other sites from framing the explorer (clickjacking), on every answer.
std::vector<std::pair<std::string, std::string>> frame_headers(const std::string& ancestors) {
    std::vector<std::pair<std::string, std::string>> h{{"Content-Security-Policy", "frame-ancestors " + ancestors}};
    if (ancestors == "'none'") h.push_back({"X-Frame-Options", "DENY"});  // for browsers without CSP
    return h;
}

// FNV-1a over the map quantised to 1e-4: a short fingerprint so clients (and the browser test)
// can tell two maps apart without downloading them.
std::string fingerprint(const std::vector<float>& m) {
    std::uint64_t h = 1469598103934665603ull;
    for (float v : m) {
        const auto q = static_cast<std::int32_t>(std::lround(double(v) * 1e4));
        for (int b = 0; b < 4; ++b) {
            h ^= (static_cast<std::uint32_t>(q) >> (8 * b)) & 0xffu;
            h *= 1099511628211ull;
        }
    }
    return format("%016llx", static_cast<unsigned long long>(h));
}

/// A live CAM abandoned because its client went away (Explorer::handle's client_gone). An Error, so
/// the engine passes it on unchanged from the progress callback it is thrown from.
class ClientGone : public Error {
public:
    ClientGone() : Error("the client went away before the CAM was finished") {}
};

std::string png_body(const Image& img) {
    const auto bytes = encode_png(img);
    return std::string(bytes.begin(), bytes.end());
}

}  // namespace

struct Explorer::State {
    std::vector<std::string> classes;
    std::vector<std::string> methods;
    std::vector<LayerInfo> layers;  // candidates: 4-D outputs
    std::string default_layer, default_method;
    std::string explorer_body;      // /api/explorer, dumped once
    std::shared_ptr<const std::string> explorer_gzip;  // and compressed once
    std::map<std::string, std::shared_ptr<const std::string>, std::less<>> asset_gzip;  // the pages, compressed once
    RequestLimits limits;           // what parse_request checks a request against
    size_t n = 0;
    int k = 0;

    mutable std::mutex data_mu;  // Dataset::get is not promised to be thread-safe

    // Rendered CAM answers (a cached JSON answer keeps its first compute_ms), first in first out: galleries ask for the same maps repeatedly.
    mutable std::mutex cache_mu;
    mutable std::map<std::string, Response> cache;
    mutable std::deque<std::string> cache_order;
    mutable size_t cache_bytes = 0;
    static constexpr size_t kCacheBytes = 64u << 20;

    const json* rows = nullptr;

    // Thumbnail sheets (PNG), built on first request: one build per sheet at a time (thumb_build_mu),
    // then kept up to kThumbCacheBytes, the oldest dropped first.
    ThumbLayout thumb_layout;
    mutable std::mutex thumb_build_mu, thumb_mu;
    mutable std::map<size_t, std::shared_ptr<const std::string>> thumb_cache;
    mutable std::deque<size_t> thumb_order;
    mutable size_t thumb_bytes = 0;
    static constexpr size_t kThumbCacheBytes = 128u << 20;

    std::unique_ptr<TagStore> tags;
};

Explorer::Explorer(Model& model, const Dataset& dataset, InputSpec spec, json data, std::vector<LayerInfo> layers,
                   std::string tags_path, int max_channels, double alpha)
    : model_(model), dataset_(dataset), spec_(std::move(spec)), data_(std::move(data)), state_(std::make_unique<State>()) {
    auto& s = *state_;
    // Every index the routes use is checked once here (results folders are untrusted input).
    validate_explorer_data(data_, "the explorer data");
    s.classes = data_.at("classes").get<std::vector<std::string>>();
    s.k = static_cast<int>(s.classes.size());
    s.n = data_.at("rows").at("label").size();
    s.rows = &data_.at("rows");
    if (s.k != static_cast<int>(dataset_.num_classes()))
        throw Error(format("the analysis has %d classes, the dataset %zu", s.k, dataset_.num_classes()));
    const auto& idx = data_["rows"]["index"];
    for (size_t i = 0; i < s.n; ++i)
        if (idx[i].get<long long>() < 0 || static_cast<size_t>(idx[i].get<long long>()) >= dataset_.size())
            throw Error(format("analysis row %zu refers to image %lld; the dataset has %zu images", i,
                               idx[i].get<long long>(), dataset_.size()));
    // The rows must be this dataset's images: their labels agree (checked on the first rows only,
    // an image folder would have to decode every file otherwise).
    for (size_t i = 0; i < std::min<size_t>(s.n, 32); ++i) {
        const int label = dataset_.get(idx[i].get<size_t>()).label;
        if (label != data_["rows"]["label"][i].get<int>())
            throw Error(format("analysis row %zu has label %d, but dataset image %lld has label %d: the results are "
                               "from another dataset",
                               i, data_["rows"]["label"][i].get<int>(), idx[i].get<long long>(), label));
    }
    s.methods = cam_methods();
    for (auto& l : layers)
        if (l.layout.kind != LayoutKind::none) s.layers.push_back(std::move(l));  // a layout a CAM can read
    s.default_method = data_.at("run").value("method", "gradcam");
    s.default_layer = data_.at("run").value("layer", "");
    if (std::find(s.methods.begin(), s.methods.end(), s.default_method) == s.methods.end()) s.default_method = "gradcam";
    if (std::none_of(s.layers.begin(), s.layers.end(), [&](const LayerInfo& l) { return l.path == s.default_layer; }))
        s.default_layer = model_.resolve_layer("", spec_);

    s.tags = std::make_unique<TagStore>(std::move(tags_path), s.n);
    s.thumb_layout = camscope::thumb_layout(s.n, spec_.height, spec_.width);

    json ex = data_;
    ex["live"] = true;
    ex["thumbs"] = thumbs_json(s.thumb_layout, "api/thumbs/");  // served sheets, whatever the data's own say
    ex["methods"] = s.methods;
    ex["default_method"] = s.default_method;
    ex["default_layer"] = s.default_layer;
    ex["max_channels"] = std::max(0, max_channels);  // the cap of Score-CAM / Ablation-CAM (0: none)
    json layer_list = json::array();
    for (const auto& l : s.layers) layer_list.push_back({{"path", l.path}, {"type", l.type}, {"shape", l.shape}, {"layout", describe(l.layout)}});
    ex["layers"] = layer_list;
    s.explorer_body = ex.dump(-1, ' ', true);
    s.explorer_gzip = gzip(s.explorer_body);
    for (const auto& a : web_assets()) s.asset_gzip.emplace(std::string(a.name), gzip(a.bytes));

    s.limits.images = s.n;
    s.limits.classes = s.classes;
    s.limits.methods = s.methods;
    for (const auto& l : s.layers) s.limits.layers.push_back(l.path);
    s.limits.default_method = s.default_method;
    s.limits.default_layer = s.default_layer;
    s.limits.thumb_sheets = s.thumb_layout.sheets();
    s.limits.max_channels = std::max(0, max_channels);
    s.limits.default_alpha = alpha;
}

Explorer::~Explorer() = default;

Response Explorer::handle(const std::string& method, const std::string& path, const Query& query,
                          const std::string& body, const std::function<bool()>& client_gone) const {
    const bool tags = path == "/api/tags";
    if (method != "GET" && method != "HEAD" && !(tags && method == "POST")) {
        Response r = error_response(405, "method " + method.substr(0, 16) + " not allowed: the explorer answers GET (and HEAD)" +
                                             (tags ? ", and POST here" : " only (POST: api/tags only)"));
        r.headers.push_back({"Allow", tags ? "GET, HEAD, POST" : "GET, HEAD"});
        return r;
    }
    try {
        return route(path, query, method == "POST", body, client_gone);
    } catch (const ClientGone& e) {
        return error_response(499, e.what());  // nobody reads it: the connection is closed
    } catch (const RequestError& e) {
        return error_response(e.status(), e.what());
    } catch (const UsageError& e) {
        return error_response(400, e.what());
    } catch (const std::exception& e) {
        // The details (a dataset file that cannot be read, with its path) go to the server's log;
        // the answer names no local path.
        fprintf(stderr, "camscope serve: error answering %s: %s\n", path.substr(0, 256).c_str(), e.what());
        return error_response(500, kInternalError);
    }
}

bool Explorer::computes(const std::string& path, const Query& query) const {
    if (path != "/api/cam" && path != "/api/diff") return false;
    try {
        const Request req = parse_request(path, query, state_->limits);
        const std::string key = cam_key(req);
        std::lock_guard lock(state_->cache_mu);
        return !state_->cache.count(key);
    } catch (const std::exception&) {
        return false;  // answered with an error at once
    }
}

Response Explorer::route(const std::string& path, const Query& q, bool post, const std::string& body,
                         const std::function<bool()>& client_gone) const {
    const auto& s = *state_;
    const auto& rows = *s.rows;
    const Request req = parse_request(path, q, s.limits);  // throws RequestError (400/404)
    if (req.route == Route::Tags && post) {
        const TagUpdate update = parse_tag_update(body, s.n);
        try {
            return json_response(s.tags->set(update));
        } catch (const TagsNotSaved& e) {  // nothing changed: the answer says so, with the tags as they are
            fprintf(stderr, "camscope serve: %s\n", e.what());
            json j = s.tags->get();
            j["error"] = e.answer();
            j["persisted"] = false;
            return json_response(j, 500);
        }
    }
    if (req.route == Route::Tags) return json_response(s.tags->get());
    if (req.route == Route::Thumbs) return thumbs(req.sheet);
    // Static files: only the embedded table, by exact name.
    if (req.route == Route::DataJs) {  // offline copies define the data here; served pages fetch it
        Response r;
        r.content_type = "text/javascript; charset=utf-8";
        r.body = "window.CAMSCOPE_DATA = null;  // served by camscope serve: app.js fetches api/explorer\n";
        return r;
    }
    if (req.route == Route::Asset) {
        const WebAsset* a = find_web_asset(req.asset);
        if (!a) throw RequestError(404, "not found: " + path);
        Response r;
        r.content_type = std::string(a->content_type);
        r.body = std::string(a->bytes);
        if (auto it = s.asset_gzip.find(a->name); it != s.asset_gzip.end()) r.gzip = it->second;
        return r;
    }
    auto row_json = [&](size_t i) {
        const int label = rows["label"][i].get<int>(), pred = rows["pred"][i].get<int>();
        return json{{"row", i},
                    {"index", rows["index"][i]},
                    {"label", label},
                    {"label_name", s.classes[label]},
                    {"pred", pred},
                    {"pred_name", s.classes[pred]},
                    {"confidence", rows["conf"][i]},
                    {"correct", label == pred}};
    };

    if (req.route == Route::Explorer) {
        Response r;
        r.body = s.explorer_body;
        r.gzip = s.explorer_gzip;
        return r;
    }
    if (req.route == Route::Summary)
        return json_response({{"run", data_["run"]}, {"overall", data_["overall"]}, {"calibration", data_["calibration"]},
                              {"live", true}});
    if (req.route == Route::Classes) return json_response({{"classes", data_["per_class"]}});
    if (req.route == Route::Methods)
        return json_response({{"methods", s.methods}, {"default", s.default_method}, {"max_channels", s.limits.max_channels}});
    if (req.route == Route::Layers) {
        json a = json::array();
        for (const auto& l : s.layers) a.push_back({{"path", l.path}, {"type", l.type}, {"shape", l.shape}, {"layout", describe(l.layout)}});
        return json_response({{"layers", a}, {"default", s.default_layer}});
    }
    if (req.route == Route::Confusion)
        return data_["confusion"].contains("counts")
                   ? json_response({{"classes", s.classes},
                                    {"counts", data_["confusion"]["counts"]},
                                    {"order", data_["confusion"]["order"]}})
                   : json_response({{"classes", s.classes},  // many classes: the non-zero cells
                                    {"cells", data_["confusion"]["cells"]},
                                    {"order", data_["confusion"]["order"]}});
    if (req.route == Route::Class) {
        const int c = req.cls;
        json worst = json::array(), best = json::array(), as = json::array(), from = json::array();
        for (const auto& r : data_["galleries"][c]["worst"]) worst.push_back(row_json(r.get<size_t>()));
        for (const auto& r : data_["galleries"][c]["best"]) best.push_back(row_json(r.get<size_t>()));
        for (const auto& p : data_["pairs"]) {
            if (p["true"].get<int>() == c)
                as.push_back({{"class", p["pred"]}, {"name", s.classes[p["pred"].get<int>()]}, {"count", p["count"]},
                              {"rate", p["rate"]}});
            if (p["pred"].get<int>() == c)
                from.push_back({{"class", p["true"]}, {"name", s.classes[p["true"].get<int>()]}, {"count", p["count"]},
                                {"rate", p["rate"]}});
        }
        return json_response({{"class", data_["per_class"][c]},
                              {"worst", worst},
                              {"best", best},
                              {"predicted_as", as},
                              {"confused_from", from}});
    }
    if (req.route == Route::Cell) {
        const int t = req.true_cls, p = req.pred_cls;
        const auto cell = cell_rows(data_, t, p);
        const int offset = req.offset, limit = req.limit;
        json list = json::array();
        for (size_t i = static_cast<size_t>(offset); i < cell.size() && list.size() < static_cast<size_t>(limit); ++i)
            list.push_back(row_json(cell[i]));
        return json_response({{"true", t},
                              {"pred", p},
                              {"true_name", s.classes[t]},
                              {"pred_name", s.classes[p]},
                              {"count", cell.size()},
                              {"offset", offset},
                              {"rows", list}});
    }
    if (req.route == Route::Image || req.route == Route::ImageInput) {
        const size_t i = req.image;
        if (req.route == Route::ImageInput) {
            Sample sample;
            {
                std::lock_guard lock(s.data_mu);
                sample = dataset_.get(rows["index"][i].get<size_t>());
            }
            Response r;
            r.content_type = "image/png";
            r.body = png_body(sample.image);
            return r;
        }
        json j = row_json(i);
        json top = json::array();
        for (size_t t = 0; t < rows["top"][i].size(); ++t) {
            const int c = rows["top"][i][t].get<int>();
            top.push_back({{"class", c}, {"name", s.classes[c]}, {"prob", rows["top_p"][i][t]}});
        }
        j["top"] = top;
        return json_response(j);
    }
    if (req.route == Route::Cam || req.route == Route::Diff) return cam(req, client_gone);
    throw RequestError(404, "not found: " + path);  // every route is answered above
}

Response Explorer::thumbs(size_t k) const {
    const auto& s = *state_;
    auto cached = [&]() -> std::shared_ptr<const std::string> {
        std::lock_guard lock(s.thumb_mu);
        auto it = s.thumb_cache.find(k);
        return it == s.thumb_cache.end() ? nullptr : it->second;
    };
    std::shared_ptr<const std::string> png = cached();
    if (!png) {
        std::lock_guard build(s.thumb_build_mu);  // a sheet asked for twice at once is built once
        png = cached();
        if (!png) {
            const auto& idx = (*s.rows)["index"];
            const Image sheet = thumb_sheet(s.thumb_layout, k, [&](size_t row) {
                std::lock_guard lock(s.data_mu);
                return dataset_.get(idx[row].get<size_t>()).image;
            }, 1);
            const auto bytes = encode_png(sheet);
            png = std::make_shared<const std::string>(bytes.begin(), bytes.end());
            std::lock_guard lock(s.thumb_mu);
            while (!s.thumb_order.empty() && s.thumb_bytes + png->size() > State::kThumbCacheBytes) {
                s.thumb_bytes -= s.thumb_cache[s.thumb_order.front()]->size();
                s.thumb_cache.erase(s.thumb_order.front());
                s.thumb_order.pop_front();
            }
            s.thumb_cache[k] = png;
            s.thumb_order.push_back(k);
            s.thumb_bytes += png->size();
        }
    }
    Response r;
    r.content_type = "image/png";
    r.body = *png;
    return r;
}

std::string Explorer::cam_key(const Request& rq) const {
    const auto& rows = *state_->rows;
    const bool diff = rq.route == Route::Diff;
    const int label = rows["label"][rq.image].get<int>(), pred = rows["pred"][rq.image].get<int>();
    const int a = (diff ? rq.a : rq.target).resolve(pred, label);
    const int b = diff ? rq.b.resolve(pred, label) : -1;
    const int contrast = rq.contrast ? rq.contrast->resolve(pred, label) : -1;
    return format("%d|%zu|%d|%d|%s|%s|%s|%d|%d|%.17g|%d", diff ? 1 : 0, rq.image, a, b, rq.method.c_str(),
                  rq.layer.c_str(), rq.json ? "json" : "png", rq.max_channels, contrast, rq.alpha,
                  rq.heatmap && !rq.json ? 1 : 0);
}

Response Explorer::cam(const Request& rq, const std::function<bool()>& client_gone) const {
    const auto& s = *state_;
    const auto& rows = *s.rows;
    const bool diff = rq.route == Route::Diff;
    const size_t row = rq.image;  // parse_request checked image, method, layer, format and the targets
    const int label = rows["label"][row].get<int>(), pred = rows["pred"][row].get<int>();
    const std::string& method = rq.method;
    const std::string& layer = rq.layer;
    const std::string fmt = rq.json ? "json" : "png";
    const int max_channels = rq.max_channels;
    const int a = (diff ? rq.a : rq.target).resolve(pred, label);
    const int b = diff ? rq.b.resolve(pred, label) : -1;

    const int contrast = rq.contrast ? rq.contrast->resolve(pred, label) : -1;
    const bool heatmap = rq.heatmap && !rq.json;
    const std::string key = cam_key(rq);
    {
        std::lock_guard lock(s.cache_mu);
        if (auto it = s.cache.find(key); it != s.cache.end()) return it->second;
    }
    // A client that has gone gets no CAM: checked now and between a perturbation method's batches.
    const auto check_client = [&client_gone] {
        if (client_gone && client_gone()) throw ClientGone();
    };
    check_client();

    const auto t0 = std::chrono::steady_clock::now();
    CamJob job;  // the CAM job of `camscope cam` and Python's Model.cam, for this one image
    job.cam.method = method;
    job.cam.layers = {layer};
    job.cam.max_channels = max_channels;
    job.cam.alpha = rq.alpha;
    job.targets = {{ClassRef{ClassRef::Index, a}}};
    if (diff) job.targets.push_back({ClassRef{ClassRef::Index, b}});
    if (contrast >= 0) job.contrast = {{ClassRef{ClassRef::Index, contrast}}};
    if (client_gone) job.on_forwards = [&check_client](long long, long long) { check_client(); };
    const size_t index = rows["index"][row].get<size_t>();
    CamImages image;
    image.count = 1;
    image.get = [&](size_t) {
        std::lock_guard lock(s.data_mu);
        return dataset_.get(index);
    };
    image.ids = {static_cast<long long>(index)};
    CamBatch res;
    run_cam_job(model_, image, spec_, job, [&res](CamBatch& batch) { res = std::move(batch); });
    const Sample& sample = res.samples[0];
    const int fh = res.fh, fw = res.fw;
    const size_t hw = static_cast<size_t>(fh) * fw;
    std::vector<float> map(res.maps.begin(), res.maps.begin() + static_cast<long>(hw));
    // A map with no positive evidence is said so here, and drawn by view_cam as the hatched stand-in.
    const bool blank_a = res.blank(0, 0);
    const bool blank_b = diff && res.blank(1, 0);
    if (diff)
        for (size_t i = 0; i < hw; ++i) map[i] -= res.maps[hw + i];
    const auto& probs = res.probs;
    const double compute_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    const size_t peak = static_cast<size_t>(std::max_element(map.begin(), map.end()) - map.begin());
    double mean = 0;
    for (float v : map) mean += v;
    mean /= hw ? double(hw) : 1.0;
    json stats{{"image", row},
               {"method", method},
               {"layer", layer},
               {"fh", fh},
               {"fw", fw},
               {"peak", !diff && blank_a ? json(nullptr) : json({peak / fw, peak % fw})},  // no peak in a blank map
               {"mean", std::round(mean * 1e4) / 1e4},
               {"fingerprint", fingerprint(map)},
               {"degenerate", blank_a || blank_b},
               {"compute_ms", std::round(compute_ms * 10) / 10}};
    if (perturbs_channels(method)) stats["max_channels"] = max_channels;  // 0: all (no cap was set)
    if (method == "finercam") {  // "why the target (each of a and b) and not the contrast"
        stats["alpha"] = rq.alpha;
        if (contrast >= 0) {
            stats["contrast"] = contrast;
            stats["contrast_name"] = s.classes[contrast];
        }
    }
    if (diff) {
        stats["a"] = a;
        stats["b"] = b;
        stats["a_name"] = s.classes[a];
        stats["b_name"] = s.classes[b];
        stats["a_degenerate"] = blank_a;
        stats["b_degenerate"] = blank_b;
    } else {
        stats["target"] = a;
        stats["target_name"] = s.classes[a];
        stats["prob"] = std::round(double(probs[a]) * 1e4) / 1e4;
    }

    Response r;
    if (fmt == "json") {
        json m = json::array();
        for (float v : map) m.push_back(std::round(double(v) * 1e4) / 1e4);
        stats["map"] = m;
        r = json_response(stats);
    } else {
        // The map as pytorch-grad-cam returns it (at the model's input size, scaled there; a
        // difference is taken between two such maps), then shown at the image's own size.
        const Image& img = sample.image;
        const size_t input_hw = static_cast<size_t>(spec_.height) * spec_.width;
        std::vector<float> up(res.at_input.begin(), res.at_input.begin() + static_cast<long>(input_hw));
        Image out;
        if (diff) {
            const float* ub = res.map_at_input(1, 0);
            for (size_t i = 0; i < up.size(); ++i) up[i] -= ub[i];
            out = view_cam_difference(img, up.data(), spec_.height, spec_.width, blank_a || blank_b).image;
        } else {
            out = view_cam(img, up.data(), spec_.height, spec_.width, heatmap ? CamLayer::Heat : CamLayer::Overlay).image;
        }
        stats["view"] = heatmap || diff ? "heatmap" : "overlay";
        r.content_type = "image/png";
        r.body = png_body(out);
        stats.erase("compute_ms");  // the header stays identical between the first and a cached answer
        r.headers.push_back({"X-Camscope-Cam", stats.dump(-1, ' ', true)});
    }
    std::lock_guard lock(s.cache_mu);
    if (!s.cache.count(key)) {
        s.cache_bytes += r.body.size();
        s.cache.emplace(key, r);
        s.cache_order.push_back(key);
        while (s.cache_bytes > State::kCacheBytes && !s.cache_order.empty()) {
            auto it = s.cache.find(s.cache_order.front());
            s.cache_bytes -= it->second.body.size();
            s.cache.erase(it);
            s.cache_order.pop_front();
        }
    }
    return r;
}

namespace {

using Clock = std::chrono::steady_clock;

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

void close_fd(int fd) {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
}

/// Whether the client of `fd` has closed the connection (or reset it): a read would say end of
/// stream. Bytes it sent that nobody read yet (a pipelined request) count as still there.
bool peer_gone(int fd) {
    char c;
    const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/// The request a worker is answering, for the route handler (set by Front::answer on its thread).
struct RequestContext {
    int fd = -1;
    bool busy = false;  // a live CAM beyond the queue: answer 503
};
thread_local const RequestContext* t_request = nullptr;

/// What Front needs to know of a request head: its method, target and the named headers (the first
/// of each, names lower-case). Only to pick the lane; httplib parses the request for real.
struct HeadInfo {
    std::string method, target;
    std::map<std::string, std::string> headers;
};

HeadInfo parse_head(std::string_view buf) {
    HeadInfo h;
    size_t eol = buf.find('\n');
    std::string_view line = buf.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return h;
    const size_t sp2 = line.find(' ', sp1 + 1);
    h.method = std::string(line.substr(0, sp1));
    h.target = std::string(line.substr(sp1 + 1, sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp1 - 1));
    while (eol != std::string_view::npos) {
        const size_t start = eol + 1;
        eol = buf.find('\n', start);
        line = buf.substr(start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;  // the end of the head
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        h.headers.emplace(to_lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
    }
    return h;
}

std::string header_of(const HeadInfo& h, const std::string& name) {
    const auto it = h.headers.find(name);
    return it == h.headers.end() ? std::string() : it->second;
}

/// Blocks until fd is readable/writable or `deadline`; false on timeout or error.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000 * 1000)));
        if (r > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
        if (r == 0) return false;
        if (errno != EINTR) return false;
    }
}

std::string address_text(const sockaddr_storage& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
    if (a.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
    return buf;
}

int port_of(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    return 0;
}

/// One request's view of a connection for httplib: the bytes the poller already read first, then
/// the socket, every read and write bounded by the request's deadline.
class ConnStream final : public httplib::Stream {
public:
    ConnStream(int fd, std::string pending, Clock::time_point read_deadline, Clock::time_point write_deadline)
        : fd_(fd), buf_(std::move(pending)), read_deadline_(read_deadline), write_deadline_(write_deadline) {}

    bool is_readable() const override { return pos_ < buf_.size() || wait_fd(fd_, POLLIN, read_deadline_); }
    bool is_writable() const override { return wait_fd(fd_, POLLOUT, write_deadline_); }
    ssize_t read(char* ptr, size_t size) override {
        if (pos_ >= buf_.size()) {
            ssize_t n;
            buf_.resize(4096);
            pos_ = 0;
            do {  // the socket is non-blocking: wait, then read (again if woken for nothing)
                if (!wait_fd(fd_, POLLIN, read_deadline_)) {
                    buf_.clear();
                    return -1;
                }
                n = ::recv(fd_, buf_.data(), buf_.size(), 0);
            } while (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK));
            buf_.resize(n > 0 ? static_cast<size_t>(n) : 0);
            if (n <= 0) return n;
        }
        const size_t n = std::min(size, buf_.size() - pos_);
        std::memcpy(ptr, buf_.data() + pos_, n);
        pos_ += n;
        return static_cast<ssize_t>(n);
    }
    ssize_t write(const char* ptr, size_t size) override {
        ssize_t n;
        do {
            if (!wait_fd(fd_, POLLOUT, write_deadline_)) return -1;
            n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
        } while (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK));
        return n;
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage a{};
        socklen_t len = sizeof a;
        if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip = address_text(a), port = port_of(a);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage a{};
        socklen_t len = sizeof a;
        if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip = address_text(a), port = port_of(a);
    }
    socket_t socket() const override { return fd_; }
    /// What was read past this request (a pipelined next one).
    std::string leftover() const { return buf_.substr(std::min(pos_, buf_.size())); }

private:
    int fd_;
    std::string buf_;
    size_t pos_ = 0;
    Clock::time_point read_deadline_, write_deadline_;
};

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

/// Binds host:port (port 0: any free port; the first address the host resolves to that binds).
/// Returns the socket and sets the port; `loopback` says whether the bound address is a loopback one.
int bind_listen(const std::string& host, int& port, bool& loopback) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (const int e = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); e != 0)
        throw Error("cannot listen on " + host + ": " + gai_strerror(e));
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
    std::string last_error = "no address";
    for (addrinfo* a = res; a; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) continue;
        const int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 512) != 0) {
            last_error = std::strerror(errno);
            ::close(fd);
            continue;
        }
        sockaddr_storage bound{};
        socklen_t len = sizeof bound;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
        port = port_of(bound);
        if (bound.ss_family == AF_INET) {
            const auto addr = ntohl(reinterpret_cast<const sockaddr_in&>(bound).sin_addr.s_addr);
            loopback = (addr >> 24) == 127;
        } else {
            const auto& a6 = reinterpret_cast<const sockaddr_in6&>(bound).sin6_addr;
            loopback = IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
        }
        return fd;
    }
    throw Error(format("cannot listen on %s:%s (%s%s)", host.c_str(), service.c_str(), last_error.c_str(),
                       service != "0" ? "; in use? try --port 0 for any free port" : ""));
}

void set_answer(httplib::Response& res, const Response& r, const httplib::Request& req, const ServeOptions& opt) {
    res.status = r.status;
    for (const auto& [k, v] : r.headers) res.set_header(k.c_str(), v);
    for (const auto& [k, v] : frame_headers(opt.frame_ancestors)) res.set_header(k.c_str(), v);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Cache-Control", "no-cache");
    // Bodies go out as they are: httplib never sees the client's Accept-Encoding (Front renames
    // it), so it does not Brotli-compress every text answer afresh (1.6 s for the 643 KB of
    // /api/explorer at 10,000 images). Answers the Explorer keeps compressed (the explorer data,
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

void run_server(const Explorer& explorer, const ServeOptions& opt, const std::function<void(const ListenInfo&)>& on_listening) {
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
    auto handler = [&explorer, &opt](const httplib::Request& req, httplib::Response& res) {
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
            const std::string origin = req.get_header_value("Origin");
            if (!origin.empty() && origin != "http://" + req.get_header_value("Host"))
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
        const Response r = explorer.handle(req.method, req.path, q, req.body, gone);
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
    const auto computes = [&explorer, names](std::string_view head) {
        const HeadInfo h = parse_head(head);
        if (h.method != "GET" && h.method != "HEAD") return false;
        if (!host_allowed(header_of(h, "host"), names) || to_lower(header_of(h, "sec-fetch-site")) == "cross-site") return false;
        const auto [path, query] = split_target(h.target);
        return explorer.computes(path, query);
    };
    Front front(router, opt, computes);
    front.run(listen_fd);  // returns once opt.stop is set
}

}  // namespace camscope::serve
