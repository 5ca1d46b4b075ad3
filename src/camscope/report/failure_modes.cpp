// Failure modes (failure_modes.hpp): per group of errors, k-means on the CAM features (faiss), k by
// the mean silhouette, then each mode's measured figures and its one-line description.
#include "camscope/report/failure_modes.hpp"

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <limits>
#include <map>

#include "camscope/report/analysis.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kMaxGrid = 8;     // features: CAMs pooled to at most 8×8
constexpr int kSeed = 1234;     // faiss k-means seed

/// faiss on one OpenMP thread and without BLAS for the duration of a call: its k-means then gives
/// the same centroids on any core count (the data are a few hundred points of <= 192 floats). The
/// BLAS threshold is a faiss global that only this file uses; it stays raised.
class Deterministic {
public:
    Deterministic() : threads_(omp_get_max_threads()) {
        omp_set_num_threads(1);
        faiss::distance_compute_blas_threshold = INT_MAX;
    }
    ~Deterministic() { omp_set_num_threads(threads_); }
    Deterministic(const Deterministic&) = delete;
    Deterministic& operator=(const Deterministic&) = delete;

private:
    int threads_;
};

/// Area-averaging weights of a 1-D shrink from n to m cells (m <= n): w[o*n + i] = the share of
/// input cell i inside output cell o, divided by the output cell's width.
std::vector<float> area_weights(int n, int m) {
    std::vector<float> w(static_cast<size_t>(m) * n, 0.f);
    const double scale = double(n) / double(m);
    for (int o = 0; o < m; ++o) {
        const double lo = o * scale, hi = (o + 1) * scale;
        for (int i = int(std::floor(lo)); i < n && i < hi; ++i) {
            const double overlap = std::min<double>(hi, i + 1) - std::max<double>(lo, i);
            if (overlap > 0) w[static_cast<size_t>(o) * n + i] = static_cast<float>(overlap / scale);
        }
    }
    return w;
}

struct Pool {
    int fh, fw, gh, gw;
    std::vector<float> wy, wx;
    Pool(int h, int w) : fh(h), fw(w), gh(std::min(h, kMaxGrid)), gw(std::min(w, kMaxGrid)) {
        wy = area_weights(fh, gh);
        wx = area_weights(fw, gw);
    }
    /// map (fh×fw) -> out (gh×gw).
    void operator()(const float* map, float* out) const {
        std::vector<float> rows(static_cast<size_t>(gh) * fw, 0.f);
        for (int o = 0; o < gh; ++o)
            for (int y = 0; y < fh; ++y)
                if (const float a = wy[static_cast<size_t>(o) * fh + y]; a != 0.f)
                    for (int x = 0; x < fw; ++x) rows[static_cast<size_t>(o) * fw + x] += a * map[y * fw + x];
        for (int o = 0; o < gh; ++o)
            for (int q = 0; q < gw; ++q) {
                float s = 0;
                for (int x = 0; x < fw; ++x) s += wx[static_cast<size_t>(q) * fw + x] * rows[static_cast<size_t>(o) * fw + x];
                out[o * gw + q] = s;
            }
    }
};

void unit_norm(float* v, size_t d, float scale) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) s += double(v[i]) * v[i];
    if (s <= 0) return;
    const float f = static_cast<float>(scale / std::sqrt(s));
    for (size_t i = 0; i < d; ++i) v[i] *= f;
}

/// One feature per row of `rows` (m×d, d = 3·gh·gw): pooled true-class CAM, predicted-class CAM and
/// their difference (pred − true), each scaled to norm 1/√3 (a blank block stays zero).
std::vector<float> features(const AnalysisInput& in, const Pool& pool, const std::vector<size_t>& rows) {
    const size_t g = static_cast<size_t>(pool.gh) * pool.gw, d = 3 * g, hw = static_cast<size_t>(in.fh) * in.fw;
    std::vector<float> x(rows.size() * d);
    const float third = static_cast<float>(1.0 / std::sqrt(3.0));
    for (size_t j = 0; j < rows.size(); ++j) {
        float* f = x.data() + j * d;
        pool(in.cam_true.data() + rows[j] * hw, f);
        pool(in.cam_pred.data() + rows[j] * hw, f + g);
        for (size_t i = 0; i < g; ++i) f[2 * g + i] = f[g + i] - f[i];
        for (int b = 0; b < 3; ++b) unit_norm(f + b * g, g, third);
    }
    return x;
}

