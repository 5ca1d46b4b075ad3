// Unit tests for camscope/faith: the faithfulness metrics on constructed cases whose answers are
// derived by hand in the comments (fake scorers that depend on one known region only), the ROAD
// imputer and its conjugate-gradient solver, and the aggregation / best-method rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "camscope/faith/faithfulness.hpp"
#include "camscope/faith/summary.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

using namespace camscope;
using namespace camscope::faith;

namespace {

// A 1×4×4 image; region R = the left half (columns 0 and 1), 8 of 16 pixels.
constexpr int kH = 4, kW = 4;
const Shape kShape{1, kH, kW};
bool in_r(int i) { return i % kW < 2; }

std::vector<float> region_cam(bool region) {  // 1 on R (or on its complement), 0 elsewhere
    std::vector<float> cam(kH * kW);
    for (int i = 0; i < kH * kW; ++i) cam[i] = in_r(i) == region ? 1.f : 0.f;
    return cam;
}

// Pixel values that no blur or imputation reproduces by accident: distinct, non-zero, irregular.
std::vector<float> irregular_image() {
    std::vector<float> x(kH * kW);
    for (int i = 0; i < kH * kW; ++i) x[i] = 0.3f + 0.1f * static_cast<float>((i * 7) % 11) + 0.013f * i;
    return x;
}

/// "Score" = the share of R's pixels that still hold their clean value: a model that looks at R
/// only and needs every pixel of it.
ProbFn intact_share_of_r(const std::vector<float>& clean) {
    return [clean](const std::vector<float>& batch, int m) {
        std::vector<float> out(m);
        for (int j = 0; j < m; ++j) {
            int intact = 0;
            for (int i = 0; i < kH * kW; ++i)
                if (in_r(i) && std::fabs(batch[j * kH * kW + i] - clean[i]) < 1e-6f) ++intact;
            out[j] = intact / 8.f;
        }
        return out;
    };
}

/// "Score" = a + b·(mean of R) + c·(mean outside R).
ProbFn region_mean(double a, double b, double c) {
    return [=](const std::vector<float>& batch, int m) {
        std::vector<float> out(m);
        for (int j = 0; j < m; ++j) {
            double in = 0, outside = 0;
            for (int i = 0; i < kH * kW; ++i) (in_r(i) ? in : outside) += batch[j * kH * kW + i];
            out[j] = static_cast<float>(a + b * in / 8 + c * outside / 8);
        }
        return out;
    };
}

Params only(bool cam_mult, bool deletion, bool insertion, bool road) {
    Params p;
    p.cam_mult = cam_mult;
    p.deletion = deletion;
    p.insertion = insertion;
    p.road = road;
    return p;
}

}  // namespace

