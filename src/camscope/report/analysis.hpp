#pragma once
// The analysis report: one model + one test set -> the complete error analysis.
//
//   AnalysisInput  (what the engine measured: logits, probabilities, CAMs, labels)
//        │ build_report()       — every figure is computed here, once
//        ▼
//   Report         (plain data: metrics, rankings, selected examples, recommendations)
//        │ write_report()       — formats only: PNG, CSV, JSON, HTML, text
//        ▼
//   out_dir/       (file names below; summary.json is written last and marks completion)
//
// Torch-free: the engine (engine/) fills AnalysisInput; nothing here includes torch.
#include <cstddef>
#include <functional>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include "camscope/faith/summary.hpp"
#include "camscope/report/identity.hpp"
#include "camscope/image/image.hpp"
#include "camscope/report/metrics.hpp"

namespace camscope {

/// Wall-clock seconds of the stages before the report (filled by the caller; 0 = not measured).
struct AnalysisTimings {
    double load_s = 0;     // opening the model and dataset
    double predict_s = 0;  // forward passes (with CAMs when computed in the same pass)
    double cam_s = 0;      // extra CAM passes (e.g. the true-class CAM of misclassified images)
    double total_s = 0;    // the whole run up to build_report
};

/// Everything measured on the test set. Shapes are checked by build_report (Error naming the
/// field and the size found).
struct AnalysisInput {
    std::string model_path, model_kind, dataset_path, dataset_name, split, layer, method;
    std::vector<std::string> class_names;   // size num_classes
    std::vector<std::string> coarse_names;  // superclass names; empty if none
    std::vector<int> fine_to_coarse;        // size num_classes, or empty if no superclasses
    int num_classes = 0;                    // K
    size_t n = 0;                           // images analysed
    std::vector<int> indices;               // n: dataset index of row i
    std::vector<int> labels;                // n: true class
    std::vector<float> logits;              // n×K
    std::vector<float> probs;               // n×K, softmax of logits
    int fh = 0, fw = 0;                     // CAM resolution at the target layer
    std::vector<float> cam_pred;            // n×fh×fw in [0,1]: CAM of the predicted class
    std::vector<float> cam_true;            // n×fh×fw in [0,1]: CAM of the true class (= cam_pred
                                            //   where the prediction is right)
    int input_h = 0, input_w = 0;           // model input size (CAM metrics use this resolution)
    /// The original dataset image of row i (thumbnails). May be empty: galleries then show CAMs only.
    std::function<Image(size_t row)> load_image;
    AnalysisTimings timings;
};

struct AnalysisOptions {
    int worst_k = 5;                 // misclassifications per class gallery
    int best_k = 3;                  // confident correct predictions per class gallery
    double high_conf = 0.9;          // an error with confidence >= this is "high-confidence"
    double low_conf = 0.5;           // a correct prediction below this is "low-confidence"
    int ece_bins = 15;
    int top_pairs = 15;              // bars in top_confused_pairs.png
    int confused_pair_figures = 5;   // confused_pair_<a>_<b>.png files (top directed pairs)
    int pair_examples = 5;           // rows per confused-pair figure
    bool row_normalised_matrix = false;  // confusion_matrix_full.png as shares of each true class
    /// Many classes (ImageNet's 1,000): class galleries are drawn for at most this many classes, the
    /// lowest-accuracy ones plus the classes of the pair sheets (0 = every class); the explorer
    /// still lists every class's worst and best images.
    int max_galleries = 100;
    /// Above this many classes summary.json holds the confusion matrix as its non-zero cells
    /// ([true, predicted, count]); confusion_matrix.csv always has the full matrix.
    int dense_confusion_max = 200;
    /// Above this many classes confusion_matrix_top.png shows, readable, the sub-matrix of the
    /// classes in the most frequent confusions (at most this many classes).
    int top_matrix_classes = 30;
    int max_label_issues = 50;       // listed in text/HTML (summary.json has all)
    int label_issue_figure = 12;     // examples in likely_label_errors.png
    double top_region_fraction = 0.2;  // CAM top region for the true/pred IoU
    // Recommendation thresholds (each recommendation quotes the measured figure against these).
    double rec_ece = 0.05;           // ECE above this -> temperature scaling / label smoothing
    /// One class predicted for at least this share of the images, and for at least 3x its share of
    /// the labels: the output barely depends on the input (preprocessing, export, training).
    double rec_collapse = 0.5;
    double rec_pair_rate = 0.10;     // a directed pair above this share of the true class
    double rec_focus_gap = 0.05;     // errors' centre share this much below correct ones'
    double rec_label_issue_share = 0.01;  // likely label errors above this share of the set
    double rec_worst_gap = 0.15;     // class accuracy this far below the overall top-1
    int rec_worst_classes = 5;
    /// A recommendation never quotes a figure computed over fewer images than this (a mean over the
    /// CAMs of 1 image, a class accuracy over 4): such figures are left out and the rule says so.
    long long rec_min_n = 30;
    /// More than this share of degenerate predicted-class CAMs (metrics::degenerate_cam) of the
    /// analysed method and layer: a warning at the top of the report and the terminal summary.
    double degenerate_warn_share = 0.2;
    bool progress = true;            // progress bars on stderr for long stages
    /// Threads drawing the class galleries, pair figures and explorer images (0 = every core);
    /// the files are the same, byte for byte, for any count.
    int threads = 0;
    /// Called by write_report after each of its stages with the stage's name ("figures",
    /// "galleries", "pair figures", "text", "explorer", "index") and wall-clock seconds; for benchmarks.
    std::function<void(const std::string& stage, double seconds)> on_stage;
    /// Called by write_report with the staging folder before index.html, to add files that belong
    /// to the report (analyze: store/, the per-image results); returns (name, description) of each
    /// for index.html and summary.json. Names it writes must be report entries (write_report.cpp).
    std::function<std::vector<std::pair<std::string, std::string>>(const std::string& folder)> extra_files;
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
};
struct PairFocus {
    int a = 0, b = 0;        // directed pair true a -> predicted b
    double mean_iou = 0;     // mean top-region IoU of true-class vs predicted-class CAM (NaN if none)
    long long n = 0;         // errors of the pair where both maps are non-degenerate (the mean's N)
    long long errors = 0;    // errors of the pair
};

/// Degenerate CAMs (no positive evidence, metrics::degenerate_cam) of the analysed method and
/// layer. Correct predictions have one map (true class = predicted class), errors two.
struct DegenerateStats {
    metrics::CamCount pred_correct, pred_wrong;   // predicted-class maps, by outcome
    metrics::CamCount true_wrong;                 // true-class maps of the errors
    std::vector<metrics::CamCount> by_pred_class; // predicted-class maps, by predicted class (their target)
    std::vector<metrics::CamCount> by_true_class; // true-class maps, by true class (every image)
    double warn_share = 0.2;                      // AnalysisOptions::degenerate_warn_share
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

