// `camscope serve`: Explorer (request handling, see server.hpp) and run_server (cpp-httplib).
#include "camscope/serve/server.hpp"

#include "camscope/serve/request.hpp"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <mutex>

#include "camscope/image/image.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/report/metrics.hpp"
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
};

Explorer::Explorer(Model& model, const Dataset& dataset, InputSpec spec, json data, std::vector<LayerInfo> layers)
    : model_(model), dataset_(dataset), spec_(std::move(spec)), data_(std::move(data)), state_(std::make_unique<State>()) {
    auto& s = *state_;
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
        if (l.shape.size() == 4) s.layers.push_back(std::move(l));
    s.default_method = data_.at("run").value("method", "gradcam");
    s.default_layer = data_.at("run").value("layer", "");
    if (std::find(s.methods.begin(), s.methods.end(), s.default_method) == s.methods.end()) s.default_method = "gradcam";
    if (std::none_of(s.layers.begin(), s.layers.end(), [&](const LayerInfo& l) { return l.path == s.default_layer; }))
        s.default_layer = model_.resolve_layer("", spec_);

    json ex = data_;
    ex["live"] = true;
    ex["methods"] = s.methods;
    ex["default_method"] = s.default_method;
    ex["default_layer"] = s.default_layer;
    json layer_list = json::array();
    for (const auto& l : s.layers) layer_list.push_back({{"path", l.path}, {"type", l.type}, {"shape", l.shape}});
    ex["layers"] = layer_list;
    s.explorer_body = ex.dump(-1, ' ', true);

    s.limits.images = s.n;
    s.limits.classes = s.classes;
    s.limits.methods = s.methods;
    for (const auto& l : s.layers) s.limits.layers.push_back(l.path);
    s.limits.default_method = s.default_method;
    s.limits.default_layer = s.default_layer;
}

Explorer::~Explorer() = default;

Response Explorer::handle(const std::string& method, const std::string& path, const Query& query) const {
    if (method != "GET" && method != "HEAD") return error_response(405, "only GET is supported");
    try {
        return route(path, query);
    } catch (const RequestError& e) {
        return error_response(e.status(), e.what());
    } catch (const UsageError& e) {
        return error_response(400, e.what());
    } catch (const std::exception& e) {
        return error_response(500, e.what());
    }
}

