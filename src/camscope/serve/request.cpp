// Request parsing of `camscope serve` (see request.hpp): torch-free, fuzzed by fuzz_serve_request.
#include "camscope/serve/request.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "camscope/data/class_ref.hpp"
#include "camscope/engine/cam_settings.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::serve {

namespace {

[[noreturn]] void bad(const std::string& message) { throw RequestError(400, message); }
[[noreturn]] void not_found(const std::string& message) { throw RequestError(404, message); }

/// The value quoted for a message: at most 64 bytes, so a huge parameter does not make a huge answer.
std::string quoted(std::string_view v) {
    std::string out = "'";
    out.append(v.substr(0, 64));
    out += '\'';
    if (v.size() > 64) out.insert(out.size() - 1, "...").append(" (" + std::to_string(v.size()) + " bytes)");
    return out;
}

std::vector<std::string_view> split_path(std::string_view s) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
        const size_t slash = s.find('/', start);
        if (slash == std::string_view::npos) {
            parts.push_back(s.substr(start));
            return parts;
        }
        parts.push_back(s.substr(start, slash - start));
        start = slash + 1;
    }
}

std::string get(const Query& q, const std::string& key, const std::string& fallback = "") {
    const auto it = q.find(key);
    return it == q.end() || it->second.empty() ? fallback : it->second;
}

/// A non-negative integer query parameter; absent or empty: `fallback`; above `hi` (however many
/// digits): `hi`.
int query_int(const Query& q, const std::string& key, int fallback, int hi) {
    const std::string v = get(q, key);
    if (v.empty()) return fallback;
    unsigned long long x = 0;
    bool overflow = false;
    if (!parse_unsigned(v, x, overflow))
        bad("parameter '" + key + "' must be a non-negative integer, got " + quoted(v));
    if (overflow || x > static_cast<unsigned long long>(hi)) return hi;
    return static_cast<int>(x);
}

/// An image row: required, a non-negative integer (400), below the row count (404).
std::size_t image_row(std::string_view v, const RequestLimits& lim) {
    if (v.empty()) bad("parameter 'image' is required");
    unsigned long long x = 0;
    bool overflow = false;
    if (!parse_unsigned(v, x, overflow))
        bad("parameter 'image' must be a row number (a non-negative integer), got " + quoted(v));
    if (overflow || x >= lim.images)
        not_found("image " + quoted(v) + " out of range: " + std::to_string(lim.images) + " images were analysed");
    return static_cast<std::size_t>(x);
}

/// A class index or name (data/class_ref.hpp: the rule and the wording of every edge); `prefix`
/// names where it came from. An index past the classes answers `range_status`, anything else 400.
int class_of(const std::string& prefix, std::string_view v, const RequestLimits& lim, int range_status) {
    try {
        return parse_class(v, ClassList(lim.classes), prefix);
    } catch (const ClassRangeError& e) {
        throw RequestError(range_status, e.what());
    } catch (const UsageError& e) {
        bad(e.what());
    }
}

Target target_of(const Query& q, const std::string& key, const std::string& fallback, const RequestLimits& lim) {
    ClassRef ref;
    try {
        ref = parse_class_ref(get(q, key, fallback), ClassList(lim.classes), "parameter '" + key + "': ");
    } catch (const UsageError& e) {  // an index out of range included: a bad parameter, not a missing resource
        bad(e.what());
    }
    if (ref.kind == ClassRef::Pred) return {Target::Pred, -1};
    if (ref.kind == ClassRef::True) return {Target::True, -1};
    return {Target::Class, ref.index};
}

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

}  // namespace

bool parse_unsigned(std::string_view v, unsigned long long& out, bool& overflow) {
    overflow = false;
    if (v.empty() || v.front() < '0' || v.front() > '9') return false;  // from_chars would take no '+', but be explicit
    const char* end = v.data() + v.size();
    const auto [ptr, ec] = std::from_chars(v.data(), end, out);
    if (ec == std::errc::result_out_of_range) {
        // All digits, too large: still a well-formed number.
        overflow = std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
        return overflow;
    }
    return ec == std::errc() && ptr == end;
}

