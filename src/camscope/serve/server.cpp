// `camscope serve`: Explorer (server.hpp), the routes over the explorer data, the images and the
// thumbnail sheets; the live CAM routes are in live_cam.cpp, the HTTP transport in http.cpp.
#include "camscope/serve/server.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "camscope/report/explorer.hpp"
#include "camscope/serve/explorer_state.hpp"
#include "camscope/serve/request.hpp"
#include "camscope/serve/results.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::serve {

using nlohmann::json;

Explorer::Explorer(Model& model, const Dataset& dataset, InputSpec spec, json data, std::vector<LayerInfo> layers,
                   std::string tags_path, int max_channels, double alpha)
    : model_(model), dataset_(dataset), spec_(std::move(spec)), data_(std::move(data)), state_(std::make_unique<State>()) {
    auto& s = *state_;
    // Every index the routes use is checked once here (results folders are untrusted input).
    s.model = explorer_from_json(data_, "the explorer data");
    const ExplorerRows& rows = s.model.rows;
    s.k = static_cast<int>(s.classes.size());
    s.n = rows.size();
    if (s.k != static_cast<int>(dataset_.num_classes()))
        throw Error(format("the analysis has %d classes, the dataset %zu", s.k, dataset_.num_classes()));
    for (size_t i = 0; i < s.n; ++i)
        if (rows.index[i] < 0 || static_cast<size_t>(rows.index[i]) >= dataset_.size())
            throw Error(format("analysis row %zu refers to image %lld; the dataset has %zu images", i, rows.index[i],
                               dataset_.size()));
    // The rows must be this dataset's images: their labels agree (checked on the first rows only,
    // an image folder would have to decode every file otherwise).
    for (size_t i = 0; i < std::min<size_t>(s.n, 32); ++i) {
        const int label = dataset_.get(static_cast<size_t>(rows.index[i])).label;
        if (label != rows.label[i])
            throw Error(format("analysis row %zu has label %d, but dataset image %lld has label %d: the results are "
                               "from another dataset",
                               i, rows.label[i], rows.index[i], label));
    }
    s.methods = cam_methods();
    for (auto& l : layers)
        if (l.layout.kind != LayoutKind::none) s.layers.push_back(std::move(l));  // a layout a CAM can read
    s.default_method = s.model.method;  // "" (absent): gradcam, below
    s.default_layer = s.model.layer;
    if (std::find(s.methods.begin(), s.methods.end(), s.default_method) == s.methods.end()) s.default_method = "gradcam";
    if (std::none_of(s.layers.begin(), s.layers.end(), [&](const LayerInfo& l) { return l.path == s.default_layer; }))
        s.default_layer = model_.resolve_layer("", spec_);

    s.tags = std::make_unique<TagStore>(std::move(tags_path), s.n, static_cast<size_t>(s.k));
    s.thumb_layout = camscope::thumb_layout(s.n, spec_.height, spec_.width);

    json ex = data_;
    ex["live"] = true;
    ex["thumbs"] = to_json(explorer_thumbs(s.thumb_layout, "api/thumbs/"));  // served sheets, whatever the data's own say
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
        return !state_->cache.contains(cam_key(req));
    } catch (const std::exception&) {
        return false;  // answered with an error at once
    }
}