    // Overall.
    long long correct = 0, errors = 0;
    double top1 = 0, top5 = 0;
    int top5_k = 5;                // min(5, K)
    double mean_confidence = 0, mean_confidence_correct = 0, mean_confidence_wrong = 0;
    std::vector<RowRef> rows;      // every analysed image (row order)

    metrics::ConfusionMatrix confusion;
    std::vector<int> class_order;  // display order of the matrix (grouped by superclass if any)
    std::vector<std::pair<int, int>> order_blocks;  // superclass blocks [begin, end) in class_order
    std::vector<metrics::ClassStats> per_class;
    std::vector<int> worst_classes;  // by accuracy (asc), then support (desc); classes with support

    std::vector<metrics::DirectedPair> directed;   // all non-zero
    std::vector<metrics::SymmetricPair> symmetric; // all non-zero
    bool has_superclasses = false;
    metrics::SuperclassShare superclass;

    std::vector<RowRef> high_conf_errors;   // confidence >= high_conf_threshold, desc
    std::vector<RowRef> low_conf_correct;   // confidence < low_conf_threshold, asc
    double high_conf_threshold = 0, low_conf_threshold = 0;

    metrics::TemperatureFit calibration;    // .before = the model as is, .after = at the fitted T

    // CAM evidence (CAMs upsampled to input_h×input_w, as the overlays show them).
    FocusStats focus;                       // overall
    /// Per row (n): the centre share of its predicted-class CAM (metrics::centre_share, the figure
    /// behind `focus`); NaN where the map is degenerate or has no mass (left out of the means).
    std::vector<float> centre_share;
    std::vector<FocusStats> focus_per_class;  // by true class
    double mean_iou_errors = 0;             // over errors whose two maps are non-degenerate (NaN if none)
    long long n_iou_errors = 0;             // ... how many: "over n_iou_errors of errors images"
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

