#include "camscope/faith/faithfulness.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::faith {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean_of(const std::vector<double>& v) {
    if (v.empty()) return kNaN;
    return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

void check_shape(Shape s) {
    if (s.c <= 0 || s.h <= 0 || s.w <= 0)
        throw UsageError(format("faithfulness: image shape %dx%dx%d must be positive (C×H×W)", s.c, s.h, s.w));
}

}  // namespace

// ------------------------------------------------------------------ parameters
void Params::validate() const {
    if (steps < 1) throw UsageError(format("faithfulness: --steps must be at least 1, got %d", steps));
    if (steps > 100000) throw UsageError(format("faithfulness: --steps %d is unreasonably large", steps));
    if (!(blur_sigma >= 0) || !std::isfinite(blur_sigma))
        throw UsageError(format("faithfulness: the blur sigma must be >= 0 (0 = automatic), got %g", blur_sigma));
    for (double p : road_percentiles)
        if (!(p >= 0 && p <= 100)) throw UsageError(format("faithfulness: ROAD percentile %g is outside [0, 100]", p));
    if (road && road_percentiles.empty()) throw UsageError("faithfulness: ROAD needs at least one percentile");
    if (!(road_noise >= 0) || !std::isfinite(road_noise))
        throw UsageError(format("faithfulness: the ROAD noise must be >= 0, got %g", road_noise));
}

double Params::sigma_for(int h, int w) const { return blur_sigma > 0 ? blur_sigma : std::max(h, w) / 16.0; }

std::size_t Params::rows_per_image() const {
    return 1 + (cam_mult ? 1 : 0) + (deletion ? steps : 0) + (insertion ? steps : 0) +
           (road ? 2 * road_percentiles.size() : 0);
}

// ------------------------------------------------------------------ building blocks
std::vector<int> rank_pixels(const float* cam, std::size_t n) {
    std::vector<int> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [cam](int a, int b) { return cam[a] > cam[b]; });
    return idx;
}

std::vector<std::size_t> step_counts(std::size_t n, int steps) {
    std::vector<std::size_t> out(static_cast<std::size_t>(steps) + 1);
    const std::size_t s = static_cast<std::size_t>(steps);
    for (std::size_t k = 0; k <= s; ++k) out[k] = (2 * k * n + s) / (2 * s);  // round(k·n/S), halves up
    return out;
}

double trapezoid_auc(const std::vector<double>& curve) {
    if (curve.size() < 2) return 0;
    double sum = 0;
    for (std::size_t k = 0; k + 1 < curve.size(); ++k) sum += (curve[k] + curve[k + 1]) / 2;
    return sum / static_cast<double>(curve.size() - 1);
}

std::vector<float> gaussian_blur(const float* x, Shape s, double sigma) {
    check_shape(s);
    std::vector<float> out(x, x + s.size());
    if (!(sigma > 0)) return out;
    const int r = static_cast<int>(std::ceil(3 * sigma));
    std::vector<double> k(2 * r + 1);
    double total = 0;
    for (int d = -r; d <= r; ++d) total += k[d + r] = std::exp(-d * d / (2 * sigma * sigma));
    for (auto& v : k) v /= total;
    std::vector<double> tmp(s.pixels());
    for (int c = 0; c < s.c; ++c) {
        float* ch = out.data() + static_cast<std::size_t>(c) * s.pixels();
        for (int y = 0; y < s.h; ++y)  // horizontal pass
            for (int xx = 0; xx < s.w; ++xx) {
                double acc = 0;
                for (int d = -r; d <= r; ++d) acc += k[d + r] * ch[y * s.w + std::clamp(xx + d, 0, s.w - 1)];
                tmp[static_cast<std::size_t>(y) * s.w + xx] = acc;
            }
        for (int y = 0; y < s.h; ++y)  // vertical pass
            for (int xx = 0; xx < s.w; ++xx) {
                double acc = 0;
                for (int d = -r; d <= r; ++d) acc += k[d + r] * tmp[std::clamp(y + d, 0, s.h - 1) * s.w + xx];
                ch[static_cast<std::size_t>(y) * s.w + xx] = static_cast<float>(acc);
            }
    }
    return out;
}

namespace {

void multiply_into(const SparseMatrix& a, const double* v, double* out) {
    for (int r = 0; r < a.n; ++r) {
        double acc = 0;
        for (int j = a.row_ptr[r]; j < a.row_ptr[r + 1]; ++j) acc += a.val[j] * v[a.col[j]];
        out[r] = acc;
    }
}

}  // namespace