/// k-means with faiss (fixed seed, 3 restarts, the best kept); returns each point's cluster and its
/// squared distance to the centroid.
void kmeans(const std::vector<float>& x, size_t m, size_t d, int k, std::vector<int>& assign, std::vector<float>& dist) {
    faiss::ClusteringParameters cp;
    cp.niter = 25;
    cp.nredo = 3;
    cp.seed = kSeed;
    cp.verbose = false;
    cp.min_points_per_centroid = 1;        // small groups are the point: no warning, no sampling
    cp.max_points_per_centroid = 1 << 30;
    faiss::Clustering clus(static_cast<int>(d), k, cp);
    faiss::IndexFlatL2 index(static_cast<faiss::Index::idx_t>(d));
    try {
        clus.train(static_cast<faiss::Index::idx_t>(m), x.data(), index);
        std::vector<faiss::Index::idx_t> labels(m);
        dist.assign(m, 0.f);
        index.search(static_cast<faiss::Index::idx_t>(m), x.data(), 1, dist.data(), labels.data());
        assign.assign(m, 0);
        for (size_t i = 0; i < m; ++i) assign[i] = static_cast<int>(labels[i]);
    } catch (const std::exception& e) {
        throw Error(format("failure modes: faiss k-means (k = %d on %zu errors): %s", k, m, e.what()));
    }
}

/// Mean silhouette (Rousseeuw 1987; Euclidean) of an assignment over the points `sample` (a point
/// alone in its cluster scores 0). NaN when fewer than two clusters are occupied.
double silhouette(const std::vector<float>& x, size_t d, const std::vector<int>& assign, int k,
                  const std::vector<size_t>& sample) {
    const size_t s = sample.size();
    std::vector<int> count(k, 0);
    for (size_t i : sample) ++count[assign[i]];
    if (std::count_if(count.begin(), count.end(), [](int c) { return c > 0; }) < 2) return kNaN;
    double total = 0;
    std::vector<double> sum(k);
    for (size_t a = 0; a < s; ++a) {
        std::fill(sum.begin(), sum.end(), 0.0);
        const size_t i = sample[a];
        for (size_t b = 0; b < s; ++b)
            if (b != a) sum[assign[sample[b]]] += std::sqrt(faiss::fvec_L2sqr(x.data() + i * d, x.data() + sample[b] * d, d));
        const int own = assign[i];
        if (count[own] <= 1) continue;  // s(i) = 0
        const double ai = sum[own] / (count[own] - 1);
        double bi = std::numeric_limits<double>::infinity();
        for (int c = 0; c < k; ++c)
            if (c != own && count[c] > 0) bi = std::min(bi, sum[c] / count[c]);
        const double den = std::max(ai, bi);
        total += den > 0 ? (bi - ai) / den : 0.0;
    }
    return total / double(s);
}

/// Share of a map at or above half its maximum (NaN for a map without positive values).
double evidence_area(const float* map, size_t hw) {
    const float mx = *std::max_element(map, map + hw);
    if (!(mx > 0)) return kNaN;
    size_t above = 0;
    for (size_t i = 0; i < hw; ++i) above += map[i] >= 0.5f * mx;
    return double(above) / double(hw);
}

double mean_area(const Report& r, const AnalysisInput& in, const std::vector<size_t>& rows) {
    const size_t hw = static_cast<size_t>(in.fh) * in.fw;
    double s = 0;
    long long n = 0;
    for (size_t i : rows) {
        if (r.rows[i].pred_cam_degenerate) continue;
        const double a = evidence_area(in.cam_pred.data() + i * hw, hw);
        if (std::isfinite(a)) s += a, ++n;
    }
    return n > 0 ? s / double(n) : kNaN;
}

