#pragma once
// Faithfulness over many images: per-image Scores (faithfulness.hpp) -> one table per CAM method
// and group (overall, correct, wrong, class:<true class name>) -> the best method, and the formats
// (CSV, JSON, PNG chart, terminal table, one-line headline). Torch-free; formats never compute.
//
// Best method rule: on the "overall" group, rank the methods on each of five metrics (Average Drop
// ↓, Increase in Confidence ↑, Deletion AUC ↓, Insertion AUC ↑, ROAD combined ↑; values within
// 0.1 % tie and share the average rank, a missing value ranks last; metrics switched off
// are skipped); the best method has the lowest mean rank; a tie goes to the larger Insertion −
// Deletion AUC, then the earlier method.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "camscope/faith/faithfulness.hpp"

namespace camscope::faith {

/// One image under one CAM method.
struct ImageRecord {
    int method = 0;  // index into the methods list
    int index = 0;   // dataset index
    int label = 0;   // true class
    int pred = 0;    // predicted class (= the target of every score)
    /// The map has no positive evidence (metrics::degenerate_cam: all zeros after ReLU and min-max).
    /// It still enters the metrics as it is: a blank map perturbs the image in pixel-index order, so
    /// a method that gives blank maps is penalised for it rather than judged on its easy images.
    bool degenerate = false;
    Scores scores;
};

/// Means over the images of one group (NaN where no image has the metric).
struct GroupRow {
    std::string method, group;  // group: "overall", "correct", "wrong" or "class:<name>"
    long long n = 0;
    long long degenerate = 0;           // images whose map is degenerate (ImageRecord::degenerate)
    double average_drop = 0;            // %
    double increase_in_confidence = 0;  // % of images with p̃ > p
    double deletion_auc = 0, insertion_auc = 0;
    double road_morf = 0, road_lerf = 0, road_combined = 0;
};

/// A metric of GroupRow: its key (CSV/JSON column), label, direction.
struct MetricInfo {
    const char* key;
    const char* label;
    bool higher_is_better;
    bool ranked;  // enters the best-method rule
    double GroupRow::*field;
};
const std::vector<MetricInfo>& metric_infos();

struct MethodRank {
    std::string method;
    double mean_rank = 0;
    std::vector<double> ranks;  // per ranked metric in metric_infos() order (ranked ones only)
};

/// One CAM method at one layer on the same images: how many predicted-class maps are degenerate
/// (EvaluateOptions::check_layers; the search for a layer whose maps show evidence).
struct LayerCheck {
    std::string method, layer;
    int fh = 0, fw = 0;  // the layer's map size
    long long n = 0, degenerate = 0;
};

struct Summary {
    // Provenance (filled by the caller).
    std::string model_path, dataset_path, layer, selection;
    int channels = 0, input_h = 0, input_w = 0;
    double seconds = 0;
    /// Perturbed inputs (rows) of all images and methods, and how many went through the model: an
    /// input that occurs more than once for an image is scored once (evaluate_cams).
    std::size_t inputs = 0, inputs_scored = 0;

    std::size_t n_images = 0;
    std::vector<std::string> methods;
    Params params;
    double blur_sigma = 0;                    // in effect
    std::vector<std::string> ranked_metrics;  // keys used by the rule
    std::vector<GroupRow> rows;               // per method: overall, correct, wrong, then class groups
    std::vector<MethodRank> ranking;          // best first
    std::string best;                         // "" without methods
    std::string best_reason;
    std::vector<LayerCheck> layer_checks;     // empty unless asked for

    /// The row of (method, group), or nullptr.
    const GroupRow* find(const std::string& method, const std::string& group) const;
};

/// Aggregates the records. Classes are grouped by true label; class groups without images are
/// left out; "correct" and "wrong" are always present (n = 0, NaN means when empty).
Summary summarize(const std::vector<ImageRecord>& records, const std::vector<std::string>& methods,
                  const std::vector<std::string>& class_names, const Params& params);

std::string summary_csv(const Summary& s);                // header + one row per method × group; NaN -> empty
                                                          // (n, degenerate, then the metrics)
std::string summary_json(const Summary& s);               // definitions, parameters, tables, ranking, best
std::vector<std::uint8_t> summary_png(const Summary& s);  // one panel per metric, one bar per method
std::string summary_table(const Summary& s);              // the overall rows as a fixed-width text table
/// "CAM faithfulness on N images: M scores best (deletion AUC a, insertion AUC b; …)".
std::string headline(const Summary& s);
/// The metric definitions, one sentence each (for JSON and the report).
std::vector<std::pair<std::string, std::string>> metric_definitions(const Summary& s);

}  // namespace camscope::faith