std::vector<double> SparseMatrix::multiply(const std::vector<double>& v) const {
    std::vector<double> out(n, 0.0);
    multiply_into(*this, v.data(), out.data());
    return out;
}

double SparseMatrix::at(int r, int c) const {
    for (int j = row_ptr[r]; j < row_ptr[r + 1]; ++j)
        if (col[j] == c) return val[j];
    return 0;
}

CgResult cg_solve(const SparseMatrix& a, const std::vector<double>& b, std::vector<double>& x, double rel_tol,
                  int max_iter) {
    const int n = a.n;
    if (static_cast<int>(b.size()) != n)
        throw UsageError(format("cg_solve: b has %zu entries, the matrix is %dx%d", b.size(), n, n));
    if (static_cast<int>(a.row_ptr.size()) != n + 1) throw UsageError("cg_solve: row_ptr must have n+1 entries");
    x.resize(n, 0.0);
    if (max_iter <= 0) max_iter = 10 * n + 100;
    CgResult res;
    double bnorm = 0;
    for (double v : b) bnorm += v * v;
    bnorm = std::sqrt(bnorm);
    if (n == 0) return {0, 0, true};
    std::vector<double> inv_diag(n);
    for (int i = 0; i < n; ++i) {
        const double d = a.at(i, i);
        if (!(d > 0))
            throw Error(format("cg_solve: diagonal entry %d is %g; the matrix is not positive definite", i, d));
        inv_diag[i] = 1 / d;
    }
    std::vector<double> r = a.multiply(x);
    for (int i = 0; i < n; ++i) r[i] = b[i] - r[i];
    auto norm = [](const std::vector<double>& v) {
        double s = 0;
        for (double e : v) s += e * e;
        return std::sqrt(s);
    };
    if (bnorm == 0) {  // A x = 0 has the unique solution 0 for SPD A
        std::fill(x.begin(), x.end(), 0.0);
        return {0, 0, true};
    }
    std::vector<double> z(n), p(n), ap(n);
    for (int i = 0; i < n; ++i) p[i] = z[i] = inv_diag[i] * r[i];
    double rz = 0;
    for (int i = 0; i < n; ++i) rz += r[i] * z[i];
    double rnorm = norm(r);
    int it = 0;
    while (rnorm > rel_tol * bnorm && it < max_iter) {
        multiply_into(a, p.data(), ap.data());
        double pap = 0;
        for (int i = 0; i < n; ++i) pap += p[i] * ap[i];
        if (!(pap > 0)) throw Error("cg_solve: p·Ap <= 0; the matrix is not positive definite");
        const double alpha = rz / pap;
        double rz_new = 0, rr = 0;
        for (int i = 0; i < n; ++i) {
            x[i] += alpha * p[i];
            r[i] -= alpha * ap[i];
            z[i] = inv_diag[i] * r[i];
            rz_new += r[i] * z[i];
            rr += r[i] * r[i];
        }
        const double beta = rz_new / rz;
        rz = rz_new;
        for (int i = 0; i < n; ++i) p[i] = z[i] + beta * p[i];
        rnorm = std::sqrt(rr);
        ++it;
    }
    res.iterations = it;
    res.relative_residual = rnorm / bnorm;
    res.converged = rnorm <= rel_tol * bnorm;
    return res;
}

