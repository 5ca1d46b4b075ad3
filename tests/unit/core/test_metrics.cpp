// Metrics against values worked out by hand (comments show the arithmetic) or in closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "camscope/report/metrics.hpp"
#include "camscope/util/error.hpp"

using namespace camscope::metrics;

namespace {

// 3 classes, 11 images. Confusion matrix (rows true, columns predicted):
//   [3 1 0]
//   [1 2 1]
//   [1 0 2]
// supports 4,4,3; predicted 5,3,3.
struct Case3 {
    std::vector<int> labels{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2};
    std::vector<int> preds{0, 0, 0, 1, 1, 1, 0, 2, 0, 2, 2};
};

}  // namespace

TEST(Metrics, ConfusionMatrixCells) {
    Case3 c;
    ConfusionMatrix cm = confusion_matrix(c.labels.data(), c.preds.data(), c.labels.size(), 3);
    const std::vector<long long> expect{3, 1, 0, 1, 2, 1, 1, 0, 2};
    EXPECT_EQ(cm.counts, expect);
    EXPECT_EQ(cm.row_sum(0), 4);
    EXPECT_EQ(cm.col_sum(0), 5);
    EXPECT_EQ(cm.total(), 11);
    EXPECT_EQ(cm.trace(), 7);
}

TEST(Metrics, ConfusionMatrixRejectsOutOfRangeLabel) {
    std::vector<int> labels{0, 3}, preds{0, 1};
    EXPECT_THROW(confusion_matrix(labels.data(), preds.data(), 2, 3), camscope::Error);
}

TEST(Metrics, PerClassPrecisionRecallF1ByHand) {
    Case3 c;
    ConfusionMatrix cm = confusion_matrix(c.labels.data(), c.preds.data(), c.labels.size(), 3);
    // Confidences: class 0 images 0.9,0.8,0.7,0.6 -> mean 0.75; class 1: 0.5 each; class 2: 0.4,0.6,0.8 -> 0.6.
    std::vector<float> conf{0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.5f, 0.5f, 0.5f, 0.4f, 0.6f, 0.8f};
    auto s = per_class_stats(cm, c.labels.data(), conf.data(), c.labels.size());
    ASSERT_EQ(s.size(), 3u);
    // Recall = diag / row: 3/4, 2/4, 2/3. Precision = diag / column: 3/5, 2/3, 2/3.
    EXPECT_DOUBLE_EQ(s[0].recall, 0.75);
    EXPECT_DOUBLE_EQ(s[1].recall, 0.5);
    EXPECT_NEAR(s[2].recall, 2.0 / 3, 1e-12);
    EXPECT_DOUBLE_EQ(s[0].precision, 0.6);
    EXPECT_NEAR(s[1].precision, 2.0 / 3, 1e-12);
    EXPECT_NEAR(s[2].precision, 2.0 / 3, 1e-12);
    // F1_0 = 2·0.6·0.75/1.35 = 2/3; F1_1 = 2·(2/3)(1/2)/(7/6) = 4/7; F1_2 = 2/3.
    EXPECT_NEAR(s[0].f1, 2.0 / 3, 1e-12);
    EXPECT_NEAR(s[1].f1, 4.0 / 7, 1e-12);
    EXPECT_NEAR(s[2].f1, 2.0 / 3, 1e-12);
    EXPECT_NEAR(s[0].mean_confidence, 0.75, 1e-6);
    EXPECT_NEAR(s[1].mean_confidence, 0.5, 1e-6);
    EXPECT_NEAR(s[2].mean_confidence, 0.6, 1e-6);
    EXPECT_EQ(s[0].support, 4);
    EXPECT_EQ(s[0].predicted, 5);
    // Most confused: 0 -> 1 (1); 1 -> 0 and 1 -> 2 tie at 1, lower index wins; 2 -> 0 (1).
    EXPECT_EQ(s[0].most_confused_with, 1);
    EXPECT_EQ(s[1].most_confused_with, 0);
    EXPECT_EQ(s[2].most_confused_with, 0);
    EXPECT_EQ(s[2].most_confused_count, 1);
}