Request parse_request(const std::string& path, const Query& q, const RequestLimits& lim) {
    Request r;
    // Static files: the server looks the name up in the embedded table (exact match only).
    if (path.rfind("/api/", 0) != 0) {
        if (path.empty() || path[0] != '/') not_found("not found: " + path);
        if (path == "/data.js") {
            r.route = Route::DataJs;
            return r;
        }
        r.route = Route::Asset;
        r.asset = path == "/" ? "index.html" : path.substr(1);
        return r;
    }
    const auto parts = split_path(std::string_view(path).substr(5));
    const std::string_view what = parts[0];
    const size_t np = parts.size();

    if (np == 1) {
        static const std::pair<const char*, Route> simple[] = {
            {"explorer", Route::Explorer}, {"summary", Route::Summary}, {"classes", Route::Classes},
            {"methods", Route::Methods},   {"layers", Route::Layers},   {"confusion", Route::Confusion},
            {"tags", Route::Tags}};
        for (const auto& [name, route] : simple)
            if (what == name) {
                r.route = route;
                return r;
            }
    }
    // A class name may hold '/' ("T-shirt/top", sent as T-shirt%2Ftop and decoded by the HTTP
    // server before we see it): /api/class/ takes the whole rest of the path, /api/cell/ the split
    // of the rest into two classes that names known classes (the first split that does).
    const std::string_view rest = np >= 2 ? std::string_view(path).substr(5 + what.size() + 1) : std::string_view();
    if (what == "class" && np >= 2) {
        r.route = Route::Class;
        r.cls = class_of("", np == 2 ? parts[1] : rest, lim, 404);
        return r;
    }
    if (what == "cell" && np >= 3) {
        r.route = Route::Cell;
        if (np == 3) {
            r.true_cls = class_of("", parts[1], lim, 404);
            r.pred_cls = class_of("", parts[2], lim, 404);
        } else {
            for (size_t slash = rest.find('/'); slash != std::string_view::npos; slash = rest.find('/', slash + 1)) {
                const int t = find_class_name(rest.substr(0, slash), lim.classes),
                          p = find_class_name(rest.substr(slash + 1), lim.classes);
                if (t >= 0 && p >= 0) {
                    r.true_cls = t;
                    r.pred_cls = p;
                    break;
                }
            }
            if (r.true_cls < 0) bad("unknown classes in " + quoted(rest) + " (expected /api/cell/{true}/{pred})");
        }
        r.offset = query_int(q, "offset", 0, 1 << 30);
        r.limit = query_int(q, "limit", 50, 1000);
        return r;
    }
    if (what == "image" && (np == 2 || (np == 3 && parts[2] == "input.png"))) {
        r.route = np == 2 ? Route::Image : Route::ImageInput;
        r.image = image_row(parts[1], lim);
        return r;
    }
    if (what == "thumbs" && np == 2) {
        const std::string_view file = parts[1];
        unsigned long long k = 0;
        bool overflow = false;
        if (file.size() < 5 || file.substr(file.size() - 4) != ".png" ||
            !parse_unsigned(file.substr(0, file.size() - 4), k, overflow))
            not_found("not found: " + path + " (thumbnail sheets are /api/thumbs/{k}.png)");
        if (overflow || k >= lim.thumb_sheets)
            not_found(format("no thumbnail sheet %s (there are %zu)", quoted(file.substr(0, file.size() - 4)).c_str(),
                             lim.thumb_sheets));
        r.route = Route::Thumbs;
        r.sheet = static_cast<size_t>(k);
        return r;
    }
    if ((what == "cam" || what == "diff") && np == 1) {
        const bool diff = what == "diff";
        r.route = diff ? Route::Diff : Route::Cam;
        r.image = image_row(get(q, "image"), lim);
        r.method = get(q, "method", lim.default_method);
        if (std::find(lim.methods.begin(), lim.methods.end(), r.method) == lim.methods.end())
            bad("unknown CAM method " + quoted(r.method) + " in parameter 'method' (available: " + join(lim.methods, ", ") + ")");
        r.layer = get(q, "layer", lim.default_layer);
        if (std::find(lim.layers.begin(), lim.layers.end(), r.layer) == lim.layers.end())
            bad("unknown layer " + quoted(r.layer) + " in parameter 'layer' (see /api/layers: layers with a 4-D output)");
        const std::string fmt = get(q, "format", "png");
        if (fmt != "png" && fmt != "json") bad("parameter 'format' must be png or json, got " + quoted(fmt));
        r.json = fmt == "json";
        const std::string view = get(q, "view", "overlay");
        if (view != "overlay" && view != "heatmap") bad("parameter 'view' must be overlay or heatmap, got " + quoted(view));
        r.heatmap = view == "heatmap";
        // Score-CAM / Ablation-CAM: one forward per channel; max_channels=M keeps the M most active,
        // at most the server's cap (0, all channels, too). Other methods ignore it: 0, one cache entry.
        r.max_channels = query_int(q, "max_channels", 0, 1 << 20);
        if (!perturbs_channels(r.method)) r.max_channels = 0;
        else if (lim.max_channels > 0 && (r.max_channels == 0 || r.max_channels > lim.max_channels)) r.max_channels = lim.max_channels;
        if (diff) {
            r.a = target_of(q, "a", "pred", lim);
            r.b = target_of(q, "b", "true", lim);
        } else {
            r.target = target_of(q, "target", "pred", lim);
        }
        // Finer-CAM's comparison, the same for a map and for both maps of a difference.
        if (!get(q, "contrast").empty()) r.contrast = target_of(q, "contrast", "", lim);
        const std::string v = get(q, "alpha");
        if (r.method == "finercam") r.alpha = lim.default_alpha;  // (other methods: 1, checked below)
        if (!v.empty()) {
            double x = 0;
            const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
            if (ec != std::errc() || end != v.data() + v.size())
                bad("parameter 'alpha' must be a number in [0, 100], got " + quoted(v));
            r.alpha = x;
        }
        CamSettings settings;  // alpha's range and method, and contrast's: the one check of every edge
        settings.method = r.method;
        settings.alpha = r.alpha;
        try {
            check_cam_settings(settings, r.contrast.has_value());
        } catch (const UsageError& e) {
            bad(std::string("parameter ") + e.what());
        }
        return r;
    }
    not_found("not found: " + path);
}