// ------------------------------------------------------------------ building blocks
TEST(Faith, RankPixelsDescendingWithStableTies) {
    const std::vector<float> cam{0.2f, 0.9f, 0.2f, 1.0f, 0.0f, 0.9f};
    EXPECT_EQ(rank_pixels(cam.data(), cam.size()), (std::vector<int>{3, 1, 5, 0, 2, 4}));
    const std::vector<float> flat(5, 0.5f);  // constant CAM: index order
    EXPECT_EQ(rank_pixels(flat.data(), flat.size()), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Faith, StepCountsAndTrapezoid) {
    EXPECT_EQ(step_counts(16, 4), (std::vector<std::size_t>{0, 4, 8, 12, 16}));
    EXPECT_EQ(step_counts(10, 4), (std::vector<std::size_t>{0, 3, 5, 8, 10}));  // 2.5 and 7.5 round up
    EXPECT_DOUBLE_EQ(trapezoid_auc({1, 0}), 0.5);
    EXPECT_DOUBLE_EQ(trapezoid_auc({1, 1, 1}), 1.0);
    EXPECT_DOUBLE_EQ(trapezoid_auc({1, 0.5, 0, 0, 0}), 0.25);  // (0.75 + 0.25) / 4
    EXPECT_DOUBLE_EQ(trapezoid_auc({0.3}), 0.0);
}

TEST(Faith, BlurKeepsConstantsAndIsSymmetric) {
    const Shape s{2, 9, 9};
    std::vector<float> c(s.size(), 0.7f);
    for (float v : gaussian_blur(c.data(), s, 1.5)) EXPECT_NEAR(v, 0.7f, 1e-6);
    std::vector<float> impulse(s.size(), 0.f);
    impulse[4 * 9 + 4] = 1.f;  // centre of channel 0
    const auto b = gaussian_blur(impulse.data(), s, 1.0);
    // Radius 3: the 7×7 kernel fits inside, so the mass is preserved and the response symmetric.
    EXPECT_NEAR(std::accumulate(b.begin(), b.begin() + 81, 0.0), 1.0, 1e-6);
    EXPECT_NEAR(b[4 * 9 + 3], b[4 * 9 + 5], 1e-7);
    EXPECT_NEAR(b[3 * 9 + 4], b[4 * 9 + 3], 1e-7);
    EXPECT_GT(b[4 * 9 + 4], b[4 * 9 + 3]);
    for (int i = 81; i < 162; ++i) EXPECT_EQ(b[i], 0.f);  // channels blur independently
    EXPECT_EQ(gaussian_blur(impulse.data(), s, 0), impulse);
}

TEST(Faith, ConjugateGradientsMatchDenseSolve) {
    // A = tridiag(-1, 4, -1) + 0.5 at (0,4)/(4,0): symmetric, diagonally dominant -> SPD.
    const int n = 5;
    std::vector<std::vector<double>> dense(n, std::vector<double>(n, 0));
    for (int i = 0; i < n; ++i) {
        dense[i][i] = 4;
        if (i > 0) dense[i][i - 1] = dense[i - 1][i] = -1;
    }
    dense[0][4] = dense[4][0] = 0.5;
    SparseMatrix a;
    a.n = n;
    a.row_ptr.push_back(0);
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j)
            if (dense[i][j] != 0) a.col.push_back(j), a.val.push_back(dense[i][j]);
        a.row_ptr.push_back(static_cast<int>(a.col.size()));
    }
    const std::vector<double> b{1, -2, 3, 0.5, 4};
    // Gaussian elimination (no pivoting needed for a diagonally dominant matrix).
    auto m = dense;
    auto rhs = b;
    for (int k = 0; k < n; ++k)
        for (int i = k + 1; i < n; ++i) {
            const double f = m[i][k] / m[k][k];
            for (int j = k; j < n; ++j) m[i][j] -= f * m[k][j];
            rhs[i] -= f * rhs[k];
        }
    std::vector<double> ref(n);
    for (int i = n - 1; i >= 0; --i) {
        double s = rhs[i];
        for (int j = i + 1; j < n; ++j) s -= m[i][j] * ref[j];
        ref[i] = s / m[i][i];
    }
    std::vector<double> x;
    const auto res = cg_solve(a, b, x);
    EXPECT_TRUE(res.converged);
    EXPECT_LE(res.iterations, n + 1);  // exact arithmetic: at most n steps
    for (int i = 0; i < n; ++i) EXPECT_NEAR(x[i], ref[i], 1e-9) << i;
    std::vector<double> zero;
    EXPECT_TRUE(cg_solve(a, std::vector<double>(n, 0.0), zero).converged);
    for (double v : zero) EXPECT_EQ(v, 0.0);
}

TEST(Faith, ImputerReproducesALinearRampExactly) {
    // For a linear function, the symmetric 8-neighbour mean at an interior pixel IS the pixel's
    // value, so with only interior pixels removed the unique solution is the ramp itself.
    const Shape s{2, 8, 8};
    std::vector<float> ramp(s.size());
    for (int c = 0; c < 2; ++c)
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x) ramp[(c * 8 + y) * 8 + x] = 0.5f + 0.25f * x - 0.125f * y + c;
    std::vector<std::uint8_t> removed(64, 0);
    for (int y = 2; y <= 4; ++y)
        for (int x = 2; x <= 5; ++x) removed[y * 8 + x] = 1;  // a 3×4 block: coupled unknowns
    removed[1 * 8 + 6] = removed[6 * 8 + 1] = 1;              // and isolated ones
    auto img = ramp;
    for (int c = 0; c < 2; ++c)
        for (int i = 0; i < 64; ++i)
            if (removed[i]) img[c * 64 + i] = 99.f;  // garbage the imputer must overwrite
    impute_noisy_linear(img.data(), s, removed, 0.0, 1);
    for (size_t i = 0; i < img.size(); ++i) EXPECT_NEAR(img[i], ramp[i], 1e-5) << i;

    // A border pixel: the in-bounds weights are renormalised, so a constant stays constant.
    std::vector<float> flat(64, 0.3f);
    std::vector<std::uint8_t> corner(64, 0);
    corner[0] = corner[7] = corner[63] = 1;
    flat[0] = flat[7] = flat[63] = -5.f;
    impute_noisy_linear(flat.data(), {1, 8, 8}, corner, 0.0, 1);
    for (float v : flat) EXPECT_NEAR(v, 0.3f, 1e-6);
}

