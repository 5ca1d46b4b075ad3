// `camscope serve`: the live CAM routes, api/cam and api/diff (server.hpp): one image's CAM for any
// target class, method and layer, computed by the model, drawn, and kept in the answer cache.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>

#include "camscope/image/cam_view.hpp"
#include "camscope/image/image.hpp"
#include "camscope/pipeline/cams.hpp"
#include "camscope/serve/explorer_state.hpp"
#include "camscope/serve/server.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::serve {

using nlohmann::json;

namespace {

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

}  // namespace

std::string Explorer::cam_key(const Request& rq) const {
    const ExplorerRows& rows = state_->model.rows;
    const bool diff = rq.route == Route::Diff;
    const int label = rows.label[rq.image], pred = rows.pred[rq.image];
    const int a = (diff ? rq.a : rq.target).resolve(pred, label);
    const int b = diff ? rq.b.resolve(pred, label) : -1;
    const int contrast = rq.contrast ? rq.contrast->resolve(pred, label) : -1;
    return format("%d|%zu|%d|%d|%s|%s|%s|%d|%d|%.17g|%d", diff ? 1 : 0, rq.image, a, b, rq.method.c_str(),
                  rq.layer.c_str(), rq.json ? "json" : "png", rq.max_channels, contrast, rq.alpha,
                  rq.heatmap && !rq.json ? 1 : 0);
}

Response Explorer::cam(const Request& rq, const std::function<bool()>& client_gone) const {
    const auto& s = *state_;
    const ExplorerRows& rows = s.model.rows;
    const bool diff = rq.route == Route::Diff;
    const size_t row = rq.image;  // parse_request checked image, method, layer, format and the targets
    const int label = rows.label[row], pred = rows.pred[row];
    const std::string& method = rq.method;
    const std::string& layer = rq.layer;
    const std::string fmt = rq.json ? "json" : "png";
    const int max_channels = rq.max_channels;
    const int a = (diff ? rq.a : rq.target).resolve(pred, label);
    const int b = diff ? rq.b.resolve(pred, label) : -1;

    const int contrast = rq.contrast ? rq.contrast->resolve(pred, label) : -1;
    const bool heatmap = rq.heatmap && !rq.json;
    const std::string key = cam_key(rq);
    if (auto hit = s.cache.find(key)) return *hit;
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
    const size_t index = static_cast<size_t>(rows.index[row]);
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
    s.cache.insert(key, r);
    return r;
}

}  // namespace camscope::serve
