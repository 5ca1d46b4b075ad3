#pragma once
// 95 % intervals for the report's figures: no torch, no I/O, pure functions. build_report
// (analysis.cpp, stage "intervals") attaches them beside each figure; the writers only format them.
//
// Definitions (a reference elsewhere can reproduce them exactly; tests/python/test_intervals.py does):
//  - Proportions k of n: the Wilson score interval (Wilson 1927; Agresti & Coull 1998),
//      centre = (k + z²/2) / (n + z²),  half = z / (n + z²) · sqrt(k (n − k) / n + z²/4),
//    clamped to [0, 1]; z = 1.959963984540054 (the 0.975 normal quantile). n = 0: no interval (NaN).
//  - Means and other statistics of a sample: the percentile bootstrap (Efron & Tibshirani 1993,
//    ch. 13). B resamples; each draws n indices with replacement as floor(splitmix64() · n / 2^64)
//    (Lemire's multiply-shift: no division, and exact in 64-bit halves for a reference) from ONE
//    generator that every statistic restarts from the seed (so an interval does not depend on which
//    other intervals were computed, or in which order); the interval is the (α/2, 1 − α/2) quantiles
//    of the B resampled statistics by linear interpolation between order statistics (numpy's
//    default "linear" method: position (B − 1)·q). NaN resampled statistics (none in the report's
//    uses) are not possible by construction: the functions take finite samples.
//  - splitmix64 (Steele, Lea & Flood 2014; Vigna's reference code): state += 0x9E3779B97F4A7C15;
//    z = state; z = (z ^ (z >> 30)) · 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) · 0x94D049BB133111EB;
//    return z ^ (z >> 31) (all mod 2^64). The bias of the multiply-shift is below n / 2^64.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace camscope::intervals {

/// The 0.975 quantile of the standard normal: a two-sided 95 % interval.
inline constexpr double kZ95 = 1.959963984540054;

/// A two-sided interval [lo, hi]; both NaN when undefined (no images behind the figure).
struct Interval {
    double lo = std::numeric_limits<double>::quiet_NaN();
    double hi = std::numeric_limits<double>::quiet_NaN();
    bool defined() const { return lo == lo && hi == hi; }  // neither is NaN
};

/// Wilson score interval of the proportion k / n (definition above); NaN for n = 0. Error if
/// k < 0, n < 0 or k > n.
Interval wilson(long long k, long long n, double z = kZ95);

/// Vigna's splitmix64: a 64-bit generator simple enough for any reference to re-implement.
class SplitMix64 {
public:
    explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next();
    /// An index in [0, n): floor(next() · n / 2^64) (n > 0; Lemire 2019, without the rejection step).
    size_t index(size_t n) {
        return static_cast<size_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
    }

private:
    std::uint64_t state_;
};

/// How the percentile bootstrap runs (summary.json's options.intervals records these).
struct BootstrapParams {
    int resamples = 1000;              // B
    std::uint64_t seed = 20251207;     // every statistic restarts the generator from it
    double level = 0.95;               // two-sided coverage: quantiles (1 − level)/2 and (1 + level)/2
};

/// Linear-interpolation quantile (numpy's default) of `values`, q in [0, 1]; sorts its copy.
/// NaN for an empty sample.
double quantile(std::vector<double> values, double q);

/// Percentile-bootstrap interval of the mean of x[0..n) (finite values). NaN for n = 0; for n = 1
/// the interval is [x0, x0].
Interval bootstrap_mean(const double* x, size_t n, const BootstrapParams& p);

/// Percentile-bootstrap interval of mean(a) − mean(b), a and b resampled independently: each
/// resample draws na indices into a, then nb into b, from the one generator. NaN if either is empty.
Interval bootstrap_mean_difference(const double* a, size_t na, const double* b, size_t nb, const BootstrapParams& p);

/// Percentile-bootstrap interval of the expected calibration error (metrics::calibration's ECE:
/// equal-width bins over [0, 1], bin b = (b/B, (b+1)/B], confidence 0 in bin 0), rows resampled
/// with replacement. `confidence` in [0, 1] and `correct` (0/1), size n; NaN for n = 0.
Interval bootstrap_ece(const float* confidence, const std::uint8_t* correct, size_t n, int bins,
                       const BootstrapParams& p);

}  // namespace camscope::intervals
