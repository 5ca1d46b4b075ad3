// compare_stores (compare.hpp): two models on the same images, paired.
#include "camscope/report/compare.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "camscope/image/cam_view.hpp"
#include "camscope/image/image.hpp"
#include "camscope/render/plot.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/report/writers.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

using nlohmann::json;

double mcnemar_exact_p(long long b, long long c) {
    const long long n = b + c, k = std::min(b, c);
    if (n == 0) return 1.0;
    // P[X <= k] for X ~ Bin(n, 1/2), summed in log space (n may be large).
    double sum = 0;
    const double log_half_n = -static_cast<double>(n) * std::log(2.0);
    for (long long i = 0; i <= k; ++i)
        sum += std::exp(std::lgamma(double(n) + 1) - std::lgamma(double(i) + 1) - std::lgamma(double(n - i) + 1) +
                        log_half_n);
    return std::min(1.0, 2.0 * sum);
}

double mcnemar_chi2(long long b, long long c) {
    if (b + c == 0) return 0.0;
    const double d = std::max(0.0, std::fabs(double(b - c)) - 1.0);
    return d * d / double(b + c);
}

double chi2_1dof_p(double chi2) { return std::erfc(std::sqrt(std::max(0.0, chi2) / 2.0)); }

namespace {

int argmax(const float* p, int k) { return static_cast<int>(std::max_element(p, p + k) - p); }

double quantile(std::vector<double> v, double q) {
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(v.begin(), v.end());
    const double pos = q * double(v.size() - 1);
    const size_t i = static_cast<size_t>(std::floor(pos));
    const double f = pos - double(i);
    return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

}  // namespace

Comparison compare_stores(const Store& a, const Store& b, const CompareOptions& opt) {
    if (opt.bootstrap < kMinBootstrap)
        throw UsageError(format("--bootstrap %d: an interval needs at least %d resamples", opt.bootstrap, kMinBootstrap));
    const StoreManifest &ma = a.manifest, &mb = b.manifest;
    for (const Store* s : {&a, &b})
        if (s->manifest.begin != 0 || s->manifest.end != s->manifest.total)
            throw Error(where(s->path, format("holds images %zu..%zu of %zu (a shard): `camscope merge` the shards "
                                              "first and compare the merged report's store",
                                              s->manifest.begin, s->manifest.end ? s->manifest.end - 1 : 0,
                                              s->manifest.total)));
    std::vector<std::string> diff;
    const RunIdentity &ia = ma.identity, &ib = mb.identity;
    if (ia.data_fingerprint != ib.data_fingerprint || ia.data_images != ib.data_images || ia.split != ib.split)
        diff.push_back(format("dataset: %s (%s, %llu images, fingerprint %.12s…) vs %s (%s, %llu images, %.12s…)",
                              ia.data_path.c_str(), ia.split.c_str(), static_cast<unsigned long long>(ia.data_images),
                              ia.data_fingerprint.c_str(), ib.data_path.c_str(), ib.split.c_str(),
                              static_cast<unsigned long long>(ib.data_images), ib.data_fingerprint.c_str()));
    if (ma.total != mb.total) diff.push_back(format("images analysed: %zu vs %zu (--limit)", ma.total, mb.total));
    if (ma.class_names != mb.class_names) diff.push_back("class names differ (" + join(ma.class_names, ", ") + " vs " +
                                                         join(mb.class_names, ", ") + ")");
    if (!diff.empty()) {
        std::string msg = b.path + " and " + a.path + " are not of the same data; compare needs the same images:";
        for (const auto& d : diff) msg += "\n  " + d;
        throw Error(msg);
    }
    const AnalysisInput &ra = a.rows, &rb = b.rows;
    for (size_t i = 0; i < ra.n; ++i)
        if (ra.labels[i] != rb.labels[i])
            throw Error(format("%s and %s: image %d has label %d in one and %d in the other", a.path.c_str(),
                               b.path.c_str(), ra.indices[i], ra.labels[i], rb.labels[i]));
    Comparison c;
    c.path_a = a.path;
    c.path_b = b.path;
    c.id_a = ia;
    c.id_b = ib;
    c.class_names = ma.class_names;
    c.n = ra.n;
    c.bootstrap = opt.bootstrap;
    c.level = opt.level;
    const int k = ra.num_classes;
    const size_t n = ra.n;
    std::vector<int> pa(n), pb(n);
    std::vector<float> ca(n), cb(n);
    std::vector<std::uint8_t> oka(n), okb(n);
    for (size_t i = 0; i < n; ++i) {
        pa[i] = argmax(&ra.probs[i * k], k);
        pb[i] = argmax(&rb.probs[i * k], k);
        ca[i] = ra.probs[i * k + pa[i]];
        cb[i] = rb.probs[i * k + pb[i]];
        oka[i] = pa[i] == ra.labels[i];
        okb[i] = pb[i] == rb.labels[i];
    }
    auto accuracy = [](const std::vector<std::uint8_t>& ok) {
        double s = 0;
        for (auto v : ok) s += v;
        return ok.empty() ? 0.0 : s / double(ok.size());
    };
    c.acc_a = accuracy(oka);
    c.acc_b = accuracy(okb);
    c.ece_a = metrics::calibration(ca.data(), oka.data(), n, opt.ece_bins).ece;
    c.ece_b = metrics::calibration(cb.data(), okb.data(), n, opt.ece_bins).ece;
    c.acc_delta.estimate = c.acc_b - c.acc_a;
    c.ece_delta.estimate = c.ece_b - c.ece_a;
    // Paired bootstrap: the same resampled images for both models.
    if (opt.bootstrap > 0 && n > 0) {
        std::mt19937_64 rng(opt.seed);
        std::uniform_int_distribution<size_t> pick(0, n - 1);
        std::vector<double> d_acc, d_ece;
        std::vector<float> sa(n), sb(n);
        std::vector<std::uint8_t> ta(n), tb(n);
        for (int r = 0; r < opt.bootstrap; ++r) {
            for (size_t i = 0; i < n; ++i) {
                const size_t j = pick(rng);
                sa[i] = ca[j], sb[i] = cb[j], ta[i] = oka[j], tb[i] = okb[j];
            }
            d_acc.push_back(accuracy(tb) - accuracy(ta));
            d_ece.push_back(metrics::calibration(sb.data(), tb.data(), n, opt.ece_bins).ece -
                            metrics::calibration(sa.data(), ta.data(), n, opt.ece_bins).ece);
        }
        const double lo = (1 - opt.level) / 2, hi = 1 - lo;
        c.acc_delta.lo = quantile(d_acc, lo), c.acc_delta.hi = quantile(d_acc, hi);
        c.ece_delta.lo = quantile(d_ece, lo), c.ece_delta.hi = quantile(d_ece, hi);
    } else {
        c.acc_delta.lo = c.acc_delta.hi = c.acc_delta.estimate;
        c.ece_delta.lo = c.ece_delta.hi = c.ece_delta.estimate;
    }
    c.per_class.resize(k);
    for (int cls = 0; cls < k; ++cls) c.per_class[cls].cls = cls;
    std::map<std::pair<int, int>, PairComparison> pairs;
    auto pair = [&](int t, int p) -> PairComparison& {
        auto& pc = pairs[{t, p}];
        pc.a = t, pc.b = p;
        return pc;
    };
    for (size_t i = 0; i < n; ++i) {
        const int t = ra.labels[i];
        auto& cc = c.per_class[t];
        ++cc.support;
        cc.correct_a += oka[i];
        cc.correct_b += okb[i];
        if (oka[i] && okb[i]) ++c.both_right;
        if (!oka[i] && !okb[i]) ++c.both_wrong;
        if (!oka[i] && okb[i]) {
            ++c.fixed, ++cc.fixed, ++pair(t, pa[i]).fixed;
            if (c.fixed_images.size() < opt.max_listed) c.fixed_images.push_back(ra.indices[i]);
        }
        if (oka[i] && !okb[i]) {
            ++c.broken, ++cc.broken, ++pair(t, pb[i]).broken;
            if (c.broken_images.size() < opt.max_listed) c.broken_images.push_back(ra.indices[i]);
        }
        if (!oka[i]) ++pair(t, pa[i]).count_a;
        if (!okb[i]) ++pair(t, pb[i]).count_b;
    }
    c.rows.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const PairStatus st = oka[i] ? (okb[i] ? PairStatus::both_right : PairStatus::broken)
                                     : (okb[i] ? PairStatus::fixed : PairStatus::both_wrong);
        c.rows.push_back({i, ra.indices[i], ra.labels[i], pa[i], pb[i], ca[i], cb[i], st});
        if (oka[i] == okb[i]) continue;
        (okb[i] ? c.fixed_gallery : c.broken_gallery).push_back(c.rows.back());
    }
    for (auto* g : {&c.fixed_gallery, &c.broken_gallery}) {
        std::stable_sort(g->begin(), g->end(), [](const PairedRow& x, const PairedRow& y) { return x.conf_b > y.conf_b; });
        if (g->size() > opt.gallery_k) g->resize(opt.gallery_k);
    }
    c.mcnemar_p_exact = mcnemar_exact_p(c.broken, c.fixed);
    c.mcnemar_chi2 = mcnemar_chi2(c.broken, c.fixed);
    c.mcnemar_p_chi2 = chi2_1dof_p(c.mcnemar_chi2);
    for (auto& [key, pc] : pairs) c.pairs.push_back(pc);
    std::stable_sort(c.pairs.begin(), c.pairs.end(), [](const PairComparison& x, const PairComparison& y) {
        return std::llabs(x.count_b - x.count_a) > std::llabs(y.count_b - y.count_a);
    });
    // Where the attention moved: the true-class maps of both models at A's input size.
    const int h = ia.height, w = ia.width;
    const size_t hwa = size_t(ra.fh) * ra.fw, hwb = size_t(rb.fh) * rb.fw;
    std::vector<double> iou_sum(k, 0.0);
    for (size_t i = 0; i < n; ++i) {
        const float* ma_ = &ra.cam_true[i * hwa];
        const float* mb_ = &rb.cam_true[i * hwb];
        if (metrics::degenerate_cam(ma_, hwa) || metrics::degenerate_cam(mb_, hwb)) continue;
        const auto ua = cam_to_input_size(ma_, ra.fh, ra.fw, h, w);
        const auto ub = cam_to_input_size(mb_, rb.fh, rb.fw, h, w);
        const double v = metrics::top_region_iou(ua.data(), ub.data(), h, w, 0.2);
        if (std::isnan(v)) continue;
        iou_sum[ra.labels[i]] += v;
        ++c.per_class[ra.labels[i]].cam_n;
    }
    for (int cls = 0; cls < k; ++cls)
        c.per_class[cls].cam_iou = c.per_class[cls].cam_n > 0 ? iou_sum[cls] / double(c.per_class[cls].cam_n)
                                                              : std::numeric_limits<double>::quiet_NaN();
    return c;
}

