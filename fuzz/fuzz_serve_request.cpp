// libFuzzer target: the request parsing of `camscope serve` (camscope/serve/request.cpp), whatever
// bytes a client sends as the request target ("path?query"): split and percent-decoded as the
// HTTP server does, then parsed against two sets of limits (a 200-image, 10-class analysis, and an
// empty one). Only RequestError (status 400 or 404) may escape, and whatever parses must lie within
// the limits: image rows, class indices, counts, methods, layers and thumbnail sheets. The same
// bytes as a Host header go through host_allowed (the DNS-rebinding check), and as a POST
// api/tags body through parse_tag_update (serve/tags.hpp): only RequestError 400 may escape, and
// what parses names a row in range and at most 16 tags of 1-40 allowed characters (or one "relabel:<k>"). A port the Host
// check passes names 1..65535; a Content-Type is_json_content_type takes is application/json; a
// perturbation method's max_channels never exceeds the server's cap.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "camscope/serve/request.hpp"
#include "camscope/serve/tags.hpp"

using namespace camscope::serve;

namespace {

const RequestLimits& cifar_limits() {
    static const RequestLimits l = [] {
        RequestLimits r;
        r.images = 200;
        r.classes = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
        r.methods = {"gradcam", "gradcam++", "hirescam", "layercam", "eigencam", "scorecam", "ablationcam"};
        r.layers = {"conv1", "layer1.0", "layer1.0.conv1", "layer2"};
        r.default_method = "gradcam";
        r.default_layer = "layer2";
        r.thumb_sheets = 3;
        return r;
    }();
    return l;
}

void check_class(int c, const RequestLimits& l) {
    if (c < 0 || static_cast<std::size_t>(c) >= l.classes.size()) std::abort();
}

void check_target(const Target& t, const RequestLimits& l) {
    if (t.kind == Target::Class) check_class(t.cls, l);
    else if (t.kind != Target::Pred && t.kind != Target::True) std::abort();
}

bool listed(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

void check(const std::string& path, const Query& q, const RequestLimits& l) {
    Request r;
    try {
        r = parse_request(path, q, l);
    } catch (const RequestError& e) {
        if (e.status() != 400 && e.status() != 404) std::abort();
        return;
    }
    switch (r.route) {
        case Route::Asset:
            if (r.asset.empty() && path != "/") std::abort();
            break;
        case Route::Class: check_class(r.cls, l); break;
        case Route::Cell:
            check_class(r.true_cls, l);
            check_class(r.pred_cls, l);
            if (r.offset < 0 || r.offset > (1 << 30) || r.limit < 0 || r.limit > 1000) std::abort();
            break;
        case Route::Image:
        case Route::ImageInput:
            if (r.image >= l.images) std::abort();
            break;
        case Route::Cam:
        case Route::Diff:
            if (r.image >= l.images) std::abort();
            check_target(r.target, l);
            check_target(r.a, l);
            check_target(r.b, l);
            if (!listed(l.methods, r.method) || !listed(l.layers, r.layer)) std::abort();
            if (r.max_channels < 0 || r.max_channels > (1 << 20)) std::abort();
            if (!perturbs_channels(r.method) ? r.max_channels != 0
                                             : l.max_channels > 0 && (r.max_channels < 1 || r.max_channels > l.max_channels))
                std::abort();  // the server's cap holds whatever the request asks
            break;
        case Route::Thumbs:
            if (r.sheet >= l.thumb_sheets) std::abort();
            break;
        default: break;
    }
}

void check_tags_body(std::string_view body) {
    TagUpdate u;
    try {
        u = parse_tag_update(body, 200);
    } catch (const RequestError& e) {
        if (e.status() != 400) std::abort();
        return;
    }
    if (u.row >= 200 || u.tags.size() > kMaxTagsPerRow) std::abort();
    int chosen = 0;
    for (const auto& t : u.tags) {
        if (t.empty() || t.size() > kMaxTagLength) std::abort();
        if (relabel_class(t) >= 0) {  // "relabel:<k>", the chosen label: at most one per image
            if (++chosen > 1) std::abort();
            continue;
        }
        for (const char c : t)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != ' ' && c != '_' && c != '-') std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view target(reinterpret_cast<const char*>(data), size);
    const auto [path, query] = split_target(target);
    static const RequestLimits empty;
    static const RequestLimits capped = [] {
        RequestLimits l = cifar_limits();
        l.max_channels = 64;
        return l;
    }();
    check(path, query, cifar_limits());
    check(path, query, capped);
    check(path, query, empty);
    // The bytes as an already-decoded path too (no query): what the server hands over may hold any byte.
    check(std::string(target), {}, cifar_limits());
    check_tags_body(target);
    // The bytes as a Host header: whatever passes names an address or an allowed name, with at
    // most a numeric port (no '@', '/', space or second colon outside brackets).
    static const std::vector<std::string> names{"localhost", "my.box"};
    if (host_allowed(target, names) && !target.empty()) {
        if (target.find_first_of("@/ \t\r\n?#") != std::string_view::npos) std::abort();
        const size_t close = target.front() == '[' ? target.find(']') : 0;
        if (target.substr(close).find(':') != target.substr(close).rfind(':')) std::abort();
        const size_t colon = target.substr(close).find(':');
        if (colon != std::string_view::npos) {  // a port: 1 to 5 digits naming 1..65535
            const std::string_view port = target.substr(close + colon + 1);
            if (port.empty() || port.size() > 5 || std::atoi(std::string(port).c_str()) < 1 ||
                std::atoi(std::string(port).c_str()) > 65535)
                std::abort();
        }
    }
    // The bytes as a Content-Type: JSON only if the media type is application/json itself.
    if (is_json_content_type(target)) {
        std::string type(target.substr(0, target.find(';')));
        type.erase(0, type.find_first_not_of(" \t"));
        type.erase(type.find_last_not_of(" \t") + 1);
        std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
        if (type != "application/json") std::abort();
    }
    return 0;
}