Response Explorer::route(const std::string& path, const Query& q) const {
    const auto& s = *state_;
    const auto& rows = *s.rows;
    const Request req = parse_request(path, q, s.limits);  // throws RequestError (400/404)
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
        return r;
    }
    if (req.route == Route::Summary)
        return json_response({{"run", data_["run"]}, {"overall", data_["overall"]}, {"calibration", data_["calibration"]},
                              {"live", true}});
    if (req.route == Route::Classes) return json_response({{"classes", data_["per_class"]}});
    if (req.route == Route::Methods) return json_response({{"methods", s.methods}, {"default", s.default_method}});
    if (req.route == Route::Layers) {
        json a = json::array();
        for (const auto& l : s.layers) a.push_back({{"path", l.path}, {"type", l.type}, {"shape", l.shape}});
        return json_response({{"layers", a}, {"default", s.default_layer}});
    }
    if (req.route == Route::Confusion)
        return json_response({{"classes", s.classes},
                              {"counts", data_["confusion"]["counts"]},
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
    if (req.route == Route::Cam || req.route == Route::Diff) return cam(req);
    throw RequestError(404, "not found: " + path);  // every route is answered above
}

Response Explorer::cam(const Request& rq) const {
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

    const std::string key = format("%d|%zu|%d|%d|%s|%s|%s|%d", diff ? 1 : 0, row, a, b, method.c_str(), layer.c_str(),
                                   fmt.c_str(), max_channels);
    {
        std::lock_guard lock(s.cache_mu);
        if (auto it = s.cache.find(key); it != s.cache.end()) return it->second;
    }

    const auto t0 = std::chrono::steady_clock::now();
    Sample sample;
    {
        std::lock_guard lock(s.data_mu);
        sample = dataset_.get(rows["index"][row].get<size_t>());
    }
    std::vector<float> x(static_cast<size_t>(spec_.channels) * spec_.height * spec_.width);
    to_input(sample.image, spec_, x.data());
    CamRequest req;
    req.method = method;
    req.layers = {layer};
    req.max_channels = max_channels;
    req.targets = diff ? std::vector<std::vector<int>>{{a}, {b}} : std::vector<std::vector<int>>{{a}};
    const BatchResult res = model_.run(x.data(), 1, spec_, &req);
    const int fh = res.fh, fw = res.fw;
    const size_t hw = static_cast<size_t>(fh) * fw;
    std::vector<float> map(res.cams.begin(), res.cams.begin() + static_cast<long>(hw));
    // A map with no positive evidence is said so, and drawn as no_evidence_image, never as a flat overlay.
    const bool blank_a = metrics::degenerate_cam(res.cams.data(), hw);
    const bool blank_b = diff && metrics::degenerate_cam(res.cams.data() + hw, hw);
    if (diff)
        for (size_t i = 0; i < hw; ++i) map[i] -= res.cams[hw + i];
    const auto probs = metrics::softmax_rows(res.logits.data(), 1, res.num_classes);
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
        // The map at the image's own size, as the report's overlays (half-pixel bilinear).
        const Image& img = sample.image;
        const auto up = resize_map(map.data(), fh, fw, img.height, img.width);
        Image out;
        if (blank_a || blank_b) {
            out = no_evidence_image(img, img.height, img.width);
        } else if (diff) {
            out = Image{img.width, img.height, 3, std::vector<std::uint8_t>(static_cast<size_t>(img.width) * img.height * 3)};
            for (size_t i = 0; i < up.size(); ++i) diverging_rgb(std::clamp(up[i], -1.f, 1.f), &out.pixels[3 * i]);
        } else {
            out = overlay_cam(img, up.data());
        }
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

bool loopback(const std::string& host) {
    return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]";
}

// The host part of a Host header ("127.0.0.1:8765", "[::1]:8765", "localhost").
std::string host_of(const std::string& header) {
    if (!header.empty() && header[0] == '[') return header.substr(0, header.find(']') + 1);
    return header.substr(0, header.find(':'));
}

}  // namespace

void run_server(const Explorer& explorer, const ServeOptions& opt, const std::function<void(const std::string&)>& on_listening) {
    httplib::Server svr;
    const int threads = std::max(1, opt.http_threads);
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    svr.set_payload_max_length(64 * 1024);  // GET only: nothing large ever needs to come in
    const bool local = loopback(opt.host);
    svr.Get(".*", [&explorer, &opt, local](const httplib::Request& req, httplib::Response& res) {
        Response r;
        // Bound to loopback, answer only requests addressed to loopback: a web page elsewhere cannot
        // point a name of its own at 127.0.0.1 and read the explorer (DNS rebinding).
        if (local && req.has_header("Host") && !loopback(host_of(req.get_header_value("Host")))) {
            r = Response{403, "application/json", R"({"error": "requests must address the loopback host"})", {}};
        } else {
            Query q;
            for (const auto& [k, v] : req.params) q.emplace(k, v);  // the first value of a repeated key
            r = explorer.handle(req.method, req.path, q);
        }
        res.status = r.status;
        for (const auto& [k, v] : r.headers) res.set_header(k.c_str(), v);
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_header("Cache-Control", "no-cache");
        res.set_content(r.body, r.content_type.c_str());
        if (opt.log_requests) fprintf(stderr, "%d %s %s\n", r.status, req.method.c_str(), req.target.c_str());
    });
    int port = opt.port;
    if (port == 0) {
        port = svr.bind_to_any_port(opt.host);
        if (port <= 0) throw Error("cannot listen on " + opt.host + " (no free port)");
    } else if (!svr.bind_to_port(opt.host, port)) {
        throw Error(format("cannot listen on %s:%d (in use? try --port 0 for any free port)", opt.host.c_str(), port));
    }
    const std::string shown = opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host;
    on_listening(format("http://%s:%d/", shown.c_str(), port));
    if (!svr.listen_after_bind()) throw Error(format("the server on %s:%d stopped with an error", opt.host.c_str(), port));
}

}  // namespace camscope::serve