    /// CAM faithfulness of the fast CAM methods on a sample (set by the caller after build_report,
    /// e.g. from evaluate_cams(); absent = not measured). Written as faithfulness.csv/.png, one
    /// line in the text, HTML and JSON summaries.
    std::optional<faith::Summary> faithfulness;

    /// What the report was made from (model SHA-256, dataset fingerprint, input, CAM settings; set
    /// by the caller, absent = not recorded): summary.json's "identity", which `serve --results`
    /// checks against the model and data it runs.
    std::optional<RunIdentity> identity;
    /// Measured alternatives when degenerate.warn() (set by attach_faithfulness): every method of the
    /// faithfulness check at the analysed layer, then the analysed method at the other candidate
    /// layers; and the better method / layer if one was measured (empty otherwise).
    std::vector<CamCandidate> cam_candidates;
    std::optional<CamCandidate> better_method, better_layer;
    long long rec_min_n = 30;               // AnalysisOptions::rec_min_n, for the writers' notes
};

/// Computes everything. Throws Error naming the field when the input's shapes disagree.
Report build_report(const AnalysisInput& in, const AnalysisOptions& opt = {});

/// Checks, before any work, that a report can be written to out_dir: the path names a folder
/// (not "" or "/"), its parent can be created and written, and out_dir is absent, an empty folder
/// or a camscope report folder (summary.json by camscope, or the report's own files); never one
/// holding other files, which replacing it would lose. Removes the staging folders that killed
/// runs left beside it. Touches nothing in out_dir. Throws Error naming the path and the problem.
void check_report_destination(const std::string& out_dir);
/// Adds the faithfulness check to the report (Report::faithfulness) and, when more than a fifth of
/// the analysed maps are degenerate, picks the measured alternatives from it: the better method is
/// the best-ranked method of the check whose share of degenerate maps is at most the warning
/// threshold and below the analysed method's on the same sample; the better layer is the candidate
/// layer (faith::Summary::layer_checks) with the smallest share, under the same two conditions.
/// The "degenerate_cams" recommendation then names them with their measured figures.
void attach_faithfulness(Report& r, faith::Summary s, const AnalysisOptions& opt = {});

/// Writes the report into out_dir (created if missing):
///   confusion_matrix_full.png, confusion_matrix.csv, per_class_accuracy.csv,
///   per_class_accuracy_interactive.html, most_confused_pairs.csv, top_confused_pairs.png,
///   confusion_matrix_top.png (many classes), worst_predictions/class_<index>_<name>.png (every
///   class, or AnalysisOptions::max_galleries of them), confused_pair_<a>_<b>.png,
///   likely_label_errors.png, reliability_diagram.png, analysis_summary.txt, recommendations.txt,
///   index.html, summary.json.
/// The report is built in a hidden folder beside out_dir (".NAME.tmp-<pid>-<n>", summary.json
/// written last) and swapped in whole when complete (StagedDir): until then an earlier report in
/// out_dir stays intact, and a failed or interrupted run leaves it so. Files in the old folder that
/// are not report outputs are moved into the new one. Throws Error on any failure.
void write_report(const Report& r, const AnalysisInput& in, const AnalysisOptions& opt, const std::string& out_dir);

/// The short table printed at the end of `camscope analyze`: top-1/top-5, mean confidence, ECE,
/// counts, the 5 worst classes and the top 5 confused pairs.
std::string format_terminal_summary(const Report& r);

/// "T-shirt/top" -> "T-shirt_top": the class name as used in file names.
std::string class_file_stem(int index, const std::string& name);  // "class_<index>_<name>"

}  // namespace camscope
