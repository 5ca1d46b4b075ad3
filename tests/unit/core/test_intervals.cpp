// The 95 % intervals (report/intervals.hpp): Wilson against values worked out by hand from the
// closed form, splitmix64 against Vigna's reference output, the bootstrap against a resampling
// loop written here over metrics::calibration, and the "weakest classes" order of build_report.
// (tests/python/test_intervals.py checks a whole report's intervals against numpy/scipy.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "camscope/report/analysis.hpp"
#include "camscope/report/intervals.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/util/error.hpp"
#include "support/report_input.hpp"

namespace camscope {
namespace {

using intervals::Interval;

TEST(Intervals, WilsonMatchesTheClosedForm) {
    // 5 of 10: centre (5 + z²/2)/(10 + z²) = 0.5, half z/(10 + z²)·sqrt(2.5 + z²/4) = 0.263407.
    const Interval a = intervals::wilson(5, 10);
    EXPECT_NEAR(a.lo, 0.236593, 1e-6);
    EXPECT_NEAR(a.hi, 0.763407, 1e-6);
    // 0 of 10: lo 0, hi = z²/(10 + z²) = 0.277533 (the centre plus a half of the same size).
    const Interval b = intervals::wilson(0, 10);
    EXPECT_DOUBLE_EQ(b.lo, 0.0);
    EXPECT_NEAR(b.hi, 0.277533, 1e-6);
    // 10 of 10 mirrors it.
    const Interval c = intervals::wilson(10, 10);
    EXPECT_NEAR(c.lo, 1 - 0.277533, 1e-6);
    EXPECT_DOUBLE_EQ(c.hi, 1.0);
    // More images, narrower: 500 of 1000 -> +-3.09 points.
    const Interval d = intervals::wilson(500, 1000);
    EXPECT_NEAR(d.hi - 0.5, 0.030930, 1e-6);
    // No images: no interval.
    EXPECT_FALSE(intervals::wilson(0, 0).defined());
    EXPECT_THROW(intervals::wilson(11, 10), Error);
    EXPECT_THROW(intervals::wilson(-1, 10), Error);
}

TEST(Intervals, SplitMix64IsVignasGenerator) {
    // splitmix64.c (Vigna), seed 0: the first output.
    intervals::SplitMix64 g(0);
    EXPECT_EQ(g.next(), 0xE220A8397B1DCDAFull);
    // index(n) is floor(next() · n / 2^64): the high half of the 128-bit product, worked out here
    // from 32-bit halves.
    intervals::SplitMix64 a(42), b(42);
    for (std::uint64_t n : {1ull, 7ull, 1000ull, 123456789ull}) {
        for (int i = 0; i < 100; ++i) {
            const std::uint64_t x = b.next(), hi = x >> 32, lo = x & 0xFFFFFFFFull;
            EXPECT_EQ(a.index(n), (hi * n + ((lo * n) >> 32)) >> 32);
        }
    }
}

TEST(Intervals, QuantileIsNumpysLinearMethod) {
    // numpy.quantile([1, 2, 3, 4], 0.25) = 1.75; 0.5 -> 2.5; ends are the extremes.
    EXPECT_DOUBLE_EQ(intervals::quantile({4, 1, 3, 2}, 0.25), 1.75);
    EXPECT_DOUBLE_EQ(intervals::quantile({4, 1, 3, 2}, 0.5), 2.5);
    EXPECT_DOUBLE_EQ(intervals::quantile({4, 1, 3, 2}, 0.0), 1.0);
    EXPECT_DOUBLE_EQ(intervals::quantile({4, 1, 3, 2}, 1.0), 4.0);
    EXPECT_TRUE(std::isnan(intervals::quantile({}, 0.5)));
}

TEST(Intervals, BootstrapMeanIsTheSeededPercentileInterval) {
    std::vector<double> x(100);
    std::iota(x.begin(), x.end(), 0.0);  // mean 49.5, sd 28.87: normal-theory half width 5.66
    intervals::BootstrapParams p;
    const Interval a = intervals::bootstrap_mean(x.data(), x.size(), p);
    // The same resampling written out here: one generator from the seed, indices index(n).
    intervals::SplitMix64 g(p.seed);
    std::vector<double> means;
    for (int b = 0; b < p.resamples; ++b) {
        double s = 0;
        for (size_t j = 0; j < x.size(); ++j) s += x[g.index(x.size())];
        means.push_back(s / double(x.size()));
    }
    EXPECT_DOUBLE_EQ(a.lo, intervals::quantile(means, 0.025));
    EXPECT_DOUBLE_EQ(a.hi, intervals::quantile(means, 0.975));
    EXPECT_LT(a.lo, 49.5);
    EXPECT_GT(a.hi, 49.5);
    EXPECT_NEAR(a.hi - a.lo, 2 * 5.66, 1.5);
    // Reproducible; another seed gives another (close) interval.
    const Interval again = intervals::bootstrap_mean(x.data(), x.size(), p);
    EXPECT_EQ(a.lo, again.lo);
    EXPECT_EQ(a.hi, again.hi);
    p.seed = 7;
    const Interval other = intervals::bootstrap_mean(x.data(), x.size(), p);
    EXPECT_NE(a.lo, other.lo);
    // One value: [x, x]; none: undefined.
    const double one = 0.3;
    const Interval single = intervals::bootstrap_mean(&one, 1, p);
    EXPECT_DOUBLE_EQ(single.lo, 0.3);
    EXPECT_DOUBLE_EQ(single.hi, 0.3);
    EXPECT_FALSE(intervals::bootstrap_mean(nullptr, 0, p).defined());
    p.resamples = 0;
    EXPECT_THROW(intervals::bootstrap_mean(x.data(), x.size(), p), Error);
}

TEST(Intervals, BootstrapMeanDifferenceResamplesBothGroups) {
    const std::vector<double> a{0.5, 0.6, 0.7, 0.55, 0.65}, b{0.2, 0.3, 0.25};
    intervals::BootstrapParams p;
    const Interval d = intervals::bootstrap_mean_difference(a.data(), a.size(), b.data(), b.size(), p);
    intervals::SplitMix64 g(p.seed);
    std::vector<double> diffs;
    for (int r = 0; r < p.resamples; ++r) {
        double sa = 0, sb = 0;
        for (size_t j = 0; j < a.size(); ++j) sa += a[g.index(a.size())];
        for (size_t j = 0; j < b.size(); ++j) sb += b[g.index(b.size())];
        diffs.push_back(sa / 5 - sb / 3);
    }
    EXPECT_DOUBLE_EQ(d.lo, intervals::quantile(diffs, 0.025));
    EXPECT_DOUBLE_EQ(d.hi, intervals::quantile(diffs, 0.975));
    EXPECT_GT(d.lo, 0.2);  // every resample of a lies above every resample of b by at least 0.2
    EXPECT_FALSE(intervals::bootstrap_mean_difference(a.data(), a.size(), nullptr, 0, p).defined());
}

TEST(Intervals, BootstrapEceResamplesRowsThroughTheReportsEce) {
    // 200 rows with confidences over every bin (edges included) and a mix of right and wrong.
    std::vector<float> conf;
    std::vector<std::uint8_t> ok;
    for (int i = 0; i < 200; ++i) {
        conf.push_back(i % 16 == 0 ? float(i % 15) / 15.0f : float((i * 37) % 101) / 100.0f);
        ok.push_back((i * 7) % 10 < 7);
    }
    intervals::BootstrapParams p;
    p.resamples = 300;
    const Interval e = intervals::bootstrap_ece(conf.data(), ok.data(), conf.size(), 15, p);
    // Reference: draw the rows, then metrics::calibration on the resample.
    intervals::SplitMix64 g(p.seed);
    std::vector<double> eces;
    for (int r = 0; r < p.resamples; ++r) {
        std::vector<float> c2;
        std::vector<std::uint8_t> o2;
        for (size_t j = 0; j < conf.size(); ++j) {
            const size_t i = g.index(conf.size());
            c2.push_back(conf[i]);
            o2.push_back(ok[i]);
        }
        eces.push_back(metrics::calibration(c2.data(), o2.data(), c2.size(), 15).ece);
    }
    EXPECT_NEAR(e.lo, intervals::quantile(eces, 0.025), 1e-12);
    EXPECT_NEAR(e.hi, intervals::quantile(eces, 0.975), 1e-12);
    const double point = metrics::calibration(conf.data(), ok.data(), conf.size(), 15).ece;
    EXPECT_LT(e.lo, point + 1e-9);
    EXPECT_GT(e.hi, point);
}

TEST(Intervals, AFiveImageClassCannotTopTheWeakestList) {
    // Class "small": 3 of 5 right (60 %, Wilson 23–88 %); class "large": 62 of 100 (62 %, 52–71 %);
    // class "easy": 95 of 100. By accuracy alone "small" would be the weakest; by the interval's
    // upper bound it is "large".
    AnalysisInput in = support::report_input({"large", "small", "easy"}, 2, 2, 0, 0);
    const std::vector<float> map{1, 0, 0, 0};
    int index = 0;
    auto add = [&](int label, int correct, int total) {
        for (int i = 0; i < total; ++i) {
            const int pred = i < correct ? label : (label + 1) % 3;
            std::vector<double> logits(3, 0.0);
            logits[static_cast<size_t>(pred)] = 2.0;
            support::add_row(in, index++, label, logits, map, map);
        }
    };
    add(0, 62, 100);
    add(1, 3, 5);
    add(2, 95, 100);
    AnalysisOptions opt;
    opt.progress = false;
    const Report r = build_report(in, opt);
    ASSERT_EQ(r.worst_classes.size(), 3u);
    EXPECT_EQ(r.worst_classes[0], 0) << "the 100-image class at 62 % comes before the 5-image class at 60 %";
    EXPECT_EQ(r.worst_classes[1], 1);
    EXPECT_EQ(r.worst_classes[2], 2);
    EXPECT_LT(r.per_class[1].recall, r.per_class[0].recall);
    EXPECT_GT(r.per_class[1].recall_ci.hi, r.per_class[0].recall_ci.hi);
    // The Wilson figures build_report attached.
    const Interval w = intervals::wilson(62, 100);
    EXPECT_DOUBLE_EQ(r.per_class[0].recall_ci.lo, w.lo);
    EXPECT_DOUBLE_EQ(r.per_class[0].recall_ci.hi, w.hi);
    EXPECT_DOUBLE_EQ(r.top1_ci.hi, intervals::wilson(160, 205).hi);
}

}  // namespace
}  // namespace camscope
