#pragma once
// The analysis report's model: plain data, every number of the report computed once by
// build_report (analysis.hpp) and only formatted by the writers (write_*.cpp, figures.hpp).
// Nothing here computes or writes; nothing here includes torch.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "camscope/faith/sanity.hpp"
#include "camscope/faith/summary.hpp"
#include "camscope/report/failure_modes.hpp"
#include "camscope/report/flips.hpp"
#include "camscope/report/identity.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/report/options.hpp"

namespace camscope {

/// Wall-clock seconds of the stages before the report (filled by the caller; 0 = not measured).
struct AnalysisTimings {
    double load_s = 0;     // opening the model and dataset
    double predict_s = 0;  // forward passes (with CAMs when computed in the same pass)
    double cam_s = 0;      // extra CAM passes (e.g. the true-class CAM of misclassified images)
    double total_s = 0;    // the whole run up to build_report
};

/// One analysed image, as the report refers to it.
struct RowRef {
    size_t row = 0;
    int index = 0;           // dataset index
    int label = 0;           // true class
    int pred = 0;            // predicted class
    float confidence = 0;    // p(pred)
    float p_true = 0;        // p(label)
    /// The CAM of the predicted / the true class has no positive evidence (metrics::degenerate_cam):
    /// figures mark it instead of drawing it, statistics leave it out.
    bool pred_cam_degenerate = false, true_cam_degenerate = false;
};

/// Where the predicted-class CAM puts its mass (see metrics::centre_share): mean centre share
/// over correct and over wrong predictions, NaN where there are none. Degenerate maps are left
/// out: the means are over n_* of total_* images.
struct FocusStats {
    double centre_correct = 0, centre_wrong = 0;
    long long n_correct = 0, n_wrong = 0;          // non-degenerate maps that entered the means
    long long total_correct = 0, total_wrong = 0;  // images (correct / wrong predictions)
    /// 95 % percentile-bootstrap intervals (intervals.hpp) of the two means over their per-image
    /// shares, and of the gap centre_correct − centre_wrong (the two groups resampled independently).
    intervals::Interval centre_correct_ci, centre_wrong_ci, gap_ci;
};
struct PairFocus {
    int a = 0, b = 0;        // directed pair true a -> predicted b
    double mean_iou = 0;     // mean top-region IoU of true-class vs predicted-class CAM (NaN if none)
    long long n = 0;         // errors of the pair where both maps are non-degenerate (the mean's N)
    long long errors = 0;    // errors of the pair
    intervals::Interval mean_iou_ci;  // 95 % percentile bootstrap over the n errors' IoUs
};

/// Degenerate CAMs (no positive evidence, metrics::degenerate_cam) of the analysed method and
/// layer. Correct predictions have one map (true class = predicted class), errors two.
struct DegenerateStats {
    metrics::CamCount pred_correct, pred_wrong;   // predicted-class maps, by outcome
    metrics::CamCount true_wrong;                 // true-class maps of the errors
    std::vector<metrics::CamCount> by_pred_class; // predicted-class maps, by predicted class (their target)
    std::vector<metrics::CamCount> by_true_class; // true-class maps, by true class (every image)
    double warn_share = 0.2;                      // AnalysisParams::degenerate_warn_share
    /// Every predicted-class map.
    metrics::CamCount pred() const {
        return {pred_correct.maps + pred_wrong.maps, pred_correct.degenerate + pred_wrong.degenerate};
    }
    /// More than warn_share of the predicted-class maps are degenerate.
    bool warn() const { return pred().maps > 0 && pred().share() > warn_share; }
};

/// A CAM method at a layer measured on the faithfulness sample: how many of its predicted-class maps
/// are degenerate, and (methods at the analysed layer) its faithfulness rank.
struct CamCandidate {
    std::string method, layer;
    long long n = 0, degenerate = 0;
    double mean_rank = 0;    // faithfulness mean rank (NaN: not ranked, e.g. another layer)
    double share() const { return n > 0 ? double(degenerate) / double(n) : 0.0; }
};

struct ClassGallery {
    int cls = 0;
    std::string file;              // "worst_predictions/class_<i>_<name>.png"
    std::vector<RowRef> worst;     // errors of this class, by confidence in the wrong class (desc)
    std::vector<RowRef> best;      // correct, by confidence (desc)
};
struct PairFigure {
    int a = 0, b = 0;
    std::string file;              // "confused_pair_<name a>_<name b>.png"
    std::vector<RowRef> examples;  // a -> b errors by confidence (desc)
};

struct Recommendation {
    std::string rule;              // stable id: "calibration", "confused_pair", "background_focus", ...
    std::string text;              // one paragraph quoting the figures
    std::vector<std::pair<std::string, double>> figures;  // the numbers that triggered it
};

struct Report {
    // Provenance.
    std::string model_path, model_kind, dataset_path, dataset_name, split, layer, method;
    std::vector<std::string> class_names, coarse_names;
    std::vector<int> fine_to_coarse;
    int num_classes = 0;
    size_t n = 0;
    int input_h = 0, input_w = 0, fh = 0, fw = 0;
    AnalysisTimings timings;
    double analysis_s = 0;         // build_report's own time
    double intervals_s = 0;        // ... of which its intervals stage (the bootstraps)

