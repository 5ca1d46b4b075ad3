// Activation layouts (layout.hpp): the inference rule and the --layout/--grid flags. Torch-free.
#include "camscope/engine/layout.hpp"

#include <algorithm>
#include <charconv>

#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

namespace {

constexpr int kMaxPrefix = 32;

std::string dims(const std::vector<int64_t>& shape) {
    std::string s;
    for (auto d : shape) {
        if (!s.empty()) s += 'x';
        s += std::to_string(d);
    }
    return "[" + s + "]";
}

std::string hw(int64_t h, int64_t w) { return std::to_string(h) + "x" + std::to_string(w); }

bool parse_int(const std::string& s, int64_t& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

/// Spatial axes h×w plausible for an in_h×in_w input: some downsampling factor f > 0 maps the input
/// to them up to rounding (|in_h/f − h| < 1 and |in_w/f − w| < 1), i.e. the intervals of f overlap.
bool proportional(int64_t h, int64_t w, int64_t in_h, int64_t in_w) {
    if (h < 1 || w < 1 || in_h < 1 || in_w < 1) return false;
    auto lo = [](int64_t in, int64_t n) { return double(in) / double(n + 1); };
    auto hi = [](int64_t in, int64_t n) { return n <= 1 ? 1e300 : double(in) / double(n - 1); };
    return std::max(lo(in_h, h), lo(in_w, w)) < std::min(hi(in_h, h), hi(in_w, w));
}

const char* kForce = "force it with --layout nchw|nhwc|ncl|tokens[:PREFIX] (and --grid HxW)";

Layout none(std::string why) {
    Layout l;
    l.evidence = std::move(why);
    return l;
}

Layout spatial(LayoutKind k, const std::vector<int64_t>& s, std::string why) {
    Layout l;
    l.kind = k;
    l.channels = k == LayoutKind::nchw ? s[1] : s[3];
    l.h = k == LayoutKind::nchw ? s[2] : s[1];
    l.w = k == LayoutKind::nchw ? s[3] : s[2];
    l.evidence = std::move(why);
    return l;
}

Layout infer_4d(const std::vector<int64_t>& s, int64_t in_h, int64_t in_w, const std::string& hint,
                const LayoutOverride& forced) {
    if (forced.kind == LayoutKind::nchw || forced.kind == LayoutKind::nhwc) {
        auto l = spatial(forced.kind, s, "forced by --layout " + layout_kind_name(forced.kind));
        if (forced.grid_h && (forced.grid_h != l.h || forced.grid_w != l.w))
            return none("--grid " + hw(forced.grid_h, forced.grid_w) + " does not match the " +
                        layout_kind_name(forced.kind) + " reading of " + dims(s) + " (" + hw(l.h, l.w) + ")");
        return l;
    }
    if (forced.kind == LayoutKind::tokens)
        return none("--layout tokens needs an N×T×C output, this one is 4-D " + dims(s));
    if (forced.kind == LayoutKind::ncl)
        return none("--layout ncl needs an N×C×L output, this one is 4-D " + dims(s));
    const bool cf = proportional(s[2], s[3], in_h, in_w), cl = proportional(s[1], s[2], in_h, in_w);
    const std::string op = hint.substr(hint.find(':') + 1);
    // The graph's evidence first: the op that made the value fixes where its channels are.
    if (starts_with(hint, "nchw:") || starts_with(hint, "last:")) {
        const bool first = starts_with(hint, "nchw:");
        auto l = spatial(first ? LayoutKind::nchw : LayoutKind::nhwc, s,
                         std::string(first ? "channels first" : "channels last") + ": made by " + op);
        if (forced.grid_h && (forced.grid_h != l.h || forced.grid_w != l.w))
            return none("--grid " + hw(forced.grid_h, forced.grid_w) + " does not match " + dims(s) + " read as " +
                        describe(l) + " (" + l.evidence + ")");
        return l;
    }
    if (forced.grid_h) {  // --grid alone picks the reading whose spatial axes it names
        const bool gf = s[2] == forced.grid_h && s[3] == forced.grid_w, gl = s[1] == forced.grid_h && s[2] == forced.grid_w;
        if (gf != gl) return spatial(gf ? LayoutKind::nchw : LayoutKind::nhwc, s, "--grid " + hw(forced.grid_h, forced.grid_w));
        return none("--grid " + hw(forced.grid_h, forced.grid_w) + " does not tell the reading of " + dims(s) + "; " + kForce);
    }
    const std::string input = hw(in_h, in_w);
    if (cf && !cl)
        return spatial(LayoutKind::nchw, s,
                       "channels first: only axes 2-3 (" + hw(s[2], s[3]) + ") are proportional to the input " + input);
    if (cl && !cf)
        return spatial(LayoutKind::nhwc, s,
                       "channels last: only axes 1-2 (" + hw(s[1], s[2]) + ") are proportional to the input " + input);
    return none(std::string("4-D ") + dims(s) + ": " +
                (cf ? "both axes 2-3 and axes 1-2 could be the spatial ones"
                    : "neither axes 2-3 nor axes 1-2 are proportional to the input " + input) +
                ", and the graph gives no evidence (no convolution, norm, linear or permute made it); " + kForce);
}

/// --grid for a tokens or ncl reading: h·w must be what the output holds.
std::string grid_text(const LayoutOverride& f) { return "--grid " + hw(f.grid_h, f.grid_w); }

Layout infer_tokens(const std::vector<int64_t>& s, int64_t in_h, int64_t in_w, const LayoutOverride& forced,
                    const std::string& token_suffix) {
    const int64_t t = s[1];
    Layout l;
    l.kind = LayoutKind::tokens;
    l.channels = s[2];
    // The extra (class, distillation, register) tokens: before the grid, or after it where the graph
    // shows the model appending them (a forced tokens:PREFIX says they come first).
    const bool suffix = !token_suffix.empty() && forced.prefix < 0;
    const std::string extra_name = suffix ? "suffix" : "prefix";
    auto place = [&](int64_t extra) {
        (suffix ? l.suffix : l.prefix) = static_cast<int>(extra);
    };
    const std::string after = suffix ? " (the model appends its extra tokens after the grid: " + token_suffix + ")" : "";
    if (forced.kind == LayoutKind::nchw || forced.kind == LayoutKind::nhwc)
        return none("--layout " + layout_kind_name(forced.kind) + " needs a 4-D output, this one is " + dims(s) +
                    " (an N×C×L output reads with --layout ncl)");
    if (forced.grid_h) {
        const int64_t grid = forced.grid_h * forced.grid_w;
        const int64_t extra = forced.prefix >= 0 ? forced.prefix : t - grid;
        if (extra < 0 || extra + grid != t)
            return none(dims(s) + ": " + std::to_string(t) + " tokens cannot be " +
                        (forced.prefix >= 0 ? std::to_string(forced.prefix) : std::string("a ") + extra_name) + " + the " +
                        grid_text(forced));
        // The same sanity as the inferred splits: a grid of the input's shape, and fewer (at most
        // 32) extra tokens than grid tokens unless tokens:PREFIX forces the count too.
        if (!proportional(forced.grid_h, forced.grid_w, in_h, in_w))
            return none(grid_text(forced) + " does not have the aspect ratio of the input " + hw(in_h, in_w) +
                        ": a patch grid does (" + dims(s) + ")");
        if (forced.prefix < 0 && (extra >= grid || extra > kMaxPrefix))
            return none(grid_text(forced) + " leaves " + std::to_string(extra) + " of the " + std::to_string(t) +
                        " tokens of " + dims(s) + " as the " + extra_name + " (more than " +
                        (extra >= grid ? "the grid has" : std::to_string(kMaxPrefix)) +
                        "): not a class-token split; force the count with --layout tokens:PREFIX if it is one");
        place(extra);
        l.h = forced.grid_h;
        l.w = forced.grid_w;
        l.evidence = "tokens: " + std::to_string(t) + " = " + (suffix ? "" : std::to_string(extra) + " prefix + ") +
                     hw(l.h, l.w) + (suffix ? " + " + std::to_string(extra) + " suffix" : "") + " (--grid)" + after;
        return l;
    }
    struct Split {
        int64_t extra, h, w;
    };
    std::vector<Split> found;
    const int64_t lo = forced.prefix >= 0 ? forced.prefix : 0, top = forced.prefix >= 0 ? forced.prefix : kMaxPrefix;
    for (int64_t p = lo; p <= top && p < t; ++p) {
        const int64_t m = t - p;
        for (int64_t h = 1; h <= m; ++h) {
            if (m % h) continue;
            const int64_t w = m / h;
            // Same aspect ratio as the input, a whole patch size, and fewer extra than grid tokens
            // (unless forced).
            if (h * in_w != w * in_h || in_h % h || in_w % w) continue;
            if (forced.prefix < 0 && p >= m) continue;
            found.push_back({p, h, w});
        }
    }
    const std::string what = dims(s) + " read as N×T×C with T = " + (suffix ? "h·w + suffix" : "prefix + h·w") +
                             " for the input " + hw(in_h, in_w);
    if (found.empty())
        return none(what + ": no " + (forced.prefix >= 0 ? "grid after " + std::to_string(forced.prefix) + " prefix tokens"
                                                          : "split with at most " + std::to_string(kMaxPrefix) + " " +
                                                                extra_name + " tokens") +
                    " has the input's aspect ratio and a whole patch size; " + kForce);
    if (found.size() > 1) {
        std::vector<std::string> alts;
        for (const auto& f : found)
            alts.push_back(suffix ? hw(f.h, f.w) + " + " + std::to_string(f.extra) : std::to_string(f.extra) + " + " + hw(f.h, f.w));
        return none(what + ": several splits fit (" + join(alts, ", ") + "); " + kForce);
    }
    place(found[0].extra);
    l.h = found[0].h;
    l.w = found[0].w;
    const std::string e = std::to_string(found[0].extra);
    l.evidence = "tokens: " + std::to_string(t) + " = " + (suffix ? "" : e + " prefix + ") + hw(l.h, l.w) + " grid" +
                 (suffix ? " + " + e + " suffix" : "") + " (patch " + hw(in_h / l.h, in_w / l.w) + ")" +
                 (forced.prefix >= 0 ? ", prefix forced" : "") + after;
    return l;
}

/// N×C×L made by a channels-first op, or forced with --layout ncl: L read as an h×w grid.
Layout infer_ncl(const std::vector<int64_t>& s, int64_t in_h, int64_t in_w, const std::string& hint,
                 const LayoutOverride& forced) {
    const int64_t len = s[2];
    Layout l;
    l.kind = LayoutKind::ncl;
    l.channels = s[1];
    const std::string op = hint.substr(hint.find(':') + 1);
    const std::string why = forced.kind == LayoutKind::ncl ? "forced by --layout ncl" : "channels first: made by " + op;
    if (forced.grid_h) {
        if (forced.grid_h * forced.grid_w != len)
            return none(grid_text(forced) + " does not hold the " + std::to_string(len) + " positions of " + dims(s) +
                        " read as N×C×L (" + why + "): h·w must be " + std::to_string(len));
        l.h = forced.grid_h;
        l.w = forced.grid_w;
        l.evidence = why + ", L = " + std::to_string(len) + " read as " + hw(l.h, l.w) + " (--grid)";
        return l;
    }
    if (forced.kind == LayoutKind::ncl) {
        l.h = 1;
        l.w = len;
        l.evidence = why + ", L = " + std::to_string(len) + " read as 1x" + std::to_string(len) +
                     " (along the width; --grid HxW for another reading)";
        return l;
    }
    std::vector<std::pair<int64_t, int64_t>> found;
    if (in_w % len == 0) found.push_back({1, len});
    if (in_h % len == 0 && len > 1) found.push_back({len, 1});
    for (int64_t h = 2; h < len; ++h) {
        if (len % h) continue;
        const int64_t w = len / h;
        if (w > 1 && h * in_w == w * in_h && in_h % h == 0 && in_w % w == 0) found.push_back({h, w});
    }
    const std::string what = dims(s) + " read as N×C×L (" + why + ") for the input " + hw(in_h, in_w);
    if (found.size() != 1) {
        std::vector<std::string> alts;
        for (const auto& f : found) alts.push_back(hw(f.first, f.second));
        return none(what + ": " +
                    (found.empty() ? "L = " + std::to_string(len) +
                                         " is neither a whole fraction of the width or height nor a grid of the "
                                         "input's aspect ratio"
                                   : "L = " + std::to_string(len) + " fits several grids (" + join(alts, ", ") + ")") +
                    "; force it with --layout ncl --grid HxW (1xL: along the width)");
    }
    l.h = found[0].first;
    l.w = found[0].second;
    l.evidence = why + ", L = " + std::to_string(len) + " read as " + hw(l.h, l.w) +
                 (l.h == 1 ? " (along the width)" : l.w == 1 ? " (along the height)" : " (a row-major grid)");
    return l;
}

}  // namespace

LayoutOverride parse_layout_override(const std::string& layout, const std::string& grid) {
    LayoutOverride o;
    if (layout == "nchw") o.kind = LayoutKind::nchw;
    else if (layout == "nhwc") o.kind = LayoutKind::nhwc;
    else if (layout == "ncl") o.kind = LayoutKind::ncl;
    else if (layout == "tokens") o.kind = LayoutKind::tokens;
    else if (starts_with(layout, "tokens:")) {
        int64_t p = 0;
        if (!parse_int(layout.substr(7), p) || p < 0 || p > 100000)
            throw UsageError("--layout " + layout + ": the prefix after 'tokens:' must be a whole number >= 0");
        o.kind = LayoutKind::tokens;
        o.prefix = static_cast<int>(p);
    } else if (!layout.empty()) {
        throw UsageError("--layout '" + layout + "': expected nchw, nhwc, ncl, tokens or tokens:PREFIX");
    }
    if (!grid.empty()) {
        const auto x = grid.find('x');
        int64_t h = 0, w = 0;
        if (x == std::string::npos || !parse_int(grid.substr(0, x), h) || !parse_int(grid.substr(x + 1), w) || h < 1 ||
            w < 1 || h > 100000 || w > 100000)
            throw UsageError("--grid '" + grid + "': expected HxW with whole numbers >= 1, e.g. 14x14");
        o.grid_h = h;
        o.grid_w = w;
    }
    return o;
}

Layout infer_layout(const std::vector<int64_t>& shape, int64_t in_h, int64_t in_w, const std::string& hint,
                    const LayoutOverride& forced, const std::string& token_suffix) {
    if (shape.empty()) return none("not a tensor");
    if (shape.size() == 4) return infer_4d(shape, in_h, in_w, hint, forced);
    if (shape.size() == 3) {
        // The graph's evidence decides between tokens (N×T×C) and a channels-first sequence
        // (N×C×L), unless the reading is forced.
        if (forced.kind == LayoutKind::ncl || (forced.kind == LayoutKind::none && starts_with(hint, "nchw:")))
            return infer_ncl(shape, in_h, in_w, hint, forced);
        return infer_tokens(shape, in_h, in_w, forced, token_suffix);
    }
    return none(std::to_string(shape.size()) + "-D: no spatial axes");
}

std::string layout_kind_name(LayoutKind k) {
    switch (k) {
        case LayoutKind::nchw: return "nchw";
        case LayoutKind::nhwc: return "nhwc";
        case LayoutKind::tokens: return "tokens";
        case LayoutKind::ncl: return "ncl";
        default: return "-";
    }
}

std::string describe(const Layout& l) {
    if (l.kind == LayoutKind::none) return "-";
    if (l.kind == LayoutKind::tokens) {
        std::string s = "tokens " + std::to_string(l.prefix) + "+" + hw(l.h, l.w);
        if (l.suffix) {  // appended piece by piece: GCC 12 -Wstringop-overflow false positive
            s += '+';
            s += std::to_string(l.suffix);
        }
        return s;
    }
    return layout_kind_name(l.kind) + " " + hw(l.h, l.w);
}

}  // namespace camscope