TEST(Metrics, PerClassZeroDivisionAndNoErrors) {
    // Class 1 is never predicted and has no images; class 0 is always right.
    std::vector<int> labels{0, 0}, preds{0, 0};
    std::vector<float> conf{1.f, 1.f};
    auto cm = confusion_matrix(labels.data(), preds.data(), 2, 2);
    auto s = per_class_stats(cm, labels.data(), conf.data(), 2);
    EXPECT_EQ(s[0].most_confused_with, -1);
    EXPECT_EQ(s[1].support, 0);
    EXPECT_EQ(s[1].precision, 0.0);
    EXPECT_EQ(s[1].recall, 0.0);
    EXPECT_EQ(s[1].f1, 0.0);
}

TEST(Metrics, DirectedAndSymmetricPairs) {
    Case3 c;
    auto cm = confusion_matrix(c.labels.data(), c.preds.data(), c.labels.size(), 3);
    auto d = directed_pairs(cm);
    // All off-diagonal counts are 1; rate = 1/support: 2->0 is 1/3, the others 1/4.
    ASSERT_EQ(d.size(), 4u);
    EXPECT_EQ(d[0].a, 2);
    EXPECT_EQ(d[0].b, 0);
    EXPECT_NEAR(d[0].rate, 1.0 / 3, 1e-12);
    EXPECT_EQ(std::make_pair(d[1].a, d[1].b), std::make_pair(0, 1));
    EXPECT_EQ(std::make_pair(d[2].a, d[2].b), std::make_pair(1, 0));
    EXPECT_EQ(std::make_pair(d[3].a, d[3].b), std::make_pair(1, 2));
    EXPECT_DOUBLE_EQ(d[3].rate, 0.25);

    auto s = symmetric_pairs(cm);
    // {0,1}: 1+1 = 2 over 4+4; {0,2}: 0+1 over 4+3; {1,2}: 1+0 over 4+3.
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(std::make_pair(s[0].a, s[0].b), std::make_pair(0, 1));
    EXPECT_EQ(s[0].count, 2);
    EXPECT_DOUBLE_EQ(s[0].rate, 0.25);
    EXPECT_EQ(std::make_pair(s[1].a, s[1].b), std::make_pair(0, 2));
    EXPECT_EQ(s[1].count_ab, 0);
    EXPECT_EQ(s[1].count_ba, 1);
    EXPECT_NEAR(s[1].rate, 1.0 / 7, 1e-12);
    EXPECT_EQ(std::make_pair(s[2].a, s[2].b), std::make_pair(1, 2));
}

TEST(Metrics, SuperclassShareByHand) {
    Case3 c;
    auto cm = confusion_matrix(c.labels.data(), c.preds.data(), c.labels.size(), 3);
    // Classes 0 and 1 form superclass 0, class 2 alone is superclass 1.
    auto s = superclass_share(cm, {0, 0, 1}, 2);
    // Errors: 0->1 (within), 1->0 (within), 1->2 (cross), 2->0 (cross).
    EXPECT_EQ(s.errors, 4);
    EXPECT_EQ(s.within, 2);
    EXPECT_EQ(s.cross, 2);
    EXPECT_DOUBLE_EQ(s.within_share, 0.5);
    // Chance: errors from classes 0/1 would stay within with prob (2-1)/(3-1) = 0.5, from class 2
    // with prob 0: (0.5+0.5+0.5+0)/4 = 0.375.
    EXPECT_DOUBLE_EQ(s.chance_within_share, 0.375);
    // Coarse accuracy: 7 correct + 2 within = 9 of 11.
    EXPECT_NEAR(s.coarse_accuracy, 9.0 / 11, 1e-12);
    ASSERT_EQ(s.per_superclass.size(), 2u);
    EXPECT_EQ(s.per_superclass[0].support, 8);
    EXPECT_EQ(s.per_superclass[0].errors, 3);
    EXPECT_EQ(s.per_superclass[0].within, 2);
    EXPECT_EQ(s.per_superclass[1].num_fine, 1);
    EXPECT_NEAR(s.per_superclass[1].coarse_accuracy, 2.0 / 3, 1e-12);
    EXPECT_THROW(superclass_share(cm, {0, 0}, 2), camscope::Error);
    EXPECT_THROW(superclass_share(cm, {0, 0, 2}, 2), camscope::Error);
}