namespace {

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json model_json(const std::string& path, const RunIdentity& id) {
    return {{"store", path},
            {"model", id.model_path},
            {"model_sha256", id.model_sha256},
            {"method", id.cam.method},
            {"layer", layers_text(id.cam)}};
}

}  // namespace

std::string compare_json(const Comparison& c, bool galleries) {
    json classes = json::array(), pairs = json::array();
    for (const auto& pc : c.per_class)
        classes.push_back({{"class", pc.cls},
                           {"name", c.class_names[pc.cls]},
                           {"support", pc.support},
                           {"correct_a", pc.correct_a},
                           {"correct_b", pc.correct_b},
                           {"fixed", pc.fixed},
                           {"broken", pc.broken},
                           {"cam_iou", num(pc.cam_iou)},
                           {"cam_n", pc.cam_n}});
    for (const auto& p : c.pairs)
        pairs.push_back({{"true", p.a},
                         {"pred", p.b},
                         {"true_name", c.class_names[p.a]},
                         {"pred_name", c.class_names[p.b]},
                         {"count_a", p.count_a},
                         {"count_b", p.count_b},
                         {"fixed", p.fixed},
                         {"broken", p.broken}});
    json j = {{"generator", "camscope"},
              {"schema_version", 1},
              {"a", model_json(c.path_a, c.id_a)},
              {"b", model_json(c.path_b, c.id_b)},
              {"dataset", {{"path", c.id_a.data_path}, {"fingerprint", c.id_a.data_fingerprint}, {"images", c.n}}},
              {"accuracy", {{"a", c.acc_a}, {"b", c.acc_b}, {"delta", c.acc_delta.estimate},
                            {"ci", {c.acc_delta.lo, c.acc_delta.hi}}}},
              {"ece", {{"a", c.ece_a}, {"b", c.ece_b}, {"delta", c.ece_delta.estimate},
                       {"ci", {c.ece_delta.lo, c.ece_delta.hi}}}},
              {"bootstrap", {{"resamples", c.bootstrap}, {"level", c.level}, {"kind", "paired percentile"}}},
              {"paired",
               {{"both_right", c.both_right}, {"fixed", c.fixed}, {"broken", c.broken}, {"both_wrong", c.both_wrong}}},
              {"mcnemar",
               {{"b_broken", c.broken},
                {"c_fixed", c.fixed},
                {"p_exact", c.mcnemar_p_exact},
                {"chi2_corrected", c.mcnemar_chi2},
                {"p_chi2", c.mcnemar_p_chi2}}},
              {"per_class", classes},
              {"pairs", pairs},
              {"fixed_images", c.fixed_images},
              {"broken_images", c.broken_images}};
    if (galleries) {
        auto rows = [&](const std::vector<PairedRow>& g) {
            json out = json::array();
            for (const auto& r : g)
                out.push_back({{"index", r.index}, {"label", r.label}, {"pred_a", r.pred_a}, {"conf_a", r.conf_a},
                               {"pred_b", r.pred_b}, {"conf_b", r.conf_b}});
            return out;
        };
        j["galleries"] = {{"fixed", {{"file", "fixed.png"}, {"images", rows(c.fixed_gallery)}}},
                          {"broken", {{"file", "broken.png"}, {"images", rows(c.broken_gallery)}}}};
    }
    return j.dump(1) + "\n";
}