bool host_allowed(std::string_view header, const std::vector<std::string>& names) {
    if (header.empty()) return true;  // HTTP/1.0 without Host: no browser sends that
    std::string_view host = header, port;
    if (header.front() == '[') {  // [IPv6]:port
        const size_t close = header.find(']');
        if (close == std::string_view::npos) return false;
        host = header.substr(1, close - 1);
        const std::string_view after = header.substr(close + 1);
        if (!after.empty() && after.front() != ':') return false;
        port = after.empty() ? after : after.substr(1);
        if (!after.empty() && port.empty()) return false;
        in6_addr a6{};
        if (host.size() > 45 || inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) return false;
    } else {
        const size_t colon = header.find(':');
        if (colon != std::string_view::npos) {
            host = header.substr(0, colon);
            port = header.substr(colon + 1);
            if (port.empty()) return false;
        }
    }
    if (!port.empty()) {  // 1 to 5 digits, 1..65535 ("localhost:99999" and ":0" name no server)
        unsigned long long p = 0;
        bool overflow = false;
        if (port.size() > 5 || !parse_unsigned(port, p, overflow) || p < 1 || p > 65535) return false;
    }
    if (header.front() == '[') return true;  // an address literal: no name an attacker could rebind
    if (host.empty()) return false;
    in_addr a4{};
    if (host.size() <= 15 && inet_pton(AF_INET, std::string(host).c_str(), &a4) == 1) return true;
    const std::string name = to_lower(host);
    for (const auto& allowed : names)
        if (to_lower(allowed) == name) return true;
    return false;
}

bool perturbs_channels(std::string_view method) { return method == "scorecam" || method == "ablationcam"; }

bool is_json_content_type(std::string_view value) {
    const auto trim_sp = [](std::string_view v) {
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        return v;
    };
    const size_t semi = value.find(';');
    if (to_lower(trim_sp(value.substr(0, semi))) != "application/json") return false;
    if (semi == std::string_view::npos) return true;
    std::string_view rest = value.substr(semi + 1);
    if (rest.find(';') != std::string_view::npos) return false;  // one parameter at most
    rest = trim_sp(rest);
    const size_t eq = rest.find('=');
    if (eq == std::string_view::npos || to_lower(trim_sp(rest.substr(0, eq))) != "charset") return false;
    std::string_view v = trim_sp(rest.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return to_lower(v) == "utf-8";
}

std::pair<std::string, Query> split_target(std::string_view target) {
    const size_t qm = target.find('?');
    std::pair<std::string, Query> out;
    out.first = decode(target.substr(0, qm), false);
    if (qm == std::string_view::npos) return out;
    std::string_view rest = target.substr(qm + 1);
    while (true) {
        const size_t amp = rest.find('&');
        const std::string_view kv = rest.substr(0, amp);
        if (!kv.empty()) {
            const size_t eq = kv.find('=');
            std::string key = decode(kv.substr(0, eq), true);
            std::string value = eq == std::string_view::npos ? std::string() : decode(kv.substr(eq + 1), true);
            out.second.emplace(std::move(key), std::move(value));  // the first value of a repeated key
        }
        if (amp == std::string_view::npos) break;
        rest = rest.substr(amp + 1);
    }
    return out;
}

}  // namespace camscope::serve