TEST(Metrics, TopKWithTies) {
    const int k = 6;
    std::vector<float> s{
        0.1f, 0.5f, 0.2f, 0.05f, 0.1f, 0.05f,  // label 1: rank 0
        0.3f, 0.25f, 0.2f, 0.1f, 0.1f, 0.05f,  // label 4: ties class 3 (lower index first) -> rank 4
        0.3f, 0.25f, 0.2f, 0.1f, 0.1f, 0.05f,  // label 5: rank 5
        0.3f, 0.25f, 0.2f, 0.1f, 0.1f, 0.05f,  // label 2: rank 2
    };
    std::vector<int> labels{1, 4, 5, 2};
    EXPECT_DOUBLE_EQ(topk_accuracy(s.data(), labels.data(), 4, k, 1), 0.25);
    EXPECT_DOUBLE_EQ(topk_accuracy(s.data(), labels.data(), 4, k, 3), 0.5);
    EXPECT_DOUBLE_EQ(topk_accuracy(s.data(), labels.data(), 4, k, 4), 0.5);
    EXPECT_DOUBLE_EQ(topk_accuracy(s.data(), labels.data(), 4, k, 5), 0.75);
    EXPECT_DOUBLE_EQ(topk_accuracy(s.data(), labels.data(), 4, k, 10), 1.0);  // clamped to k
    auto pred = argmax_rows(s.data(), 4, k);
    EXPECT_EQ(pred, (std::vector<int>{1, 0, 0, 0}));
}

TEST(Metrics, ConfidenceExtremes) {
    std::vector<int> labels{0, 0, 1, 1, 2};
    std::vector<int> preds{1, 0, 1, 0, 2};
    std::vector<float> conf{0.95f, 0.3f, 0.45f, 0.99f, 0.6f};
    auto hi = high_confidence_errors(labels.data(), preds.data(), conf.data(), 5, 0.9);
    EXPECT_EQ(hi, (std::vector<size_t>{3, 0}));
    auto lo = low_confidence_correct(labels.data(), preds.data(), conf.data(), 5, 0.5);
    EXPECT_EQ(lo, (std::vector<size_t>{1, 2}));
}

TEST(Metrics, EceAndMceWorkedByHand) {
    // 15 bins of width 1/15. Rows (confidence, correct):
    //   0.95 ✓, 0.97 ✗ -> bin 14: conf 0.96, acc 0.5, gap 0.46
    //   0.55 ✓, 0.58 ✗ -> bin 8 (0.533, 0.6]: conf 0.565, acc 0.5, gap 0.065
    //   0.62 ✗         -> bin 9: gap 0.62
    //   0.30 ✓         -> bin 4: gap 0.70
    // ECE = (2·0.46 + 2·0.065 + 0.62 + 0.70)/6 = 2.37/6 = 0.395; MCE = 0.70.
    std::vector<float> conf{0.95f, 0.97f, 0.55f, 0.58f, 0.62f, 0.30f};
    std::vector<std::uint8_t> ok{1, 0, 1, 0, 0, 1};
    Calibration c = calibration(conf.data(), ok.data(), conf.size(), 15);
    EXPECT_NEAR(c.ece, 0.395, 1e-6);
    EXPECT_NEAR(c.mce, 0.70, 1e-6);
    EXPECT_NEAR(c.mean_confidence, 3.97 / 6, 1e-6);
    EXPECT_DOUBLE_EQ(c.accuracy, 0.5);
    EXPECT_NEAR(c.overconfidence, 3.97 / 6 - 0.5, 1e-6);
    ASSERT_EQ(c.bins.size(), 15u);
    EXPECT_EQ(c.bins[14].count, 2);
    EXPECT_EQ(c.bins[8].count, 2);
    EXPECT_EQ(c.bins[9].count, 1);
    EXPECT_EQ(c.bins[4].count, 1);
    EXPECT_NEAR(c.bins[8].confidence, 0.565, 1e-6);
    EXPECT_NEAR(c.bins[8].lower, 8.0 / 15, 1e-12);
    long long total = 0;
    for (const auto& b : c.bins) total += b.count;
    EXPECT_EQ(total, 6);
}