std::string compare_html(const Comparison& c, bool galleries) {
    using report_detail::html_escape;
    auto pct = [](double v) { return format("%.2f %%", 100 * v); };
    auto signed_pct = [](double v) { return format("%+.2f pp", 100 * v); };
    std::string h;
    h += "<!doctype html><html><head><meta charset=\"utf-8\"><title>camscope compare</title><style>"
         "body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f0f0f0}"
         "td.l,th.l{text-align:left}.pos{color:#176117}.neg{color:#a11}</style></head><body>";
    h += "<h1>What B fixed and what it broke</h1>";
    h += "<p>A: <code>" + html_escape(c.id_a.model_path) + "</code> (" + html_escape(c.id_a.cam.method) + " at " +
         html_escape(layers_text(c.id_a.cam)) + ", store <code>" + html_escape(c.path_a) + "</code>)<br>B: <code>" +
         html_escape(c.id_b.model_path) + "</code> (" + html_escape(c.id_b.cam.method) + " at " +
         html_escape(layers_text(c.id_b.cam)) + ", store <code>" + html_escape(c.path_b) + "</code>)<br>the same " +
         std::to_string(c.n) + " images of <code>" + html_escape(c.id_a.data_path) + "</code></p>";
    h += "<table><tr><th class=l></th><th>A</th><th>B</th><th>B − A</th><th>" + format("%.0f", 100 * c.level) +
         " % interval (paired bootstrap, " + std::to_string(c.bootstrap) + " resamples)</th></tr>";
    h += "<tr><td class=l>top-1 accuracy</td><td>" + pct(c.acc_a) + "</td><td>" + pct(c.acc_b) + "</td><td>" +
         signed_pct(c.acc_delta.estimate) + "</td><td>" + signed_pct(c.acc_delta.lo) + " … " +
         signed_pct(c.acc_delta.hi) + "</td></tr>";
    h += "<tr><td class=l>ECE</td><td>" + pct(c.ece_a) + "</td><td>" + pct(c.ece_b) + "</td><td>" +
         signed_pct(c.ece_delta.estimate) + "</td><td>" + signed_pct(c.ece_delta.lo) + " … " +
         signed_pct(c.ece_delta.hi) + "</td></tr></table>";
    h += format("<p>Paired predictions: %lld right in both, <b class=pos>%lld fixed</b> (A wrong, B right), "
                "<b class=neg>%lld broken</b> (A right, B wrong), %lld wrong in both. McNemar's test: exact "
                "two-sided p = %.4g (χ² with continuity correction %.3f, p = %.4g).</p>",
                c.both_right, c.fixed, c.broken, c.both_wrong, c.mcnemar_p_exact, c.mcnemar_chi2, c.mcnemar_p_chi2);
    h += "<h2>Per class</h2><table><tr><th class=l>class</th><th>images</th><th>A right</th><th>B right</th>"
         "<th>fixed</th><th>broken</th><th>true-class CAM IoU A/B (N)</th></tr>";
    for (const auto& pc : c.per_class)
        h += "<tr><td class=l>" + html_escape(c.class_names[pc.cls]) + "</td><td>" + std::to_string(pc.support) +
             "</td><td>" + std::to_string(pc.correct_a) + "</td><td>" + std::to_string(pc.correct_b) +
             "</td><td class=pos>" + std::to_string(pc.fixed) + "</td><td class=neg>" + std::to_string(pc.broken) +
             "</td><td>" + (std::isfinite(pc.cam_iou) ? format("%.3f", pc.cam_iou) : std::string("–")) + " (" +
             std::to_string(pc.cam_n) + ")</td></tr>";
    h += "</table><h2>Confused pairs (true → predicted), by change</h2><table><tr><th class=l>pair</th><th>A</th>"
         "<th>B</th><th>fixed</th><th>newly broken</th></tr>";
    for (const auto& p : c.pairs)
        h += "<tr><td class=l>" + html_escape(c.class_names[p.a]) + " → " + html_escape(c.class_names[p.b]) +
             "</td><td>" + std::to_string(p.count_a) + "</td><td>" + std::to_string(p.count_b) + "</td><td class=pos>" +
             std::to_string(p.fixed) + "</td><td class=neg>" + std::to_string(p.broken) + "</td></tr>";
    h += "</table>";
    if (galleries)
        h += "<h2>Fixed</h2><p>A wrong, B right: the image, A's CAM of its prediction, B's CAM of its prediction.</p>"
             "<img src=\"fixed.png\" alt=\"fixed images\"><h2>Broken</h2><p>A right, B wrong.</p>"
             "<img src=\"broken.png\" alt=\"broken images\">";
    h += "<p>Images fixed: " + join([&] {
        std::vector<std::string> v;
        for (int i : c.fixed_images) v.push_back(std::to_string(i));
        return v;
    }(), ", ") + "</p><p>Images broken: " + join([&] {
        std::vector<std::string> v;
        for (int i : c.broken_images) v.push_back(std::to_string(i));
        return v;
    }(), ", ") + "</p></body></html>\n";
    return h;
}

