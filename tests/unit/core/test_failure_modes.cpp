// Failure modes (report/failure_modes.hpp) on planted causes: the errors of class "a" come from two
// causes planted in their CAMs — a bright patch in the top-left corner that the predicted-class map
// sits on, and a colour shift whose predicted-class map covers the whole image — both predicted as
// "b", so only the maps tell them apart. The groups must recover the causes (purity >= 90 %), the
// description must name the patch's corner, and correct rows carry no mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "camscope/report/analysis.hpp"
#include "camscope/report/explorer.hpp"
#include "support/report_input.hpp"

namespace camscope {
namespace {

constexpr int kH = 8, kW = 8;

/// A map from a shape function, plus seeded uniform noise of `noise`, min-maxed to [0, 1] as the
/// engine delivers CAMs.
template <class F>
std::vector<float> map_of(F shape, std::mt19937& rng, double noise) {
    std::uniform_real_distribution<double> u(0, noise);
    std::vector<float> m(kH * kW);
    for (int y = 0; y < kH; ++y)
        for (int x = 0; x < kW; ++x) m[y * kW + x] = static_cast<float>(shape(y, x) + u(rng));
    const auto [lo, hi] = std::minmax_element(m.begin(), m.end());
    const float a = *lo, b = *hi;
    for (float& v : m) v = (v - a) / (b - a);
    return m;
}

double centre_blob(int y, int x) { return std::exp(-((y - 3.5) * (y - 3.5) + (x - 3.5) * (x - 3.5)) / 3.0); }
double corner_patch(int y, int x) { return y < 2 && x < 2 ? 1.0 : 0.0; }
double everywhere(int, int) { return 1.0; }

enum Cause { kCorrect, kPatch, kColour };

struct Planted {
    AnalysisInput in;
    std::vector<Cause> cause;  // per row
};

Planted planted() {
    Planted p{support::report_input({"a", "b", "c"}, kH, kW, 32, 32), {}};
    std::mt19937 rng(7);
    int index = 0;
    auto add = [&](int label, int pred, Cause c, std::vector<float> pm, std::vector<float> tm) {
        std::vector<double> logits(3, 0.0);
        logits[pred] = 3.0;
        support::add_row(p.in, index++, label, logits, pm, tm);
        p.cause.push_back(c);
    };
    for (int i = 0; i < 40; ++i) {  // correct images of each class: the object in the centre
        for (int c = 0; c < 3; ++c) {
            auto m = map_of(centre_blob, rng, 0.2);
            add(c, c, kCorrect, m, m);
        }
    }
    for (int i = 0; i < 24; ++i)  // cause 1: the bright top-left patch, a shortcut for "b"
        add(0, 1, kPatch, map_of(corner_patch, rng, 0.3), map_of(centre_blob, rng, 0.3));
    for (int i = 0; i < 18; ++i)  // cause 2: a colour shift, "b"'s colour all over the image
        add(0, 1, kColour, map_of(everywhere, rng, 0.6), map_of(centre_blob, rng, 0.3));
    // A few errors of "c" (fewer than the minimum: no group).
    for (int i = 0; i < 3; ++i) add(2, 0, kPatch, map_of(corner_patch, rng, 0.3), map_of(centre_blob, rng, 0.3));
    return p;
}

TEST(FailureModes, PlantedCausesAreRecoveredAndDescribed) {
    const Planted p = planted();
    AnalysisOptions opt;
    opt.progress = false;
    const Report r = build_report(p.in, opt);
    ASSERT_TRUE(r.failure_modes.has_value());
    const FailureModes& f = *r.failure_modes;
    // One class group ("a": 42 errors) and one pair group (a -> b, the same errors).
    ASSERT_EQ(f.groups.size(), 2u);
    for (const FailureGroup& g : f.groups) {
        EXPECT_EQ(g.a, 0);
        EXPECT_EQ(g.errors, 42);
        ASSERT_EQ(g.k, 2) << g.kind << ": silhouette " << g.best_silhouette;
        EXPECT_GE(g.best_silhouette, opt.failure_min_silhouette);
        // Purity: each mode's most frequent cause, summed over the modes, over the group's errors.
        long long majority = 0, total = 0;
        const FailureMode* patch_mode = nullptr;
        for (int id : g.modes) {
            const FailureMode& m = f.modes[id];
            std::map<Cause, long long> count;
            for (size_t row : m.rows) ++count[p.cause[row]];
            long long best = 0;
            Cause which = kCorrect;
            for (auto [c, n] : count)
                if (n > best) best = n, which = c;
            majority += best;
            total += static_cast<long long>(m.rows.size());
            if (which == kPatch) patch_mode = &m;
            EXPECT_EQ(m.goes_to.size(), 1u);
            EXPECT_EQ(m.goes_to[0].first, 1);
        }
        EXPECT_EQ(total, 42);
        EXPECT_GE(double(majority) / double(total), 0.9) << g.kind;
        ASSERT_NE(patch_mode, nullptr);
        EXPECT_EQ(patch_mode->location, "top-left corner");
        EXPECT_NE(patch_mode->description.find("top-left corner"), std::string::npos) << patch_mode->description;
        // Measured against the correct images: the patch mode's centre share is far below theirs.
        EXPECT_LT(patch_mode->centre_share, g.reference_centre - 0.2) << patch_mode->description;
        EXPECT_NE(patch_mode->description.find(" vs "), std::string::npos);
        for (int id : g.modes) {
            if (&f.modes[id] == patch_mode) continue;
            EXPECT_NE(f.modes[id].description.find("all over the image"), std::string::npos) << f.modes[id].description;
        }
    }
    // mode_of_row: the class group's modes for the errors of "a", -1 elsewhere.
    ASSERT_EQ(f.mode_of_row.size(), p.in.n);
    for (size_t i = 0; i < p.in.n; ++i) {
        const bool error_of_a = p.in.labels[i] == 0 && r.rows[i].pred != 0;
        if (!error_of_a) {
            EXPECT_EQ(f.mode_of_row[i], -1) << "row " << i;
            continue;
        }
        ASSERT_GE(f.mode_of_row[i], 0);
        const FailureMode& m = f.modes[f.mode_of_row[i]];
        EXPECT_EQ(f.groups[m.group].kind, "class");
        EXPECT_TRUE(std::binary_search(m.rows.begin(), m.rows.end(), i));
    }
    // The explorer's copy: the class group's modes and the rows' mode ids, and back.
    const ExplorerData d = explorer_from_json(explorer_data(r, p.in), "data");
    ASSERT_TRUE(d.failure_modes.has_value());
    ASSERT_EQ(d.failure_modes->size(), 2u);
    ASSERT_TRUE(d.rows.mode.has_value());
    for (size_t i = 0; i < p.in.n; ++i) EXPECT_EQ((*d.rows.mode)[i] >= 0, f.mode_of_row[i] >= 0);
}

TEST(FailureModes, OneCauseIsOneMode) {
    // Only the patch cause: no split reaches the silhouette threshold, one mode of every error.
    Planted p{support::report_input({"a", "b"}, kH, kW, 32, 32), {}};
    std::mt19937 rng(11);
    for (int i = 0; i < 30; ++i) {
        auto m = map_of(centre_blob, rng, 0.2);
        support::add_row(p.in, i, 0, {3, 0}, m, m);
    }
    for (int i = 0; i < 20; ++i)
        support::add_row(p.in, 100 + i, 0, {0, 3}, map_of(corner_patch, rng, 0.1), map_of(centre_blob, rng, 0.1));
    AnalysisOptions opt;
    opt.progress = false;
    const Report r = build_report(p.in, opt);
    ASSERT_TRUE(r.failure_modes.has_value());
    const FailureGroup& g = r.failure_modes->groups.at(0);
    EXPECT_EQ(g.k, 1);
    EXPECT_LT(g.best_silhouette, opt.failure_min_silhouette);
    const FailureMode& m = r.failure_modes->modes.at(g.modes.at(0));
    EXPECT_EQ(m.rows.size(), 20u);
    EXPECT_DOUBLE_EQ(m.share, 1.0);
    EXPECT_EQ(m.location, "top-left corner");
    EXPECT_EQ(m.typical.size(), static_cast<size_t>(opt.failure_gallery));
}

TEST(FailureModes, OffAndRegions) {
    const Planted p = planted();
    AnalysisOptions opt;
    opt.progress = false;
    opt.failure_max_k = 0;
    EXPECT_FALSE(build_report(p.in, opt).failure_modes.has_value());
    EXPECT_EQ(image_region(0.1, 0.1), "top-left corner");
    EXPECT_EQ(image_region(0.1, 0.9), "top-right corner");
    EXPECT_EQ(image_region(0.9, 0.5), "bottom edge");
    EXPECT_EQ(image_region(0.5, 0.5), "centre");
    EXPECT_EQ(image_region(0.5, 0.05), "left edge");
}

}  // namespace
}  // namespace camscope