TEST(Faith, ImputerNoiseIsSeededAndHasTheRequestedSpread) {
    const Shape s{1, 64, 64};
    std::vector<std::uint8_t> removed(s.pixels(), 0);
    for (size_t i = 0; i < removed.size(); i += 2) removed[i] = 1;  // 2048 unknowns
    std::vector<float> a(s.size(), 0.25f), b = a, c = a;
    impute_noisy_linear(a.data(), s, removed, 0.01, 42);
    impute_noisy_linear(b.data(), s, removed, 0.01, 42);
    impute_noisy_linear(c.data(), s, removed, 0.01, 43);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    double sum = 0, sq = 0;
    int n = 0;
    for (size_t i = 0; i < removed.size(); ++i) {
        if (!removed[i]) {
            EXPECT_EQ(a[i], 0.25f);  // known pixels are never touched
            continue;
        }
        const double d = a[i] - 0.25;  // the noise-free solution is the constant
        sum += d, sq += d * d, ++n;
    }
    const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
    EXPECT_NEAR(mean, 0.0, 0.001);  // 4 standard errors (0.01/sqrt(2048) ≈ 0.00022)
    EXPECT_NEAR(sd, 0.01, 0.001);
    // Everything removed: nothing to impute from -> the mean colour (0), exactly without noise.
    std::vector<float> all(16, 3.f);
    impute_noisy_linear(all.data(), {1, 4, 4}, std::vector<std::uint8_t>(16, 1), 0.0, 1);
    for (float v : all) EXPECT_EQ(v, 0.f);
}

TEST(Faith, NormalNoiseIsReproducible) {
    EXPECT_EQ(normal_noise(101, 7), normal_noise(101, 7));
    EXPECT_NE(normal_noise(101, 7), normal_noise(101, 8));
    EXPECT_NE(mix_seed(1, 2), mix_seed(2, 1));
}

// ------------------------------------------------------------------ metrics on known cases
TEST(Faith, DeletionAndInsertionOfTheRegionTheModelUses) {
    // Score = share of R intact. S = 4 steps of 4 pixels. CAM = R: R's 8 pixels are ranked first.
    //   deletion : 1, 4/8, 0, 0, 0          AUC = (0.75 + 0.25 + 0 + 0)/4 = 0.25
    //   insertion: 0, 4/8, 1, 1, 1          AUC = (0.25 + 0.75 + 1 + 1)/4 = 0.75
    // CAM = complement: the 8 pixels outside R go first.
    //   deletion : 1, 1, 1, 4/8, 0          AUC = (1 + 1 + 0.75 + 0.25)/4 = 0.75
    //   insertion: 0, 0, 0, 4/8, 1          AUC = 0.25
    const auto x = irregular_image();
    Params p = only(false, true, true, false);
    p.steps = 4;
    const auto good = evaluate_image(x.data(), region_cam(true).data(), kShape, p, intact_share_of_r(x));
    EXPECT_EQ(good.deletion, (std::vector<double>{1, 0.5, 0, 0, 0}));
    EXPECT_EQ(good.insertion, (std::vector<double>{0, 0.5, 1, 1, 1}));
    EXPECT_DOUBLE_EQ(good.deletion_auc, 0.25);
    EXPECT_DOUBLE_EQ(good.insertion_auc, 0.75);
    const auto bad = evaluate_image(x.data(), region_cam(false).data(), kShape, p, intact_share_of_r(x));
    EXPECT_EQ(bad.deletion, (std::vector<double>{1, 1, 1, 0.5, 0}));
    EXPECT_EQ(bad.insertion, (std::vector<double>{0, 0, 0, 0.5, 1}));
    EXPECT_DOUBLE_EQ(bad.deletion_auc, 0.75);
    EXPECT_DOUBLE_EQ(bad.insertion_auc, 0.25);
    EXPECT_TRUE(std::isnan(good.average_drop));  // switched off
    EXPECT_TRUE(std::isnan(good.road_combined));
}