    // Overall.
    long long correct = 0, errors = 0;
    double top1 = 0, top5 = 0;
    int top5_k = 5;                // min(5, K)
    intervals::Interval top1_ci, top5_ci;  // 95 % Wilson intervals over the n images
    double mean_confidence = 0, mean_confidence_correct = 0, mean_confidence_wrong = 0;
    std::vector<RowRef> rows;      // every analysed image (row order)

    metrics::ConfusionMatrix confusion;
    std::vector<int> class_order;  // display order of the matrix (grouped by superclass if any)
    std::vector<std::pair<int, int>> order_blocks;  // superclass blocks [begin, end) in class_order
    std::vector<metrics::ClassStats> per_class;
    /// Classes with support, weakest first: by the upper bound of the accuracy's 95 % interval
    /// (recall_ci.hi, asc), then accuracy (asc), then support (desc): a class of 5 images, whose
    /// interval reaches high, cannot top the list on a few errors.
    std::vector<int> worst_classes;

    std::vector<metrics::DirectedPair> directed;   // all non-zero
    std::vector<metrics::SymmetricPair> symmetric; // all non-zero
    bool has_superclasses = false;
    metrics::SuperclassShare superclass;

    std::vector<RowRef> high_conf_errors;   // confidence >= params.high_conf, desc
    std::vector<RowRef> low_conf_correct;   // confidence < params.low_conf, asc

    metrics::TemperatureFit calibration;    // .before = the model as is, .after = at the fitted T

    // CAM evidence (CAMs upsampled to input_h×input_w, as the overlays show them).
    FocusStats focus;                       // overall
    /// Per row (n): the centre share of its predicted-class CAM (metrics::centre_share, the figure
    /// behind `focus`); NaN where the map is degenerate or has no mass (left out of the means).
    std::vector<float> centre_share;
    std::vector<FocusStats> focus_per_class;  // by true class
    double mean_iou_errors = 0;             // over errors whose two maps are non-degenerate (NaN if none)
    long long n_iou_errors = 0;             // ... how many: "over n_iou_errors of errors images"
    intervals::Interval mean_iou_errors_ci; // 95 % percentile bootstrap over those errors' IoUs
    std::vector<PairFocus> pair_focus;      // for the top confused (directed) pairs
    DegenerateStats degenerate;             // maps without positive evidence, counted

    metrics::LabelIssues label_issues;
    std::vector<RowRef> label_issue_rows;   // parallel to label_issues.issues
    long long high_conf_errors_flagged = 0; // high-confidence errors that are also likely label errors

    std::vector<ClassGallery> galleries;    // one per class, in class order; file "" = not drawn
    long long galleries_drawn = 0;          // galleries with a file (all, or max_galleries + pair classes)
    /// The classes of confusion_matrix_top.png in display order (empty: K <= top_matrix_classes,
    /// the full matrix is readable); the most frequent directed confusions' classes, in pair order.
    std::vector<int> top_matrix_classes;
    bool sparse_confusion_json = false;     // K > dense_confusion_max
    std::vector<PairFigure> pair_figures;   // top confused_pair_figures directed pairs
    /// Finer-CAM maps of the pair sheets' errors, "what made it choose the prediction over the true
    /// class" (main = predicted, comparison = true class, alpha 1: pytorch-grad-cam's FinerCAM with
    /// GradCAM; pipeline/contrast.hpp attach_contrast_cams), by row, contrast_fh×contrast_fw each at
    /// the layer's resolution. Empty when not computed: the sheets then show three maps.
    std::map<size_t, std::vector<float>> contrast_cams;
    int contrast_fh = 0, contrast_fw = 0;
    std::vector<Recommendation> recommendations;
    /// The errors grouped by where the model looks (failure_modes.hpp; absent: the stage was off,
    /// AnalysisParams::failure_max_k = 0). mode_of_row gives each row's mode for the explorer.
    std::optional<FailureModes> failure_modes;

    /// CAM faithfulness of the fast CAM methods on a sample (set by the caller after build_report,
    /// e.g. from evaluate_cams(); absent = not measured). Written as faithfulness.csv/.png, one
    /// line in the text, HTML and JSON summaries.
    std::optional<faith::Summary> faithfulness;
    /// The flip test on a sample of the errors (report/flips.hpp; set by attach_flips after
    /// build_report, pipeline/flip.hpp runs it; absent = not run): flip_test/, summary.json's
    /// "flip_test", a section of index.html, a line of the text summary.
    std::optional<FlipSummary> flips;
    /// The sanity gate of the maps (pipeline/sanity.hpp, set by the caller after build_report;
    /// absent = not run): sanity.csv, a section in index.html, a line in the text and JSON
    /// summaries; when it fails, a warning at the top of each and a line on every CAM figure.
    std::optional<faith::SanitySummary> sanity;

    /// What the report was made from (model SHA-256, dataset fingerprint, input, CAM settings; set
    /// by the caller, absent = not recorded): summary.json's "identity", which `serve --results`
    /// checks against the model and data it runs.
    std::optional<RunIdentity> identity;
    /// Measured alternatives when degenerate.warn() (set by attach_faithfulness): every method of the
    /// faithfulness check at the analysed layer, then the analysed method at the other candidate
    /// layers; and the better method / layer if one was measured (empty otherwise).
    std::vector<CamCandidate> cam_candidates;
    std::optional<CamCandidate> better_method, better_layer;
    /// What build_report computed it with (summary.json's "options"; the writers read the counts
    /// and thresholds they quote here, never from options of their own).
    AnalysisParams params;
};

}  // namespace camscope
