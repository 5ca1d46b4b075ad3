#include "camscope/faith/similarity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace camscope::faith {

namespace {

/// 1-based ranks of v, ties sharing their average rank (scipy.stats.rankdata, method "average").
std::vector<double> average_ranks(const float* v, std::size_t n) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [v](std::size_t i, std::size_t j) { return v[i] < v[j]; });
    std::vector<double> rank(n);
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i + 1;
        while (j < n && v[order[j]] == v[order[i]]) ++j;
        const double r = 0.5 * static_cast<double>(i + 1 + j);  // mean of ranks i+1 .. j
        for (std::size_t k = i; k < j; ++k) rank[order[k]] = r;
        i = j;
    }
    return rank;
}

bool constant(const float* v, std::size_t n) {
    return std::all_of(v, v + n, [v](float x) { return x == v[0]; });
}

}  // namespace

double spearman(const float* a, const float* b, std::size_t n) {
    if (n < 2) return std::numeric_limits<double>::quiet_NaN();
    const bool ca = constant(a, n), cb = constant(b, n);
    if (ca || cb) return ca && cb ? 1.0 : 0.0;
    const auto ra = average_ranks(a, n), rb = average_ranks(b, n);
    const double mean = 0.5 * static_cast<double>(n + 1);  // the mean of any set of average ranks
    double sab = 0, saa = 0, sbb = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double x = ra[i] - mean, y = rb[i] - mean;
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    return sab / std::sqrt(saa * sbb);
}

double ssim(const float* a, const float* b, int h, int w) {
    if (h <= 0 || w <= 0) return std::numeric_limits<double>::quiet_NaN();
    int win = std::min({7, h, w});
    if (win % 2 == 0) --win;
    // Summed-area tables of a, b, a², b², ab (double): each window's sums in O(1).
    const std::size_t W = static_cast<std::size_t>(w) + 1;
    std::vector<double> sa(W * (h + 1)), sb(sa.size()), saa(sa.size()), sbb(sa.size()), sab(sa.size());
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const double p = a[static_cast<std::size_t>(y) * w + x], q = b[static_cast<std::size_t>(y) * w + x];
            const std::size_t i = (y + 1) * W + (x + 1), up = y * W + (x + 1), left = (y + 1) * W + x, diag = y * W + x;
            sa[i] = p + sa[up] + sa[left] - sa[diag];
            sb[i] = q + sb[up] + sb[left] - sb[diag];
            saa[i] = p * p + saa[up] + saa[left] - saa[diag];
            sbb[i] = q * q + sbb[up] + sbb[left] - sbb[diag];
            sab[i] = p * q + sab[up] + sab[left] - sab[diag];
        }
    auto box = [&](const std::vector<double>& s, int y, int x) {
        return s[(y + win) * W + (x + win)] - s[y * W + (x + win)] - s[(y + win) * W + x] + s[y * W + x];
    };
    const double np = static_cast<double>(win) * win;
    const double cov_norm = np > 1 ? np / (np - 1) : 1.0;  // sample (co)variances
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;        // (K1 L)², (K2 L)², L = 1
    double total = 0;
    long long windows = 0;
    for (int y = 0; y + win <= h; ++y)
        for (int x = 0; x + win <= w; ++x) {
            const double ux = box(sa, y, x) / np, uy = box(sb, y, x) / np;
            const double vx = cov_norm * (box(saa, y, x) / np - ux * ux);
            const double vy = cov_norm * (box(sbb, y, x) / np - uy * uy);
            const double vxy = cov_norm * (box(sab, y, x) / np - ux * uy);
            total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            ++windows;
        }
    return total / static_cast<double>(windows);
}

}  // namespace camscope::faith