std::string q(const Report& r, int c) { return "'" + r.class_names[c] + "'"; }

/// The one line: only measured figures, each against the class's correct images where there is one.
std::string describe(const Report& r, const FailureGroup& g, const FailureMode& m) {
    std::vector<std::string> parts;
    const long long n = static_cast<long long>(m.rows.size());
    if (g.kind == "class" && !m.goes_to.empty()) {
        std::string s = "goes to " + q(r, m.goes_to[0].first) + format(" (%lld of %lld)", m.goes_to[0].second, n);
        if (m.goes_to.size() > 1)
            s += ", " + q(r, m.goes_to[1].first) + format(" (%lld)", m.goes_to[1].second);
        parts.push_back(s);
    }
    const bool spread = std::isfinite(m.evidence_area) && m.evidence_area >= 0.5;
    std::string where = spread ? "looks all over the image" : "looks at the " + m.location;
    if (std::isfinite(m.centre_share)) {
        where += format(": centre share %.2f", m.centre_share);
        if (std::isfinite(g.reference_centre)) where += format(" vs %.2f on correct images", g.reference_centre);
    }
    parts.push_back(where);
    if (std::isfinite(m.evidence_area)) {
        const double ref = g.reference_area;
        std::string a = format("evidence area %.0f %% of the image", 100 * m.evidence_area);
        if (std::isfinite(ref)) {
            a += format(" vs %.0f %% on correct images", 100 * ref);
            if (m.evidence_area < 0.5 * ref) a = "small evidence: " + a;
            else if (m.evidence_area > 1.5 * ref) a = "spread-out evidence: " + a;
        }
        parts.push_back(a);
    }
    parts.push_back(format("confidence %.2f", m.mean_confidence));
    return join(parts, "; ");
}