TEST(Faith, DeletionSetsPixelsToTheMeanColour) {
    // Score = mean of R on an all-ones image; S = 4 steps of 4 pixels, R (8 pixels) ranked first:
    // 1, 0.5, 0, 0, 0 (the removed pixels become exactly 0 = the dataset mean in normalised space).
    // With S = 2 the first step already removes all of R: 1, 0, 0.
    std::vector<float> ones(16, 1.f);
    Params p = only(false, true, false, false);
    p.steps = 4;
    auto s = evaluate_image(ones.data(), region_cam(true).data(), kShape, p, region_mean(0, 1, 0));
    EXPECT_EQ(s.deletion, (std::vector<double>{1, 0.5, 0, 0, 0}));
    EXPECT_DOUBLE_EQ(s.deletion_auc, 0.25);  // (0.75 + 0.25 + 0 + 0)/4
    p.steps = 2;
    s = evaluate_image(ones.data(), region_cam(true).data(), kShape, p, region_mean(0, 1, 0));
    EXPECT_EQ(s.deletion, (std::vector<double>{1, 0, 0}));
    EXPECT_DOUBLE_EQ(s.deletion_auc, 0.25);  // (0.5 + 0)/2
}

TEST(Faith, AverageDropAndIncreaseInConfidence) {
    std::vector<float> ones(16, 1.f);
    const Params p = only(true, false, false, false);
    // p = 0.8·mean(R). CAM = 0.5 on R: x⊙cam has mean(R) = 0.5 -> p̃ = 0.4; drop = 0.4/0.8 = 50 %.
    std::vector<float> half = region_cam(true);
    for (auto& v : half) v *= 0.5f;
    auto s = evaluate_image(ones.data(), half.data(), kShape, p, region_mean(0, 0.8, 0));
    EXPECT_NEAR(s.p_clean, 0.8, 1e-6);
    EXPECT_NEAR(s.p_cam_mult, 0.4, 1e-6);
    EXPECT_NEAR(s.average_drop, 50.0, 1e-4);
    EXPECT_EQ(s.increase, 0);
    // CAM = 1 on R: the model sees the same R -> no drop, no increase (p̃ = p is not an increase).
    s = evaluate_image(ones.data(), region_cam(true).data(), kShape, p, region_mean(0, 0.8, 0));
    EXPECT_NEAR(s.average_drop, 0.0, 1e-6);
    EXPECT_EQ(s.increase, 0);
    // p = 0.9 - 0.5·mean(outside R): clean 0.4; masking the outside gives 0.9 -> increase, drop 0.
    s = evaluate_image(ones.data(), region_cam(true).data(), kShape, p, region_mean(0.9, 0, -0.5));
    EXPECT_NEAR(s.p_clean, 0.4, 1e-6);
    EXPECT_NEAR(s.p_cam_mult, 0.9, 1e-6);
    EXPECT_EQ(s.average_drop, 0);
    EXPECT_EQ(s.increase, 1);
}

TEST(Faith, RoadMorfAndLerfOfTheRegionTheModelUses) {
    // Score = share of R intact; CAM = R; percentiles 25/50/75 remove 4, 8, 12 pixels.
    //   MoRF removes ranks 0..k-1 (R first): R intact 4/8, 0, 0           mean 1/6
    //   LeRF removes the last k ranks: 4 and 8 from outside R -> 1, 1; 12 -> ranks 4..15 -> 4/8
    //                                                                    mean 5/6
    //   combined = (5/6 - 1/6)/2 = 1/3
    const auto x = irregular_image();
    Params p = only(false, false, false, true);
    p.road_percentiles = {25, 50, 75};
    p.road_noise = 0;
    const auto s = evaluate_image(x.data(), region_cam(true).data(), kShape, p, intact_share_of_r(x));
    EXPECT_EQ(s.road_morf, (std::vector<double>{0.5, 0, 0}));
    EXPECT_EQ(s.road_lerf, (std::vector<double>{1, 1, 0.5}));
    EXPECT_NEAR(s.road_morf_mean, 1.0 / 6, 1e-12);
    EXPECT_NEAR(s.road_lerf_mean, 5.0 / 6, 1e-12);
    EXPECT_NEAR(s.road_combined, 1.0 / 3, 1e-12);
    // The wrong CAM swaps the roles.
    const auto w = evaluate_image(x.data(), region_cam(false).data(), kShape, p, intact_share_of_r(x));
    EXPECT_NEAR(w.road_combined, -1.0 / 3, 1e-12);
}