Response Explorer::route(const std::string& path, const Query& q, bool post, const std::string& body,
                         const std::function<bool()>& client_gone) const {
    const auto& s = *state_;
    const ExplorerData& d = s.model;
    const ExplorerRows& rows = d.rows;
    const Request req = parse_request(path, q, s.limits);  // throws RequestError (400/404)
    if (req.route == Route::Tags && post) {
        const TagUpdate update = parse_tag_update(body, s.n, static_cast<size_t>(s.k));
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
        const int label = rows.label[i], pred = rows.pred[i];
        return json{{"row", i},
                    {"index", rows.index[i]},
                    {"label", label},
                    {"label_name", s.classes[label]},
                    {"pred", pred},
                    {"pred_name", s.classes[pred]},
                    {"confidence", rows.conf[i]},
                    {"correct", label == pred}};
    };

    if (req.route == Route::Explorer) {
        Response r;
        r.body = s.explorer_body;
        r.gzip = s.explorer_gzip;
        return r;
    }
    if (req.route == Route::Summary)
        return json_response({{"run", d.run}, {"overall", d.overall}, {"calibration", d.calibration},
                              {"live", true}});
    if (req.route == Route::Classes) return json_response({{"classes", d.per_class}});
    if (req.route == Route::Methods)
        return json_response({{"methods", s.methods}, {"default", s.default_method}, {"max_channels", s.limits.max_channels}});
    if (req.route == Route::Layers) {
        json a = json::array();
        for (const auto& l : s.layers) a.push_back({{"path", l.path}, {"type", l.type}, {"shape", l.shape}, {"layout", describe(l.layout)}});
        return json_response({{"layers", a}, {"default", s.default_layer}});
    }
    if (req.route == Route::Confusion)
        return !d.confusion.sparse
                   ? json_response({{"classes", s.classes}, {"counts", d.confusion.counts}, {"order", d.confusion.order}})
                   : json_response({{"classes", s.classes},  // many classes: the non-zero cells
                                    {"cells", d.confusion.cells},
                                    {"order", d.confusion.order}});
    if (req.route == Route::Class) {
        const int c = req.cls;
        json worst = json::array(), best = json::array(), as = json::array(), from = json::array();
        for (const size_t r : d.galleries[c].worst) worst.push_back(row_json(r));
        for (const size_t r : d.galleries[c].best) best.push_back(row_json(r));
        for (const auto& p : d.pairs) {
            if (p.truth == c)
                as.push_back({{"class", p.pred}, {"name", s.classes[p.pred]}, {"count", p.count}, {"rate", p.rate}});
            if (p.pred == c)
                from.push_back({{"class", p.truth}, {"name", s.classes[p.truth]}, {"count", p.count}, {"rate", p.rate}});
        }
        return json_response({{"class", d.per_class[c]},
                              {"worst", worst},
                              {"best", best},
                              {"predicted_as", as},
                              {"confused_from", from}});
    }
    if (req.route == Route::Cell) {
        const int t = req.true_cls, p = req.pred_cls;
        const auto cell = cell_rows(rows, t, p);
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
                sample = dataset_.get(static_cast<size_t>(rows.index[i]));
            }
            Response r;
            r.content_type = "image/png";
            r.body = png_body(sample.image);
            return r;
        }
        json j = row_json(i);
        json top = json::array();
        for (size_t t = 0; t < rows.top[i].size(); ++t) {
            const int c = rows.top[i][t];
            top.push_back({{"class", c}, {"name", s.classes[c]}, {"prob", rows.top_p[i][t]}});
        }
        j["top"] = top;
        return json_response(j);
    }
    if (req.route == Route::Cam || req.route == Route::Diff) return cam(req, client_gone);
    throw RequestError(404, "not found: " + path);  // every route is answered above
}

Response Explorer::thumbs(size_t k) const {
    const auto& s = *state_;
    std::shared_ptr<const std::string> png = s.thumb_cache.find(k).value_or(nullptr);
    if (!png) {
        std::lock_guard build(s.thumb_build_mu);  // a sheet asked for twice at once is built once
        png = s.thumb_cache.find(k).value_or(nullptr);
        if (!png) {
            const auto& idx = s.model.rows.index;
            const Image sheet = thumb_sheet(s.thumb_layout, k, [&](size_t row) {
                std::lock_guard lock(s.data_mu);
                return dataset_.get(static_cast<size_t>(idx[row])).image;
            }, 1);
            const auto bytes = encode_png(sheet);
            png = std::make_shared<const std::string>(bytes.begin(), bytes.end());
            s.thumb_cache.insert(k, png);
        }
    }
    Response r;
    r.content_type = "image/png";
    r.body = *png;
    return r;
}

void run_server(const Explorer& explorer, const ServeOptions& opt, const std::function<void(const ListenInfo&)>& on_listening) {
    HttpApp app;
    app.handle = [&explorer](const std::string& method, const std::string& path, const Query& query, const std::string& body,
                             const std::function<bool()>& client_gone) {
        return explorer.handle(method, path, query, body, client_gone);
    };
    app.computes = [&explorer](const std::string& path, const Query& query) { return explorer.computes(path, query); };
    serve_http(app, opt, on_listening);
}

}  // namespace camscope::serve