/// Splits one group's errors into modes (appended to f.modes, ids set) and fills g.
void split_group(const Report& r, const AnalysisInput& in, const Pool& pool, FailureModes& f, FailureGroup& g,
                 const std::vector<size_t>& rows, int* mode_of_row) {
    const size_t m = rows.size(), d = 3 * static_cast<size_t>(pool.gh) * pool.gw;
    const std::vector<float> x = features(in, pool, rows);
    // An even sample of at most max_points errors scores the splits.
    std::vector<size_t> sample;
    const size_t s = std::min<size_t>(m, static_cast<size_t>(std::max<long long>(f.max_points, 2)));
    for (size_t j = 0; j < s; ++j) sample.push_back(j * m / s);
    std::vector<int> best_assign(m, 0);
    std::vector<float> best_dist;
    g.best_silhouette = kNaN;
    g.best_k = 0;
    for (int k = 2; k <= f.max_k && static_cast<size_t>(2 * k) <= m; ++k) {
        std::vector<int> assign;
        std::vector<float> dist;
        kmeans(x, m, d, k, assign, dist);
        const double sil = silhouette(x, d, assign, k, sample);
        if (std::isfinite(sil) && (!std::isfinite(g.best_silhouette) || sil > g.best_silhouette)) {
            g.best_silhouette = sil;
            g.best_k = k;
            if (sil >= f.min_silhouette) best_assign = assign, best_dist = dist;
        }
    }
    int k = 1;
    if (g.best_k > 0 && g.best_silhouette >= f.min_silhouette) {
        k = g.best_k;
    } else {  // one mode: typical = nearest to the mean
        std::vector<float> centre(d, 0.f);
        for (size_t j = 0; j < m; ++j)
            for (size_t t = 0; t < d; ++t) centre[t] += x[j * d + t] / float(m);
        best_dist.resize(m);
        for (size_t j = 0; j < m; ++j) best_dist[j] = faiss::fvec_L2sqr(x.data() + j * d, centre.data(), d);
        std::fill(best_assign.begin(), best_assign.end(), 0);
    }
    // Clusters by size (desc), ties by their first row.
    std::vector<std::vector<size_t>> members(k);  // indices into rows
    for (size_t j = 0; j < m; ++j) members[best_assign[j]].push_back(j);
    members.erase(std::remove_if(members.begin(), members.end(), [](const auto& v) { return v.empty(); }), members.end());
    std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    g.k = static_cast<int>(members.size());
    const size_t hw = static_cast<size_t>(in.fh) * in.fw;
    for (size_t c = 0; c < members.size(); ++c) {
        FailureMode md;
        md.id = static_cast<int>(f.modes.size());
        md.group = static_cast<int>(&g - f.groups.data());
        md.cluster = static_cast<int>(c);
        md.file = g.file;
        std::vector<size_t> by_dist = members[c];
        std::stable_sort(by_dist.begin(), by_dist.end(), [&](size_t a, size_t b) { return best_dist[a] < best_dist[b]; });
        for (size_t j = 0; j < by_dist.size() && static_cast<int>(j) < f.gallery; ++j)
            md.typical.push_back(rows[by_dist[j]]);
        for (size_t j : members[c]) md.rows.push_back(rows[j]);
        std::sort(md.rows.begin(), md.rows.end());
        md.share = double(md.rows.size()) / double(m);
        double conf = 0, centre = 0;
        std::vector<double> mean_map(hw, 0.0);
        long long maps = 0;
        std::map<int, long long> to;
        for (size_t i : md.rows) {
            conf += r.rows[i].confidence;
            if (std::isfinite(r.centre_share[i])) centre += r.centre_share[i], ++md.centre_n;
            ++to[r.rows[i].pred];
            if (!r.rows[i].pred_cam_degenerate) {
                const float* p = in.cam_pred.data() + i * hw;
                for (size_t t = 0; t < hw; ++t) mean_map[t] += p[t];
                ++maps;
            }
            if (mode_of_row) mode_of_row[i] = md.id;
        }
        md.mean_confidence = conf / double(md.rows.size());
        md.centre_share = md.centre_n > 0 ? centre / double(md.centre_n) : kNaN;
        md.evidence_area = mean_area(r, in, md.rows);
        // Where the evidence sits: the centre of mass of the mean map's evidence region (at or above
        // half its maximum; the low values elsewhere would pull any centre of mass to the middle).
        const double peak = *std::max_element(mean_map.begin(), mean_map.end());
        double mass = 0, my = 0, mx = 0;
        for (int y = 0; y < in.fh; ++y)
            for (int xx = 0; xx < in.fw; ++xx) {
                const double v = mean_map[static_cast<size_t>(y) * in.fw + xx];
                if (!(v >= 0.5 * peak)) continue;
                mass += v;
                my += v * (y + 0.5) / in.fh;
                mx += v * (xx + 0.5) / in.fw;
            }
        if (maps > 0 && mass > 0) md.com_y = my / mass, md.com_x = mx / mass;
        md.location = image_region(md.com_y, md.com_x);
        for (const auto& [cls, cnt] : to) md.goes_to.push_back({cls, cnt});
        std::stable_sort(md.goes_to.begin(), md.goes_to.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        md.description = describe(r, g, md);
        g.modes.push_back(md.id);
        f.modes.push_back(std::move(md));
    }
}

}  // namespace

std::string image_region(double y, double x) {
    const int row = y < 1.0 / 3 ? 0 : y < 2.0 / 3 ? 1 : 2, col = x < 1.0 / 3 ? 0 : x < 2.0 / 3 ? 1 : 2;
    static const char* const names[3][3] = {{"top-left corner", "top edge", "top-right corner"},
                                            {"left edge", "centre", "right edge"},
                                            {"bottom-left corner", "bottom edge", "bottom-right corner"}};
    return names[row][col];
}

