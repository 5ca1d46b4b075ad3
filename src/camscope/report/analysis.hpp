#pragma once
// The analysis report: one model + one test set -> the complete error analysis.
//
//   AnalysisInput  (what the engine measured: logits, probabilities, CAMs, labels)
//        │ build_report()       — every figure is computed here, once (named stages, analysis.cpp;
//        │                        the recommendations: one rule each, recommend.hpp)
//        ▼
//   Report         (report.hpp: plain data: metrics, rankings, selected examples, recommendations)
//        │ write_report()       — formats only: PNG (figures.hpp), CSV, JSON, HTML, text
//        ▼
//   out_dir/       (file names below; summary.json is written last and marks completion)
//
// Options: options.hpp (what is computed apart from how it is written).
// Torch-free: the engine (engine/) fills AnalysisInput; nothing here includes torch.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "camscope/faith/summary.hpp"
#include "camscope/image/image.hpp"
#include "camscope/report/options.hpp"
#include "camscope/report/report.hpp"

namespace camscope {

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

/// Computes everything, in named stages (analysis.cpp; the recommendations by the rules of
/// recommend.hpp), from opt's AnalysisParams (recorded in Report::params) and its progress flag.
/// Throws Error naming the field when the input's shapes disagree.
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
void attach_faithfulness(Report& r, faith::Summary s, const AnalysisParams& opt = {});

/// Writes the report into out_dir (created if missing):
///   confusion_matrix_full.png, confusion_matrix.csv, per_class_accuracy.csv,
///   per_class_accuracy_interactive.html, most_confused_pairs.csv, top_confused_pairs.png,
///   confusion_matrix_top.png (many classes), worst_predictions/class_<index>_<name>.png (every
///   class, or AnalysisParams::max_galleries of them), confused_pair_<a>_<b>.png,
///   likely_label_errors.png, reliability_diagram.png, analysis_summary.txt, recommendations.txt,
///   index.html, summary.json; with Report::faithfulness faithfulness.csv/.png, with Report::flips
///   flip_test/ (flip_test.csv and the sheets of FlipSummary::sheets). Reads opt's WriteOptions; the counts and thresholds the files quote
///   are the Report's (Report::params).
/// The report is built in a hidden folder beside out_dir (".NAME.tmp-<pid>-<n>", summary.json
/// written last) and swapped in whole when complete (StagedDir): until then an earlier report in
/// out_dir stays intact, and a failed or interrupted run leaves it so. Files in the old folder that
/// are not report outputs are moved into the new one. Throws Error on any failure.
void write_report(const Report& r, const AnalysisInput& in, const WriteOptions& opt, const std::string& out_dir);

/// The short table printed at the end of `camscope analyze`: top-1/top-5, mean confidence, ECE,
/// counts, the 5 worst classes and the top 5 confused pairs.
std::string format_terminal_summary(const Report& r);

/// summary.json's text as write_report writes it, without its list of the report's files (Python's
/// Report.summary_json).
std::string summary_json(const Report& r, const WriteOptions& opt);

/// "T-shirt/top" -> "T-shirt_top": the class name as used in file names.
std::string class_file_stem(int index, const std::string& name);  // "class_<index>_<name>"

}  // namespace camscope
