#pragma once
// The options of an analysis report, in two parts:
//   AnalysisParams — what build_report computes with: each field changes a number, a selection or a
//                    recommendation of the Report (which records them: Report::params, summary.json's
//                    "options").
//   WriteOptions   — how write_report (and the figures, report/figures.hpp) draw and write it: no
//                    field changes a number of the Report.
// AnalysisOptions holds both, as an edge (the CLI's flags, Python's keywords, the server, the bench)
// fills them: build_report reads its analysis part, write_report its writing part.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace camscope {

struct AnalysisParams {
    int worst_k = 5;                 // misclassifications per class gallery
    int best_k = 3;                  // confident correct predictions per class gallery
    double high_conf = 0.9;          // an error with confidence >= this is "high-confidence"
    double low_conf = 0.5;           // a correct prediction below this is "low-confidence"
    int ece_bins = 15;
    int top_pairs = 15;              // bars in top_confused_pairs.png (and pairs with a CAM IoU)
    int confused_pair_figures = 5;   // confused_pair_<a>_<b>.png files (top directed pairs)
    int pair_examples = 5;           // rows per confused-pair figure
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
    /// The flip test (report/flips.hpp): one kind of error (distractor evidence, missing true
    /// evidence, unstable) at least this share of the tested errors gives its recommendation.
    double rec_flip_share = 0.5;
    /// More than this share of degenerate predicted-class CAMs (metrics::degenerate_cam) of the
    /// analysed method and layer: a warning at the top of the report and the terminal summary.
    double degenerate_warn_share = 0.2;
    // Failure modes (report/failure_modes.hpp): the errors of each class with at least
    // failure_min_errors errors (the failure_max_classes with most errors; 0 = all) and of the first
    // failure_top_pairs directed pairs grouped by their CAMs into 1..failure_max_k modes (k by the mean
    // silhouette over at most failure_max_points errors; one mode below failure_min_silhouette).
    // failure_max_k = 0 turns the stage off.
    int failure_min_errors = 10;
    int failure_max_classes = 30;
    int failure_top_pairs = 5;
    int failure_max_k = 4;
    double failure_min_silhouette = 0.25;
    long long failure_max_points = 400;
    int failure_gallery = 4;         // most typical errors shown per mode on the sheets
    /// The 95 % intervals beside the figures (report/intervals.hpp): Wilson for proportions, a
    /// percentile bootstrap with this many resamples, the generator restarted from this seed for
    /// each statistic, for means (CAM centre share, IoU) and the ECE.
    int interval_resamples = 1000;
    std::uint64_t interval_seed = 20251207;
    /// The sanity gate (pipeline/sanity.hpp): images of its seeded even sample (0 = off), and the
    /// mean Spearman correlation between original and randomised maps at or above which it fails.
    int sanity_images = 16;
    double sanity_threshold = 0.5;
};

struct WriteOptions {
    bool row_normalised_matrix = false;  // confusion_matrix_full.png as shares of each true class
    int max_label_issues = 50;       // listed in text/HTML (summary.json has all)
    int label_issue_figure = 12;     // examples in likely_label_errors.png
    bool progress = true;            // progress bars on stderr for long stages (build_report's too)
    /// Threads drawing the class galleries, pair figures and explorer images (0 = every core);
    /// the files are the same, byte for byte, for any count.
    int threads = 0;
    /// Called by write_report after each of its stages with the stage's name ("figures",
    /// "galleries", "pair figures", "failure modes" (if any), "text", "explorer", "index") and seconds; for benchmarks.
    std::function<void(const std::string& stage, double seconds)> on_stage;
    /// Called by write_report with the staging folder before index.html, to add files that belong
    /// to the report (analyze: store/, the per-image results); returns (name, description) of each
    /// for index.html and summary.json. Names it writes must be report entries (write_report.cpp).
    std::function<std::vector<std::pair<std::string, std::string>>(const std::string& folder)> extra_files;
};

/// Both parts, as an edge fills them (AnalysisParams's fields and WriteOptions's, by name).
struct AnalysisOptions : AnalysisParams, WriteOptions {};

}  // namespace camscope