TEST(Metrics, CalibrationEdgesAndBadInput) {
    std::vector<float> conf{1.0f, 0.0f};
    std::vector<std::uint8_t> ok{1, 0};
    Calibration c = calibration(conf.data(), ok.data(), 2, 15);
    EXPECT_EQ(c.bins[14].count, 1);  // (14/15, 1]
    EXPECT_EQ(c.bins[0].count, 1);   // 0 belongs to the first bin
    EXPECT_NEAR(c.ece, 0.0, 1e-12);
    std::vector<float> bad{1.5f};
    EXPECT_THROW(calibration(bad.data(), ok.data(), 1, 15), camscope::Error);
}

TEST(Metrics, TemperatureClosedFormTwoClass) {
    // Logits (2, 0) for every image, 80 % labelled 0. NLL(T) = −[q log σ(2/T) + (1−q) log(1−σ(2/T))]
    // is minimised at σ(2/T) = q, i.e. T = 2 / ln(q/(1−q)) = 2 / ln 4.
    const size_t n = 1000;
    std::vector<float> logits;
    std::vector<int> labels;
    for (size_t i = 0; i < n; ++i) {
        logits.push_back(2.f);
        logits.push_back(0.f);
        labels.push_back(i < 800 ? 0 : 1);
    }
    TemperatureFit fit = fit_temperature(logits.data(), labels.data(), n, 2);
    EXPECT_NEAR(fit.temperature, 2.0 / std::log(4.0), 1e-6);
    // At that T every confidence is exactly 0.8 = the accuracy: ECE 0. Before: σ(2) − 0.8.
    EXPECT_NEAR(fit.after.ece, 0.0, 1e-6);
    EXPECT_NEAR(fit.before.ece, 1.0 / (1.0 + std::exp(-2.0)) - 0.8, 1e-6);
    const double q = 0.8;
    EXPECT_NEAR(fit.nll_after, -(q * std::log(q) + (1 - q) * std::log(1 - q)), 1e-9);
    EXPECT_NEAR(fit.nll_before, mean_nll(logits.data(), labels.data(), n, 2, 1.0), 1e-12);
    EXPECT_LT(fit.nll_after, fit.nll_before);
}

TEST(Metrics, TemperatureRecoversSamplingTemperature) {
    // Labels drawn from softmax(z / T0): the NLL-optimal temperature of z converges to T0.
    const double t0 = 2.5;
    const int k = 5;
    const size_t n = 20000;
    std::mt19937_64 rng(12345);
    auto uniform = [&] { return (double(rng() >> 11) + 0.5) * 0x1.0p-53; };
    auto normal = [&] { return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform()); };
    std::vector<float> logits(n * k);
    std::vector<int> labels(n);
    for (size_t i = 0; i < n; ++i) {
        double p[k], s = 0;
        for (int j = 0; j < k; ++j) {
            logits[i * k + j] = static_cast<float>(3.0 * normal());
            p[j] = std::exp(logits[i * k + j] / t0);
            s += p[j];
        }
        double u = uniform() * s, acc = 0;
        int y = k - 1;
        for (int j = 0; j < k; ++j) {
            acc += p[j];
            if (u < acc) {
                y = j;
                break;
            }
        }
        labels[i] = y;
    }
    TemperatureFit fit = fit_temperature(logits.data(), labels.data(), n, k);
    EXPECT_NEAR(fit.temperature, t0, 0.1 * t0);
    EXPECT_LT(fit.after.ece, fit.before.ece);
}