std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
    std::uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::vector<double> normal_noise(std::size_t n, std::uint64_t seed) {
    std::vector<double> out(n);
    std::uint64_t state = seed;
    auto next = [&state] {  // splitmix64
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    };
    for (std::size_t i = 0; i < n; i += 2) {
        const double u1 = (static_cast<double>(next() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
        const double u2 = static_cast<double>(next() >> 11) * 0x1.0p-53;        // [0, 1)
        const double rad = std::sqrt(-2 * std::log(u1));
        out[i] = rad * std::cos(2 * std::numbers::pi * u2);
        if (i + 1 < n) out[i + 1] = rad * std::sin(2 * std::numbers::pi * u2);
    }
    return out;
}

void impute_noisy_linear(float* x, Shape s, const std::vector<std::uint8_t>& removed, double noise,
                         std::uint64_t seed) {
    check_shape(s);
    const std::size_t hw = s.pixels();
    if (removed.size() != hw)
        throw UsageError(
            format("impute_noisy_linear: mask has %zu entries, the image %dx%d", removed.size(), s.h, s.w));
    std::vector<int> var(hw, -1);  // pixel -> unknown index
    std::vector<int> unknown;
    for (std::size_t i = 0; i < hw; ++i)
        if (removed[i]) {
            var[i] = static_cast<int>(unknown.size());
            unknown.push_back(static_cast<int>(i));
        }
    const int u = static_cast<int>(unknown.size());
    if (u == 0) return;
    const auto z = noise > 0 ? normal_noise(static_cast<std::size_t>(s.c) * u, seed) : std::vector<double>{};
    auto add_noise = [&](int c, int k) { return z.empty() ? 0.0 : noise * z[static_cast<std::size_t>(c) * u + k]; };
    if (static_cast<std::size_t>(u) == hw) {  // nothing known: the mean colour (0) plus noise
        for (int c = 0; c < s.c; ++c)
            for (int k = 0; k < u; ++k)
                x[static_cast<std::size_t>(c) * hw + unknown[k]] = static_cast<float>(add_noise(c, k));
        return;
    }
    // Row k: (Σ in-bounds w) x_k − Σ_{unknown j} w x_j = Σ_{known j} w v_j. Symmetric (w is), and
    // every component of unknowns touches a known pixel, so the matrix is SPD.
    static constexpr int kDy[8] = {-1, -1, -1, 0, 0, 1, 1, 1};
    static constexpr int kDx[8] = {-1, 0, 1, -1, 1, -1, 0, 1};
    SparseMatrix a;
    a.n = u;
    a.row_ptr.reserve(u + 1);
    a.row_ptr.push_back(0);
    std::vector<double> rhs(static_cast<std::size_t>(s.c) * u, 0.0);
    for (int k = 0; k < u; ++k) {
        const int py = unknown[k] / s.w, px = unknown[k] % s.w;
        double diag = 0;
        std::vector<std::pair<int, double>> offdiag;
        for (int n = 0; n < 8; ++n) {
            const int ny = py + kDy[n], nx = px + kDx[n];
            if (ny < 0 || nx < 0 || ny >= s.h || nx >= s.w) continue;
            const double w = (kDy[n] == 0 || kDx[n] == 0) ? 1.0 / 6 : 1.0 / 12;
            diag += w;
            const int j = ny * s.w + nx;
            if (var[j] >= 0) {
                offdiag.emplace_back(var[j], -w);
            } else {
                for (int c = 0; c < s.c; ++c)
                    rhs[static_cast<std::size_t>(c) * u + k] += w * x[static_cast<std::size_t>(c) * hw + j];
            }
        }
        offdiag.emplace_back(k, diag);
        std::sort(offdiag.begin(), offdiag.end());
        for (auto [col, v] : offdiag) {
            a.col.push_back(col);
            a.val.push_back(v);
        }
        a.row_ptr.push_back(static_cast<int>(a.col.size()));
    }
    for (int c = 0; c < s.c; ++c) {
        std::vector<double> b(rhs.begin() + static_cast<std::size_t>(c) * u,
                              rhs.begin() + static_cast<std::size_t>(c + 1) * u);
        // Start from the mean of the known pixels: the solution is a weighted mean of them.
        double known_sum = 0;
        for (std::size_t i = 0; i < hw; ++i)
            if (!removed[i]) known_sum += x[static_cast<std::size_t>(c) * hw + i];
        std::vector<double> sol(u, known_sum / static_cast<double>(hw - u));
        const auto res = cg_solve(a, b, sol, 1e-8);
        if (!res.converged && res.relative_residual > 1e-6)
            throw Error(
                format("ROAD imputation: conjugate gradients stopped at relative residual %.3g after %d iterations",
                       res.relative_residual, res.iterations));
        for (int k = 0; k < u; ++k)
            x[static_cast<std::size_t>(c) * hw + unknown[k]] = static_cast<float>(sol[k] + add_noise(c, k));
    }
}

// ------------------------------------------------------------------ one image
Perturbations perturb(const float* x, const float* cam, Shape s, const Params& p, std::uint64_t image_seed) {
    check_shape(s);
    p.validate();
    if (!x || !cam) throw UsageError("faithfulness: null image or CAM");
    const std::size_t hw = s.pixels(), per = s.size();
    for (std::size_t i = 0; i < hw; ++i)
        if (!std::isfinite(cam[i])) throw Error(format("faithfulness: CAM value at pixel %zu is not finite", i));
    Perturbations out;
    out.shape = s;
    auto add_row = [&](const float* src) {
        out.inputs.insert(out.inputs.end(), src, src + per);
        return out.rows++;
    };
    out.inputs.reserve(p.rows_per_image() * per);
    add_row(x);
    if (p.cam_mult) {
        std::vector<float> m(x, x + per);
        for (int c = 0; c < s.c; ++c)
            for (std::size_t i = 0; i < hw; ++i) m[c * hw + i] *= cam[i];
        out.cam_mult_row = add_row(m.data());
    }
    const auto order = rank_pixels(cam, hw);
    if (p.deletion || p.insertion) {
        const auto nk = step_counts(hw, p.steps);
        if (p.deletion) {
            std::vector<float> d(x, x + per);
            out.deletion_rows.push_back(0);
            for (int k = 1; k <= p.steps; ++k) {
                for (std::size_t j = nk[k - 1]; j < nk[k]; ++j)
                    for (int c = 0; c < s.c; ++c) d[c * hw + order[j]] = 0.f;
                out.deletion_rows.push_back(add_row(d.data()));
            }
        }
        if (p.insertion) {
            std::vector<float> ins = gaussian_blur(x, s, p.sigma_for(s.h, s.w));
            for (int k = 0; k < p.steps; ++k) {
                if (k > 0)
                    for (std::size_t j = nk[k - 1]; j < nk[k]; ++j)
                        for (int c = 0; c < s.c; ++c) ins[c * hw + order[j]] = x[c * hw + order[j]];
                out.insertion_rows.push_back(add_row(ins.data()));
            }
            out.insertion_rows.push_back(0);  // every pixel restored: the clean image
        }
    }
    if (p.road) {
        const std::uint64_t base = mix_seed(p.seed, image_seed);
        for (int morf = 1; morf >= 0; --morf) {
            for (std::size_t j = 0; j < p.road_percentiles.size(); ++j) {
                const auto k = static_cast<std::size_t>(std::llround(p.road_percentiles[j] / 100.0 * hw));
                std::vector<std::uint8_t> removed(hw, 0);
                for (std::size_t r = 0; r < k; ++r) removed[order[morf ? r : hw - 1 - r]] = 1;
                std::vector<float> img(x, x + per);
                impute_noisy_linear(img.data(), s, removed, p.road_noise, mix_seed(base, 2 * j + morf));
                (morf ? out.morf_rows : out.lerf_rows).push_back(add_row(img.data()));
            }
        }
    }
    return out;
}

Scores score(const Perturbations& pert, const std::vector<float>& probs) {
    if (static_cast<int>(probs.size()) != pert.rows)
        throw UsageError(format("faithfulness: %zu scores for %d perturbed inputs", probs.size(), pert.rows));
    Scores s;
    auto at = [&](int row) { return static_cast<double>(probs[row]); };
    s.p_clean = at(0);
    s.p_cam_mult = s.average_drop = s.increase = kNaN;
    if (pert.cam_mult_row >= 0) {
        s.p_cam_mult = at(pert.cam_mult_row);
        s.average_drop = s.p_clean > 0 ? std::max(0.0, s.p_clean - s.p_cam_mult) / s.p_clean * 100 : 0;
        s.increase = s.p_cam_mult > s.p_clean ? 1 : 0;
    }
    for (int r : pert.deletion_rows) s.deletion.push_back(at(r));
    for (int r : pert.insertion_rows) s.insertion.push_back(at(r));
    s.deletion_auc = s.deletion.empty() ? kNaN : trapezoid_auc(s.deletion);
    s.insertion_auc = s.insertion.empty() ? kNaN : trapezoid_auc(s.insertion);
    for (int r : pert.morf_rows) s.road_morf.push_back(at(r));
    for (int r : pert.lerf_rows) s.road_lerf.push_back(at(r));
    s.road_morf_mean = mean_of(s.road_morf);
    s.road_lerf_mean = mean_of(s.road_lerf);
    s.road_combined = (s.road_lerf_mean - s.road_morf_mean) / 2;
    return s;
}

Scores evaluate_image(const float* x, const float* cam, Shape shape, const Params& p, const ProbFn& prob,
                      std::uint64_t image_seed) {
    const Perturbations pert = perturb(x, cam, shape, p, image_seed);
    const auto probs = prob(pert.inputs, pert.rows);
    return score(pert, probs);
}

}  // namespace camscope::faith
