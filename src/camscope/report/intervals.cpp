// 95 % intervals (intervals.hpp): Wilson for proportions, the seeded percentile bootstrap for the rest.
#include "camscope/report/intervals.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "camscope/report/metrics.hpp"
#include "camscope/util/error.hpp"

namespace camscope::intervals {

namespace {

void check_params(const BootstrapParams& p, const char* where) {
    if (p.resamples <= 0)
        throw Error(std::string(where) + ": bootstrap resamples must be positive, got " + std::to_string(p.resamples));
    if (!(p.level > 0 && p.level < 1))
        throw Error(std::string(where) + ": interval level must lie in (0, 1), got " + std::to_string(p.level));
}

/// Linear interpolation between order statistics of a sorted, non-empty sample (numpy's default).
double quantile_sorted(const std::vector<double>& sorted, double q) {
    const double h = (double(sorted.size()) - 1) * q;
    const size_t i = static_cast<size_t>(std::floor(h));
    if (i + 1 >= sorted.size()) return sorted.back();
    return sorted[i] + (h - double(i)) * (sorted[i + 1] - sorted[i]);
}

/// The percentile interval of B resampled statistics.
Interval percentile(std::vector<double> stats, double level) {
    std::sort(stats.begin(), stats.end());
    return {quantile_sorted(stats, (1 - level) / 2), quantile_sorted(stats, (1 + level) / 2)};
}

}  // namespace

Interval wilson(long long k, long long n, double z) {
    if (n < 0 || k < 0 || k > n)
        throw Error("wilson: need 0 <= k <= n, got k = " + std::to_string(k) + ", n = " + std::to_string(n));
    if (n == 0) return {};
    const double nn = double(n), kk = double(k), z2 = z * z;
    const double centre = (kk + z2 / 2) / (nn + z2);
    const double half = z / (nn + z2) * std::sqrt(kk * (nn - kk) / nn + z2 / 4);
    return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

std::uint64_t SplitMix64::next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double quantile(std::vector<double> values, double q) {
    if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(values.begin(), values.end());
    return quantile_sorted(values, q);
}

Interval bootstrap_mean(const double* x, size_t n, const BootstrapParams& p) {
    check_params(p, "bootstrap_mean");
    if (n == 0) return {};
    SplitMix64 g(p.seed);
    std::vector<double> stats(static_cast<size_t>(p.resamples));
    for (double& s : stats) {
        double sum = 0;
        for (size_t j = 0; j < n; ++j) sum += x[g.index(n)];
        s = sum / double(n);
    }
    return percentile(std::move(stats), p.level);
}

Interval bootstrap_mean_difference(const double* a, size_t na, const double* b, size_t nb, const BootstrapParams& p) {
    check_params(p, "bootstrap_mean_difference");
    if (na == 0 || nb == 0) return {};
    SplitMix64 g(p.seed);
    std::vector<double> stats(static_cast<size_t>(p.resamples));
    for (double& s : stats) {
        double sa = 0, sb = 0;
        for (size_t j = 0; j < na; ++j) sa += a[g.index(na)];
        for (size_t j = 0; j < nb; ++j) sb += b[g.index(nb)];
        s = sa / double(na) - sb / double(nb);
    }
    return percentile(std::move(stats), p.level);
}

Interval bootstrap_ece(const float* confidence, const std::uint8_t* correct, size_t n, int bins,
                       const BootstrapParams& p) {
    check_params(p, "bootstrap_ece");
    if (bins <= 0) throw Error("bootstrap_ece: number of bins must be positive, got " + std::to_string(bins));
    if (n == 0) return {};
    // Each row's bin, as metrics::calibration assigns it (metrics::calibration_bin).
    std::vector<int> bin_of(n);
    for (size_t i = 0; i < n; ++i) {
        const double c = confidence[i];
        if (!(c >= 0.0 && c <= 1.0))
            throw Error("bootstrap_ece: confidence[" + std::to_string(i) + "] = " + std::to_string(c) +
                        " is outside [0, 1]");
        bin_of[i] = metrics::calibration_bin(c, bins);
    }
    // ECE = Σ_b n_b/N · |acc_b − conf_b| = Σ_b |Σ_{i in b} (correct_i − conf_i)| / N.
    SplitMix64 g(p.seed);
    std::vector<double> stats(static_cast<size_t>(p.resamples)), gap(static_cast<size_t>(bins));
    for (double& s : stats) {
        std::fill(gap.begin(), gap.end(), 0.0);
        for (size_t j = 0; j < n; ++j) {
            const size_t i = g.index(n);
            gap[static_cast<size_t>(bin_of[i])] += (correct[i] ? 1.0 : 0.0) - double(confidence[i]);
        }
        double e = 0;
        for (double v : gap) e += std::abs(v);
        s = e / double(n);
    }
    return percentile(std::move(stats), p.level);
}

}  // namespace camscope::intervals
