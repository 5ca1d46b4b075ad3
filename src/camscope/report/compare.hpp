#pragma once
// Two stores of the same data (before/after retraining, two architectures): what B fixed and what
// it broke. compare_stores() computes everything (paired, image by image); compare_json() and
// compare_html() only format it. Torch-free.
//
//   accuracy and ECE of each model and B − A with a paired percentile bootstrap interval (the same
//   resampled images for both models);
//   McNemar's test on the paired predictions: b = A right & B wrong ("broken"), c = A wrong & B
//   right ("fixed"); exact two-sided binomial p = min(1, 2·P[X ≤ min(b,c)]), X ~ Bin(b+c, ½), and
//   the continuity-corrected χ² = (|b−c|−1)²/(b+c) with its 1-dof p (McNemar 1947; Edwards 1948);
//   per class (by true class) and per directed confused pair: counts in A and B, fixed and broken;
//   where the attention moved: per class, the mean top-20 % region IoU of the two models' CAMs of
//   the true class at A's input size (maps without positive evidence left out, with their N).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "camscope/image/image.hpp"
#include "camscope/report/explorer.hpp"  // WebAsset
#include "camscope/report/store.hpp"

namespace camscope {

/// The fewest resamples a percentile interval is drawn from (fewer give a noisy or zero-width
/// "95 %" interval; compare_stores refuses them).
inline constexpr int kMinBootstrap = 100;

struct CompareOptions {
    int bootstrap = 2000;           // resamples for the intervals (>= kMinBootstrap)
    std::uint64_t seed = 20241130;  // fixed: the same stores give the same intervals
    double level = 0.95;
    int ece_bins = 15;
    std::size_t max_listed = 200;   // fixed / broken image indices listed in compare.json
    std::size_t gallery_k = 12;     // rows of fixed.png and broken.png
};

struct Interval {
    double estimate = 0, lo = 0, hi = 0;
};

struct ClassComparison {
    int cls = 0;
    long long support = 0, correct_a = 0, correct_b = 0, fixed = 0, broken = 0;
    double cam_iou = 0;    // mean true-class CAM IoU between A and B (NaN without usable maps)
    long long cam_n = 0;   // images that entered the mean
};

struct PairComparison {
    int a = 0, b = 0;                  // true a predicted as b
    long long count_a = 0, count_b = 0;  // in model A, in model B
    long long fixed = 0;               // a→b in A, right in B
    long long broken = 0;              // right in A, a→b in B
};

/// Whether each model got an image right: fixed = A wrong, B right; broken = A right, B wrong.
enum class PairStatus { both_right, fixed, broken, both_wrong };
const char* status_name(PairStatus s);  // "both-right", "fixed", "broken", "both-wrong"

/// One image's paired predictions (conf: each model's softmax confidence in its own prediction).
struct PairedRow {
    std::size_t row = 0;
    int index = 0, label = 0, pred_a = 0, pred_b = 0;
    float conf_a = 0, conf_b = 0;
    PairStatus status = PairStatus::both_right;
};

struct Comparison {
    std::string path_a, path_b;
    RunIdentity id_a, id_b;
    std::vector<std::string> class_names;
    std::size_t n = 0;
    double acc_a = 0, acc_b = 0, ece_a = 0, ece_b = 0;
    Interval acc_delta, ece_delta;     // B − A
    int bootstrap = 0;
    double level = 0.95;
    long long both_right = 0, fixed = 0, broken = 0, both_wrong = 0;
    double mcnemar_p_exact = 1, mcnemar_chi2 = 0, mcnemar_p_chi2 = 1;
    std::vector<ClassComparison> per_class;
    std::vector<PairComparison> pairs;  // every pair confused by A or B, by |count_b − count_a| desc
    std::vector<int> fixed_images, broken_images;  // dataset indices (the first max_listed)
    /// The galleries' images: fixed ones by B's confidence in the right class, broken ones by B's
    /// confidence in its wrong class (descending; ties by index), the first gallery_k of each.
    std::vector<PairedRow> fixed_gallery, broken_gallery;
    std::vector<PairedRow> rows;  // every image, in the stores' row order (the explorer's list)
};

/// Exact two-sided McNemar p for b and c discordant pairs.
double mcnemar_exact_p(long long b, long long c);
/// Continuity-corrected McNemar χ² (0 when b + c = 0) and its p (1 dof).
double mcnemar_chi2(long long b, long long c);
double chi2_1dof_p(double chi2);

/// Throws Error when the stores are not of the same data (dataset fingerprint, size, split, class
/// names, the images analysed) or are not complete runs (a shard: merge it first).
Comparison compare_stores(const Store& a, const Store& b, const CompareOptions& opt = {});

/// `galleries`: whether fixed.png / broken.png were drawn (listed in the JSON and shown in the HTML).
std::string compare_json(const Comparison& c, bool galleries);
std::string compare_html(const Comparison& c, bool galleries);
/// fixed.png (`fixed` true) or broken.png: per image its thumbnail, A's CAM of A's prediction and
/// B's CAM of B's prediction (at the dataset image's size; hatched and stamped where a map has no
/// positive evidence). `image(index)` gives dataset image `index`.
std::vector<std::uint8_t> compare_gallery_png(const Comparison& c, const Store& a, const Store& b, bool fixed,
                                              const std::function<Image(int index)>& image);

/// A file of the comparison's explorer: its path under explorer/ and its bytes.
struct CompareFile {
    std::string name;
    std::vector<std::uint8_t> bytes;
};

/// The comparison's explorer, <diff>/explorer/ (an offline page, web/compare.*): every file of
/// compare_web_assets() (compare.html as index.html, compare.js, compare.css, dom.js), data.js (window.CAMSCOPE_COMPARE: both run identities, the classes,
/// one row per image with both predictions and its status) and, with `image` (the dataset's
/// images; empty: no pictures), the gallery images' pictures and both models' CAM overlays of
/// their predictions as img/<index>.png, img/<index>_a.png, img/<index>_b.png (the overlays of
/// fixed.png and broken.png at the image's size).
/// The page's files (web/compare.html, .js, .css and the explorer's web/explorer/dom.js), embedded
/// at build time apart from the main explorer's web_assets() (CMakeLists.txt lists them;
/// cmake/embed_assets.cmake).
const std::vector<WebAsset>& compare_web_assets();

std::vector<CompareFile> compare_explorer_files(const Comparison& c, const Store& a, const Store& b,
                                                const std::function<Image(int index)>& image);

}  // namespace camscope