namespace {

/// One model's CAM of its prediction for a gallery row, at the dataset image's size: the overlay,
/// or the hatched stand-in where the map has no positive evidence (blank = true).
Image prediction_overlay(const Store& s, const Image& img, std::size_t row, bool& blank) {
    const AnalysisInput& in = s.rows;
    const size_t hw = size_t(in.fh) * in.fw;
    const auto m = cam_to_input_size(in.cam_pred.data() + row * hw, in.fh, in.fw, in.input_h, in.input_w);
    CamView v = view_cam(img, m.data(), in.input_h, in.input_w);
    blank = v.blank;
    return std::move(v.image);
}

}  // namespace

std::vector<std::uint8_t> compare_gallery_png(const Comparison& c, const Store& a, const Store& b, bool fixed,
                                              const std::function<Image(int index)>& image) {
    const auto& g = fixed ? c.fixed_gallery : c.broken_gallery;
    plot::GridPlot p;
    p.title = format("%s: %lld images %s; %zu shown", fixed ? "Fixed by B" : "Broken by B",
                     fixed ? c.fixed : c.broken, fixed ? "A got wrong and B right" : "A got right and B wrong",
                     g.size());
    p.col_headers = {"image, true class", "A, its prediction", "B, its prediction"};
    long long blank = 0;
    auto cam = [&](const Store& s, const Image& img, size_t row, const char* who, int pred, float conf, bool right) {
        plot::Tile t;
        t.caption = {format("%s: %s (%.2f)", who, c.class_names[pred].c_str(), conf)};
        t.caption_rgb = right ? 0x007000 : 0xC00000;
        bool none = false;
        t.image = prediction_overlay(s, img, row, none);
        if (none) {
            t.stamp = "no positive evidence";
            ++blank;
        }
        return t;
    };
    for (const auto& r : g) {
        Image img = image ? image(r.index) : Image{};
        plot::Tile first;
        first.image = img;
        first.caption = {format("#%d %s", r.index, c.class_names[r.label].c_str())};
        p.rows.push_back({first, cam(a, img, r.row, "A", r.pred_a, r.conf_a, r.pred_a == r.label),
                          cam(b, img, r.row, "B", r.pred_b, r.conf_b, r.pred_b == r.label)});
    }
    if (g.empty()) p.footer = "none";
    if (blank > 0)
        p.footer = format("%lld of the CAMs shown have no positive evidence: hatched and stamped, not drawn as maps.", blank);
    return plot::render_grid(p);
}