TEST(Faith, PerturbationLayoutAndEdgeCases) {
    const auto x = irregular_image();
    Params p;  // everything on: 1 clean + 1 cam_mult + 16 + 16 + 2·9 = 52 rows
    int calls = 0, rows = 0;
    ProbFn count = [&](const std::vector<float>& batch, int m) {
        ++calls;
        rows = m;
        EXPECT_EQ(batch.size(), static_cast<size_t>(m) * 16);
        return std::vector<float>(m, 0.5f);
    };
    const auto s = evaluate_image(x.data(), region_cam(true).data(), kShape, p, count);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(rows, 52);
    EXPECT_EQ(s.deletion.size(), 17u);
    EXPECT_EQ(s.road_morf.size(), 9u);
    EXPECT_DOUBLE_EQ(s.deletion_auc, 0.5);  // a constant scorer gives its value everywhere
    EXPECT_DOUBLE_EQ(s.road_combined, 0);

    // p = 0: ROAD leaves the image untouched (no pixel imputed, so no noise either).
    Params p0 = only(false, false, false, true);
    p0.road_percentiles = {0};
    const auto pert = perturb(x.data(), region_cam(true).data(), kShape, p0, 5);
    ASSERT_EQ(pert.rows, 3);
    for (int r : {pert.morf_rows[0], pert.lerf_rows[0]})
        for (int i = 0; i < 16; ++i) EXPECT_EQ(pert.inputs[r * 16 + i], x[i]);

    // Constant CAM: pixels go in index order (deletion of the first half = rows 0 and 1).
    Params pd = only(false, true, false, false);
    pd.steps = 2;
    const std::vector<float> flat(16, 0.3f);
    const auto pf = perturb(x.data(), flat.data(), kShape, pd);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(pf.inputs[pf.deletion_rows[1] * 16 + i], i < 8 ? 0.f : x[i]);

    // Same image seed -> same ROAD inputs; the seed in Params changes them.
    Params pr = only(false, false, false, true);
    const auto r1 = perturb(x.data(), region_cam(true).data(), kShape, pr, 9);
    const auto r2 = perturb(x.data(), region_cam(true).data(), kShape, pr, 9);
    EXPECT_EQ(r1.inputs, r2.inputs);
    pr.seed = 1;
    EXPECT_NE(perturb(x.data(), region_cam(true).data(), kShape, pr, 9).inputs, r1.inputs);
}

TEST(Faith, BadInputsAreRejected) {
    const auto x = irregular_image();
    auto cam = region_cam(true);
    Params p;
    p.steps = 0;
    EXPECT_THROW(perturb(x.data(), cam.data(), kShape, p), UsageError);
    p = Params{};
    p.road_percentiles = {50, 101};
    EXPECT_THROW(perturb(x.data(), cam.data(), kShape, p), UsageError);
    p = Params{};
    EXPECT_THROW(perturb(x.data(), cam.data(), {0, 4, 4}, p), UsageError);
    cam[3] = std::nanf("");
    EXPECT_THROW(perturb(x.data(), cam.data(), kShape, p), Error);
    const auto pert = perturb(x.data(), region_cam(true).data(), kShape, p);
    EXPECT_THROW(score(pert, std::vector<float>(3, 0.f)), UsageError);
}

// ------------------------------------------------------------------ aggregation
namespace {

ImageRecord rec(int method, int index, int label, int pred, double drop, double del, double ins, double comb) {
    ImageRecord r;
    r.method = method;
    r.index = index;
    r.label = label;
    r.pred = pred;
    r.scores.average_drop = drop;
    r.scores.increase = drop == 0 ? 1 : 0;
    r.scores.deletion_auc = del;
    r.scores.insertion_auc = ins;
    r.scores.road_morf_mean = 0.5 - comb;
    r.scores.road_lerf_mean = 0.5 + comb;
    r.scores.road_combined = comb;
    return r;
}

}  // namespace