std::string failure_modes_criterion(const FailureModes& f) {
    return format("k-means (faiss, seed %d, 3 restarts) on each error's true-class CAM, predicted-class CAM and their "
                  "difference (pooled to %d×%d, each scaled to unit norm), k = 2..%d chosen by the highest mean "
                  "silhouette (over at most %lld errors per group); one mode when no split reaches %.2f",
                  kSeed, f.grid_h, f.grid_w, f.max_k, f.max_points, f.min_silhouette);
}

FailureModes failure_modes(const Report& r, const AnalysisInput& in, const AnalysisParams& opt) {
    const auto t0 = std::chrono::steady_clock::now();
    if (opt.failure_max_k < 1) throw UsageError(format("failure modes: max k must be at least 1, got %d", opt.failure_max_k));
    FailureModes f;
    const Pool pool(in.fh, in.fw);
    f.min_errors = std::max(2, opt.failure_min_errors);
    f.max_k = opt.failure_max_k;
    f.top_pairs = std::max(0, opt.failure_top_pairs);
    f.gallery = std::max(1, opt.failure_gallery);
    f.min_silhouette = opt.failure_min_silhouette;
    f.max_points = std::max<long long>(opt.failure_max_points, 2);
    f.grid_h = pool.gh;
    f.grid_w = pool.gw;
    f.mode_of_row.assign(in.n, -1);

    const int k = in.num_classes;
    std::vector<std::vector<size_t>> errors(k), correct(k);
    for (size_t i = 0; i < in.n; ++i) (r.rows[i].pred == r.rows[i].label ? correct : errors)[r.rows[i].label].push_back(i);
    std::vector<double> ref_area(k, kNaN);
    auto reference_area = [&](int c) {
        if (std::isnan(ref_area[c])) ref_area[c] = mean_area(r, in, correct[c]);
        return ref_area[c];
    };
    // Classes with enough errors, most errors first (at most failure_max_classes), then the top pairs.
    std::vector<int> classes;
    for (int c = 0; c < k; ++c)
        if (static_cast<long long>(errors[c].size()) >= f.min_errors) classes.push_back(c);
    std::stable_sort(classes.begin(), classes.end(), [&](int a, int b) { return errors[a].size() > errors[b].size(); });
    if (opt.failure_max_classes > 0 && static_cast<int>(classes.size()) > opt.failure_max_classes)
        classes.resize(opt.failure_max_classes);
    for (int c : classes) {
        FailureGroup g;
        g.kind = "class";
        g.a = c;
        g.errors = static_cast<long long>(errors[c].size());
        g.file = "failure_modes/" + class_file_stem(c, r.class_names[c]) + ".png";
        f.groups.push_back(std::move(g));
    }
    std::vector<std::vector<size_t>> pair_rows;
    for (const auto& dp : r.directed) {
        if (static_cast<int>(pair_rows.size()) >= f.top_pairs) break;
        if (dp.count < f.min_errors) break;  // directed pairs are by count (desc)
        FailureGroup g;
        g.kind = "pair";
        g.a = dp.a;
        g.b = dp.b;
        g.errors = dp.count;
        g.file = format("failure_modes/pair_%d_%d_", dp.a, dp.b) + sanitize_filename(r.class_names[dp.a]) + "_" +
                 sanitize_filename(r.class_names[dp.b]) + ".png";
        std::vector<size_t> rows;
        for (size_t i : errors[dp.a])
            if (r.rows[i].pred == dp.b) rows.push_back(i);
        pair_rows.push_back(std::move(rows));
        f.groups.push_back(std::move(g));
    }
    Deterministic one_thread;
    size_t pair = 0;
    for (FailureGroup& g : f.groups) {
        g.reference_centre = r.focus_per_class.empty() ? kNaN : r.focus_per_class[g.a].centre_correct;
        g.reference_area = reference_area(g.a);
        if (g.kind == "class") split_group(r, in, pool, f, g, errors[g.a], f.mode_of_row.data());
        else split_group(r, in, pool, f, g, pair_rows[pair++], nullptr);
    }
    f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return f;
}

}  // namespace camscope