TEST(Metrics, TemperatureAtBoundForSeparableLogits) {
    // Every image right with a margin: sharper is always better, the optimum is the lower bound.
    std::vector<float> logits{5, 0, 0, 5};
    std::vector<int> labels{0, 1};
    TemperatureFit fit = fit_temperature(logits.data(), labels.data(), 2, 2, 15, 0.05, 20);
    EXPECT_NEAR(fit.temperature, 0.05, 1e-6);
    EXPECT_EQ(fit.bound, -1);
    // One confident error among confident right answers, logits 100x too large: the optimum T
    // (about 100 times that of the unscaled logits) lies beyond 20.
    std::vector<float> big{500, 0, 0, 500, 400, 0};
    std::vector<int> big_labels{0, 1, 1};
    fit = fit_temperature(big.data(), big_labels.data(), 3, 2, 15, 0.05, 20);
    EXPECT_DOUBLE_EQ(fit.temperature, 20.0);
    EXPECT_EQ(fit.bound, 1);
    EXPECT_LT(mean_nll(big.data(), big_labels.data(), 3, 2, 40.0), fit.nll_after);
}

TEST(Metrics, TemperatureEqualsAScanOfTheNll) {
    // fit_temperature's Newton steps against a brute-force search of mean_nll itself: a scan of
    // 401 log-spaced temperatures, then a golden-section refinement around the best one.
    const int k = 100;
    const size_t n = 1000;
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 2.f);
    std::vector<float> logits(n * k);
    std::vector<int> labels(n);
    for (size_t i = 0; i < n; ++i) {
        for (int j = 0; j < k; ++j) logits[i * k + j] = nd(rng);
        labels[i] = static_cast<int>(i % k);
        logits[i * k + labels[i]] += 4.f;
        for (int j = 0; j < k; ++j) logits[i * k + j] *= 3.f;  // over-confident: T near 3
    }
    auto f = [&](double u) { return mean_nll(logits.data(), labels.data(), n, k, std::exp(u)); };
    const double lo = std::log(0.05), hi = std::log(20.0);
    double best_u = lo, best_f = f(lo);
    for (int i = 1; i <= 400; ++i) {
        const double u = lo + (hi - lo) * i / 400.0;
        if (const double v = f(u); v < best_f) best_f = v, best_u = u;
    }
    double a = best_u - (hi - lo) / 400.0, b = best_u + (hi - lo) / 400.0;
    const double g = (std::sqrt(5.0) - 1.0) / 2.0;
    while (b - a > 1e-9) {
        const double x1 = b - g * (b - a), x2 = a + g * (b - a);
        if (f(x1) <= f(x2)) b = x2;
        else a = x1;
    }
    const double t_ref = std::exp(0.5 * (a + b));
    TemperatureFit fit = fit_temperature(logits.data(), labels.data(), n, k);
    EXPECT_GT(t_ref, 1.5);  // the case is far from T = 1 and from the bounds
    EXPECT_LT(t_ref, 10.0);
    EXPECT_NEAR(fit.temperature, t_ref, 1e-6 * t_ref);
    EXPECT_LE(fit.nll_after, f(std::log(t_ref)) + 1e-12);
    EXPECT_EQ(fit.bound, 0);
}