TEST(FaithSummary, GroupsMeansAndTheBestMethod) {
    // Method "a" beats "b" on every metric; image 1 is wrong (label 1, predicted 0).
    std::vector<ImageRecord> r{
        rec(0, 10, 0, 0, 10, 0.1, 0.9, 0.3),
        rec(0, 20, 1, 0, 0, 0.3, 0.7, 0.1),
        rec(1, 10, 0, 0, 40, 0.5, 0.5, 0.0),
        rec(1, 20, 1, 0, 20, 0.7, 0.3, -0.2),
    };
    const Summary s = summarize(r, {"a", "b"}, {"cat", "dog"}, Params{});
    EXPECT_EQ(s.n_images, 2u);
    const GroupRow* a = s.find("a", "overall");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->n, 2);
    EXPECT_NEAR(a->average_drop, 5, 1e-12);
    EXPECT_NEAR(a->increase_in_confidence, 50, 1e-12);  // one of two images
    EXPECT_NEAR(a->deletion_auc, 0.2, 1e-12);
    EXPECT_NEAR(a->insertion_auc, 0.8, 1e-12);
    EXPECT_NEAR(a->road_combined, 0.2, 1e-12);
    EXPECT_EQ(s.find("a", "correct")->n, 1);
    EXPECT_NEAR(s.find("b", "wrong")->deletion_auc, 0.7, 1e-12);
    EXPECT_NEAR(s.find("b", "class:dog")->average_drop, 20, 1e-12);
    EXPECT_EQ(s.best, "a");
    ASSERT_EQ(s.ranking.size(), 2u);
    EXPECT_DOUBLE_EQ(s.ranking[0].mean_rank, 1.0);
    EXPECT_DOUBLE_EQ(s.ranking[1].mean_rank, 2.0);
    EXPECT_NE(headline(s).find("a scores best"), std::string::npos) << headline(s);
    EXPECT_NE(headline(s).find("deletion AUC 0.200"), std::string::npos) << headline(s);

    // CSV: header + per method overall, correct, wrong, class:cat, class:dog.
    const auto lines = split(summary_csv(s), '\n');
    EXPECT_EQ(lines[0],
              "method,group,n,degenerate,average_drop,increase_in_confidence,deletion_auc,insertion_auc,road_morf,"
              "road_lerf,road_combined");
    EXPECT_EQ(lines.size(), 1 + 2 * 5 + 1u);  // trailing newline -> one empty piece
    const auto j = nlohmann::json::parse(summary_json(s));
    EXPECT_EQ(j["best"]["method"], "a");
    EXPECT_EQ(j["tables"].size(), 10u);
    EXPECT_TRUE(j["definitions"].contains("deletion_auc"));
    const auto png = summary_png(s);
    ASSERT_GT(png.size(), 8u);
    EXPECT_EQ(png[1], 'P');
}

TEST(FaithSummary, TiesShareRanksAndEmptyGroupsAreNaN) {
    // Equal on everything: both mean rank 1.5; the tie-break (insertion - deletion) is equal too,
    // so the earlier method wins. No wrong predictions: "wrong" has n = 0 and NaN means.
    std::vector<ImageRecord> r{rec(0, 0, 0, 0, 10, 0.2, 0.6, 0.1), rec(1, 0, 0, 0, 10, 0.2, 0.6, 0.1)};
    const Summary s = summarize(r, {"x", "y"}, {"only"}, Params{});
    EXPECT_DOUBLE_EQ(s.ranking[0].mean_rank, 1.5);
    EXPECT_DOUBLE_EQ(s.ranking[1].mean_rank, 1.5);
    EXPECT_EQ(s.best, "x");
    EXPECT_EQ(s.find("x", "wrong")->n, 0);
    EXPECT_TRUE(std::isnan(s.find("x", "wrong")->deletion_auc));
    const auto j = nlohmann::json::parse(summary_json(s));
    for (const auto& row : j["tables"]) {
        if (row["group"] == "wrong") {
            EXPECT_TRUE(row["deletion_auc"].is_null());
        }
    }
    // A missing value ranks last and never ties a real one; values within 0.1 % tie.
    std::vector<ImageRecord> r3{rec(0, 0, 0, 0, 10, 0.2, 0.6, 0.1), rec(1, 0, 0, 0, 10, 0.2, 0.6, 0.1),
                                rec(2, 0, 0, 0, 10, 0.2, 0.6, 0.1)};
    r3[1].scores.deletion_auc = std::nan("");
    r3[2].scores.deletion_auc = 0.2001;  // 0.05 % above: a tie with method 0
    const Summary s3 = summarize(r3, {"x", "y", "z"}, {"only"}, Params{});
    const auto del = std::find(s3.ranked_metrics.begin(), s3.ranked_metrics.end(), "deletion_auc") -
                     s3.ranked_metrics.begin();
    for (const auto& mr : s3.ranking) EXPECT_DOUBLE_EQ(mr.ranks[del], mr.method == "y" ? 3.0 : 1.5) << mr.method;
    // Metrics switched off do not enter the rule.
    Params p;
    p.road = false;
    EXPECT_EQ(summarize(r, {"x", "y"}, {"only"}, p).ranked_metrics,
              (std::vector<std::string>{"average_drop", "increase_in_confidence", "deletion_auc", "insertion_auc"}));
}