const char* status_name(PairStatus s) {
    switch (s) {
        case PairStatus::both_right: return "both-right";
        case PairStatus::fixed: return "fixed";
        case PairStatus::broken: return "broken";
        case PairStatus::both_wrong: return "both-wrong";
    }
    return "?";
}

std::vector<CompareFile> compare_explorer_files(const Comparison& c, const Store& a, const Store& b,
                                                const std::function<Image(int index)>& image) {
    std::vector<CompareFile> files;
    auto text = [](const std::string& s) { return std::vector<std::uint8_t>(s.begin(), s.end()); };
    // Every embedded file of the page (CMakeLists.txt lists them), the page itself as index.html.
    bool page = false;
    for (const auto& w : compare_web_assets()) {
        page = page || w.name == "compare.html";
        files.push_back({w.name == "compare.html" ? std::string("index.html") : std::string(w.name),
                         std::vector<std::uint8_t>(w.bytes.begin(), w.bytes.end())});
    }
    if (!page) throw Error("compare explorer: web asset compare.html is not embedded");
    // The pictures of the galleries' images: the image and each model's CAM of its prediction.
    std::map<int, json> pictures;
    if (image) {
        for (const auto* g : {&c.fixed_gallery, &c.broken_gallery})
            for (const auto& r : *g) {
                const Image img = image(r.index);
                bool blank_a = false, blank_b = false;
                const std::string stem = "img/" + std::to_string(r.index);
                files.push_back({stem + ".png", encode_png(img)});
                files.push_back({stem + "_a.png", encode_png(prediction_overlay(a, img, r.row, blank_a))});
                files.push_back({stem + "_b.png", encode_png(prediction_overlay(b, img, r.row, blank_b))});
                pictures[r.index] = {{"image", stem + ".png"},
                                     {"a", stem + "_a.png"},
                                     {"b", stem + "_b.png"},
                                     {"blank_a", blank_a},
                                     {"blank_b", blank_b}};
            }
    }
    auto model = [](const std::string& path, const RunIdentity& id, double acc) {
        return json{{"store", path}, {"model", id.model_path}, {"model_sha256", id.model_sha256},
                    {"method", id.cam.method}, {"layer", layers_text(id.cam)},   {"accuracy", acc}};
    };
    json rows = json::array();
    for (const auto& r : c.rows) {
        json row = {{"index", r.index},   {"label", r.label},   {"pred_a", r.pred_a}, {"pred_b", r.pred_b},
                    {"conf_a", r.conf_a}, {"conf_b", r.conf_b}, {"status", status_name(r.status)}};
        if (auto it = pictures.find(r.index); it != pictures.end()) row["pictures"] = it->second;
        rows.push_back(std::move(row));
    }
    const json data = {{"schema_version", 1},
                       {"a", model(c.path_a, c.id_a, c.acc_a)},
                       {"b", model(c.path_b, c.id_b, c.acc_b)},
                       {"dataset", {{"path", c.id_a.data_path}, {"images", c.n}}},
                       {"classes", c.class_names},
                       {"paired",
                        {{"both_right", c.both_right}, {"fixed", c.fixed}, {"broken", c.broken}, {"both_wrong", c.both_wrong}}},
                       {"rows", rows}};
    files.push_back({"data.js", text("window.CAMSCOPE_COMPARE = " + data.dump() + ";\n")});
    return files;
}

}  // namespace camscope