TEST(Metrics, TemperatureOfFlatLogitsIsOne) {
    // Equal logits in every row: softmax is uniform at any T, so the fit changes nothing.
    std::vector<float> logits(4 * 3, 0.5f);
    std::vector<int> labels{0, 1, 2, 0};
    TemperatureFit fit = fit_temperature(logits.data(), labels.data(), 4, 3);
    EXPECT_DOUBLE_EQ(fit.temperature, 1.0);
    EXPECT_NEAR(fit.nll_after, std::log(3.0), 1e-12);
}

TEST(Metrics, SoftmaxRows) {
    std::vector<float> z{0.f, std::log(3.f)};
    auto p = softmax_rows(z.data(), 1, 2);
    EXPECT_NEAR(p[0], 0.25, 1e-6);
    EXPECT_NEAR(p[1], 0.75, 1e-6);
}

TEST(Metrics, CentreShareOnConstructedMaps) {
    // 4×4: the centre box is exactly pixels 1..2 × 1..2.
    std::vector<float> m(16, 0.f);
    m[1 * 4 + 1] = m[1 * 4 + 2] = m[2 * 4 + 1] = m[2 * 4 + 2] = 1.f;
    EXPECT_DOUBLE_EQ(centre_share(m.data(), 4, 4), 1.0);
    std::vector<float> u(16, 0.5f);
    EXPECT_DOUBLE_EQ(centre_share(u.data(), 4, 4), 0.25);
    // 6×6: box [1.5, 4.5)² cuts pixels 1 and 4 in half. Uniform -> 0.25 still; a single hot
    // pixel at (1,1) is covered 0.5·0.5; at (2,2) fully; at (0,0) not at all.
    std::vector<float> u6(36, 1.f);
    EXPECT_NEAR(centre_share(u6.data(), 6, 6), 0.25, 1e-12);
    std::vector<float> p(36, 0.f);
    p[1 * 6 + 1] = 1.f;
    EXPECT_DOUBLE_EQ(centre_share(p.data(), 6, 6), 0.25);
    p[1 * 6 + 1] = 0.f;
    p[2 * 6 + 2] = 1.f;
    EXPECT_DOUBLE_EQ(centre_share(p.data(), 6, 6), 1.0);
    // Two hot pixels, one central and one in the corner: half the mass in the centre.
    p[0] = 1.f;
    EXPECT_DOUBLE_EQ(centre_share(p.data(), 6, 6), 0.5);
    std::vector<float> z(36, 0.f);
    EXPECT_TRUE(std::isnan(centre_share(z.data(), 6, 6)));
}

