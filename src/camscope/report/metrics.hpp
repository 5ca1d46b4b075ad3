#pragma once
// Classification metrics on plain arrays: no torch, no I/O. Every function is pure and takes
// row-major buffers with explicit sizes; inputs are checked on entry (Error naming the argument
// and the bad value). The analysis report (analysis.hpp) is built from these; its writers only
// format what these return.
//
// Conventions used throughout:
//  - scores/probs are n×K row-major; labels are in [0, K).
//  - the prediction is the first index of the row maximum (numpy's argmax).
//  - "confidence" is the softmax probability of the predicted class.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "camscope/image/cam_view.hpp"
#include "camscope/report/intervals.hpp"

namespace camscope::metrics {

// ------------------------------------------------------------------ confusion matrix

struct ConfusionMatrix {
    int k = 0;
    std::vector<long long> counts;  // k×k, counts[true*k + pred]

    long long at(int truth, int pred) const { return counts[static_cast<size_t>(truth) * k + pred]; }
    long long row_sum(int truth) const;  // support of class `truth`
    long long col_sum(int pred) const;   // how often `pred` was predicted
    long long total() const;
    long long trace() const;             // correct predictions
};

/// Predictions (row argmax, first index on ties) of an n×k score matrix.
std::vector<int> argmax_rows(const float* scores, size_t n, int k);
/// Confusion matrix of labels vs predictions (both size n, values in [0,k)).
ConfusionMatrix confusion_matrix(const int* labels, const int* preds, size_t n, int k);

/// Share of rows whose label is among the `topk` highest scores (topk clamped to k). Ties are
/// broken like argmax: among equal scores the lower class index ranks first.
double topk_accuracy(const float* scores, const int* labels, size_t n, int k, int topk);

// ------------------------------------------------------------------ per class

struct ClassStats {
    int cls = 0;
    long long support = 0;     // images whose true label is cls
    long long correct = 0;
    long long predicted = 0;   // images predicted as cls
    double recall = 0;         // = per-class accuracy, correct / support (0 if support is 0)
    double precision = 0;      // correct / predicted (0 if never predicted, as sklearn's zero_division=0)
    double f1 = 0;             // 2PR/(P+R), 0 if P+R = 0
    double mean_confidence = 0;  // mean top-1 confidence over images labelled cls (0 if none)
    int most_confused_with = -1;   // the class cls is most often mistaken for (-1 if no errors);
    long long most_confused_count = 0;  // ties: lower class index
    /// 95 % Wilson intervals of recall (correct of support) and precision (correct of predicted);
    /// set by build_report (NaN where the denominator is 0), not by per_class_stats.
    intervals::Interval recall_ci, precision_ci;
};

/// Per-class statistics. `confidence` is the top-1 confidence per row (size n), `labels` size n.
std::vector<ClassStats> per_class_stats(const ConfusionMatrix& cm, const int* labels, const float* confidence,
                                        size_t n);

// ------------------------------------------------------------------ confused pairs

/// Directed pair: images of true class `a` predicted as `b`. rate = count / support(a).
struct DirectedPair {
    int a = 0, b = 0;
    long long count = 0;
    double rate = 0;
    intervals::Interval rate_ci;  // 95 % Wilson interval of count of support(a); set by build_report
};
/// Unordered pair {a, b}, a < b: count = n(a→b) + n(b→a); rate = count / (support(a) + support(b)).
struct SymmetricPair {
    int a = 0, b = 0;
    long long count = 0, count_ab = 0, count_ba = 0;
    double rate = 0;
    intervals::Interval rate_ci;  // 95 % Wilson interval of count of support(a) + support(b); set by build_report
};
/// Every non-zero off-diagonal cell, sorted by count (desc), then rate (desc), then (a, b).
std::vector<DirectedPair> directed_pairs(const ConfusionMatrix& cm);
/// Every pair with a non-zero combined count, same ordering.
std::vector<SymmetricPair> symmetric_pairs(const ConfusionMatrix& cm);

// ------------------------------------------------------------------ superclasses

struct SuperclassStats {
    int coarse = 0;
    int num_fine = 0;        // fine classes in this superclass
    long long support = 0;
    long long errors = 0;    // errors on images of this superclass
    long long within = 0;    // ... predicted as another class of the same superclass
    double coarse_accuracy = 0;  // predicted class lies in the right superclass
};
struct SuperclassShare {
    long long errors = 0;
    long long within = 0;   // true and predicted class share a superclass
    long long cross = 0;
    double within_share = 0;  // within / errors (0 if no errors)
    double cross_share = 0;
    /// What within_share would be if each error picked a wrong class uniformly at random:
    /// mean over errors of (|superclass(true)| - 1) / (K - 1). The measured share is meaningful
    /// relative to this baseline (5 of 99 ≈ 4 % for CIFAR-100).
    double chance_within_share = 0;
    double coarse_accuracy = 0;  // superclass of prediction = superclass of label, over all images
    std::vector<SuperclassStats> per_superclass;  // size = number of superclasses
};
/// `fine_to_coarse` has size cm.k with values in [0, num_coarse).
SuperclassShare superclass_share(const ConfusionMatrix& cm, const std::vector<int>& fine_to_coarse, int num_coarse);

// ------------------------------------------------------------------ confidence extremes

/// Rows with pred != label and confidence >= threshold, by confidence (desc, then row).
std::vector<size_t> high_confidence_errors(const int* labels, const int* preds, const float* confidence, size_t n,
                                           double threshold);
/// Rows with pred == label and confidence < threshold, by confidence (asc, then row).
std::vector<size_t> low_confidence_correct(const int* labels, const int* preds, const float* confidence, size_t n,
                                           double threshold);

// ------------------------------------------------------------------ calibration

struct CalibrationBin {
    double lower = 0, upper = 0;  // the bin is (lower, upper]; bin 0 also takes confidence 0
    long long count = 0;
    double confidence = 0;  // mean confidence of its rows (0 if empty)
    double accuracy = 0;    // share of its rows that are correct (0 if empty)
};
struct Calibration {
    int num_bins = 0;
    long long n = 0;
    double ece = 0;   // Σ_b n_b/N · |acc_b − conf_b| (Guo et al. 2017, eq. 3; equal-width bins)
    double mce = 0;   // max_b over non-empty bins of |acc_b − conf_b|
    double accuracy = 0, mean_confidence = 0;
    double overconfidence = 0;  // mean_confidence − accuracy (> 0: over-confident)
    std::vector<CalibrationBin> bins;
    /// 95 % percentile-bootstrap interval of ece over the images (intervals::bootstrap_ece); set by
    /// build_report for the model as is (TemperatureFit::before), NaN otherwise.
    intervals::Interval ece_ci;
};
/// The equal-width bin of a confidence c in [0, 1] among `bins` > 0: bin b holds (b/B, (b+1)/B], bin 0
/// also c = 0 (the reference implementation of Guo et al.; guarded against rounding in c·B at the
/// edges). One rule for calibration() and intervals::bootstrap_ece.
int calibration_bin(double c, int bins);
/// `confidence` in [0,1] and `correct` (0/1) of size n; `bins` equal-width bins over [0,1].
Calibration calibration(const float* confidence, const std::uint8_t* correct, size_t n, int bins = 15);

/// Mean negative log-likelihood of softmax(logits / T) at the labels (double precision,
/// log-sum-exp stabilised).
double mean_nll(const float* logits, const int* labels, size_t n, int k, double temperature);

struct TemperatureFit {
    double temperature = 1;
    double nll_before = 0;  // at T = 1
    double nll_after = 0;   // at the fitted T
    /// +1: T stopped at t_max, -1: at t_min, where the NLL still falls: its optimum lies beyond
    /// the searched range, and `after` is only the best the range allows. 0: an interior optimum.
    int bound = 0;
    Calibration before, after;  // calibration of softmax(logits) and softmax(logits/T)
    /// "largest" / "smallest": the bound the fit stopped at, in words; "" for an interior optimum.
    const char* bound_name() const { return bound > 0 ? "largest" : bound < 0 ? "smallest" : ""; }
};
/// Temperature scaling (Guo et al. 2017): the T in [t_min, t_max] minimising mean NLL of
/// softmax(logits/T). NLL is convex in β = 1/T (log-sum-exp of a linear function): safeguarded
/// Newton on β (exact first and second derivatives, bisection fallback) to 1e-12 relative. A T at
/// a bound (`bound` != 0) means the optimum lies beyond it: perfectly separable logits drive T
/// towards 0, logits far larger than the accuracy warrants towards infinity.
TemperatureFit fit_temperature(const float* logits, const int* labels, size_t n, int k, int bins = 15,
                               double t_min = 0.05, double t_max = 20.0);

/// Row-wise softmax of logits / T (n×k) in float.
std::vector<float> softmax_rows(const float* logits, size_t n, int k, double temperature = 1.0);

// ------------------------------------------------------------------ where the CAM looks

/// Share of a non-negative map's mass inside the central box: the middle half of each dimension,
/// [h/4, 3h/4) × [w/4, 3w/4) in continuous pixel coordinates where pixel (y, x) covers
/// [y, y+1) × [x, x+1). Pixels cut by the box edge count with their covered fraction, so the box
/// is exactly 25 % of the area at any resolution, and a uniform map gives 0.25. The rest of the
/// mass is the "border" (background) share. Returns NaN when the map has no mass (all zeros).
/// The report applies it to the CAM upsampled to the model input size (what overlays show).
double centre_share(const float* map, int h, int w);

/// IoU of the top-fraction regions of two h×w maps: each region is the ceil(fraction·h·w) pixels
/// with the highest values (ties: lower pixel index first), IoU = |A∩B| / |A∪B|. Returns NaN when
/// either map is constant (its top region would be arbitrary).
double top_region_iou(const float* a, const float* b, int h, int w, double fraction = 0.2);

/// A CAM with no positive evidence (image/cam_view.hpp, where the pictures' rule lives too): the
/// report flags such maps per image and leaves them out of every CAM statistic.
using camscope::degenerate_cam;

/// Maps counted, and how many of them are degenerate (degenerate_cam).
struct CamCount {
    long long maps = 0, degenerate = 0;
    void add(bool is_degenerate) { ++maps, degenerate += is_degenerate; }
    long long usable() const { return maps - degenerate; }
    /// degenerate / maps; 0 without maps.
    double share() const { return maps > 0 ? double(degenerate) / double(maps) : 0.0; }
    /// 95 % Wilson interval of share(); NaN without maps.
    intervals::Interval share_ci() const { return intervals::wilson(degenerate, maps); }
};

// ------------------------------------------------------------------ likely label errors

struct LabelIssue {
    size_t row = 0;
    int given = 0;       // the label in the dataset
    int suggested = 0;   // the class the model finds plausible instead
    float p_given = 0, p_suggested = 0;
    float margin = 0;    // p_suggested − p_given, the ranking score
};
struct LabelIssues {
    std::vector<double> thresholds;  // t_j, NaN for a class without labelled images
    std::vector<LabelIssue> issues;  // by margin (desc), then row
};
/// Confident learning (Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in
/// Dataset Labels", JAIR 2021): the off-diagonal of the confident joint. Per-class threshold
/// t_j = mean p_j over the images labelled j. An image labelled y is a likely label error when
/// p_y < t_y and some class j ≠ y has p_j ≥ t_j; its suggested class is the j with the highest
/// p_j among those, and issues are ranked by p_j − p_y. `probs` is n×k softmax.
LabelIssues find_label_issues(const float* probs, const int* labels, size_t n, int k);

}  // namespace camscope::metrics