TEST(Metrics, TopRegionIouOnConstructedMaps) {
    // 10 pixels: the top 20 % is 2 pixels. a's top = {8, 9}.
    std::vector<float> a{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    std::vector<float> b{0, 0, 0, 0, 0, 0, 0, 5, 0, 9};  // top = {7, 9}: IoU = 1/3
    EXPECT_NEAR(top_region_iou(a.data(), b.data(), 2, 5), 1.0 / 3, 1e-12);
    EXPECT_DOUBLE_EQ(top_region_iou(a.data(), a.data(), 2, 5), 1.0);
    std::vector<float> c{9, 8, 0, 0, 0, 0, 0, 0, 0, 0};  // top = {0, 1}: disjoint
    EXPECT_DOUBLE_EQ(top_region_iou(a.data(), c.data(), 2, 5), 0.0);
    // Ties: {7, 8, 9} all 1 -> lower index first -> {7, 8}; with {8, 9}: 1/3.
    std::vector<float> t{0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    EXPECT_NEAR(top_region_iou(a.data(), t.data(), 2, 5), 1.0 / 3, 1e-12);
    std::vector<float> flat(10, 0.3f);
    EXPECT_TRUE(std::isnan(top_region_iou(a.data(), flat.data(), 2, 5)));
}

TEST(Metrics, LabelIssuesConfidentJointRule) {
    const int k = 3;
    std::vector<int> labels{0, 0, 0, 1, 1, 2, 2};
    std::vector<float> p{
        0.80f, 0.10f, 0.10f,  // r0 y0
        0.70f, 0.20f, 0.10f,  // r1 y0
        0.10f, 0.85f, 0.05f,  // r2 y0: p0 < t0, p1 ≥ t1 -> issue, margin 0.75
        0.10f, 0.80f, 0.10f,  // r3 y1
        0.20f, 0.60f, 0.20f,  // r4 y1: p1 < t1 but no other class reaches its threshold
        0.30f, 0.10f, 0.60f,  // r5 y2
        0.55f, 0.05f, 0.40f,  // r6 y2: p2 < t2, p0 ≥ t0 -> issue, margin 0.15
    };
    // t0 = (0.8+0.7+0.1)/3 = 0.5333, t1 = (0.8+0.6)/2 = 0.7, t2 = (0.6+0.4)/2 = 0.5.
    LabelIssues li = find_label_issues(p.data(), labels.data(), labels.size(), k);
    EXPECT_NEAR(li.thresholds[0], 1.6 / 3, 1e-6);
    EXPECT_NEAR(li.thresholds[1], 0.7, 1e-6);
    EXPECT_NEAR(li.thresholds[2], 0.5, 1e-6);
    ASSERT_EQ(li.issues.size(), 2u);
    EXPECT_EQ(li.issues[0].row, 2u);
    EXPECT_EQ(li.issues[0].given, 0);
    EXPECT_EQ(li.issues[0].suggested, 1);
    EXPECT_NEAR(li.issues[0].margin, 0.75, 1e-6);
    EXPECT_EQ(li.issues[1].row, 6u);
    EXPECT_EQ(li.issues[1].suggested, 0);
    EXPECT_NEAR(li.issues[1].margin, 0.15, 1e-6);
}

TEST(Metrics, DegenerateCamHasNoPositiveEvidenceOrIsConstant) {
    // What the engine gives after ReLU + min-max when nothing raises the score: all zeros.
    const std::vector<float> zeros(49, 0.f);
    EXPECT_TRUE(degenerate_cam(zeros.data(), zeros.size()));
    // A single cell of evidence (the 7×7 "one hot cell" maps of a flatten head) is evidence.
    std::vector<float> one = zeros;
    one[24] = 1.f;
    EXPECT_FALSE(degenerate_cam(one.data(), one.size()));
    std::vector<float> tiny = zeros;
    tiny[48] = 1e-6f;  // positive, however small
    EXPECT_FALSE(degenerate_cam(tiny.data(), tiny.size()));
    // Not-yet-scaled maps: all negative is "no positive evidence"; a constant map has no peak.
    std::vector<float> neg(49, -0.3f);
    neg[3] = -0.01f;
    EXPECT_TRUE(degenerate_cam(neg.data(), neg.size()));
    const std::vector<float> flat(49, 0.4f);
    EXPECT_TRUE(degenerate_cam(flat.data(), flat.size()));
    const std::vector<float> single{0.7f};  // a 1×1 map is constant
    EXPECT_TRUE(degenerate_cam(single.data(), single.size()));
    EXPECT_TRUE(degenerate_cam(nullptr, 0));
    const std::vector<float> nan(4, std::nanf(""));
    EXPECT_TRUE(degenerate_cam(nan.data(), nan.size()));
    // Mixed negative and positive values: evidence where positive.
    const std::vector<float> mixed{-1.f, 0.f, 0.5f, -0.2f};
    EXPECT_FALSE(degenerate_cam(mixed.data(), mixed.size()));
}

TEST(Metrics, CamCountShares) {
    CamCount c;
    EXPECT_EQ(c.share(), 0.0) << "no maps: share 0, not NaN";
    for (int i = 0; i < 8; ++i) c.add(i % 4 == 0);  // 2 of 8 degenerate
    EXPECT_EQ(c.maps, 8);
    EXPECT_EQ(c.degenerate, 2);
    EXPECT_EQ(c.usable(), 6);
    EXPECT_DOUBLE_EQ(c.share(), 0.25);
}
