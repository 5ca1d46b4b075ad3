#pragma once
// The interactive explorer (web/explorer/: index.html, style.css and its scripts, listed once in
// CMakeLists.txt): its data model and its assets.
//
// One page, two modes, the same scripts (web/explorer/source.js tells them apart):
//   - served by `camscope serve`: the page fetches api/explorer (explorer_data() + "live": true)
//     and asks the server for images and live CAMs (src/camscope/serve/);
//   - offline, written by `camscope analyze` into <report>/explorer/: index.html reads data.js
//     (`window.CAMSCOPE_DATA = {...}`, because browsers block fetch() from file://) with the
//     precomputed overlays under img/; live CAM controls are disabled with a notice.
//
// explorer_data() formats the Report (it computes nothing new, except picking which rows of a
// confusion cell are shown). Schema (version 2; version 1 is schema 2 without the fields marked
// [2], and is still read: results folders written before):
//   run        {model_path, model_kind, dataset_path, dataset_name, split, layer, method, n,
//               num_classes, input_size [h, w], cam_size [fh, fw]}
//   overall    {top1, top5, top5_k, correct, errors, mean_confidence, mean_confidence_correct,
//               mean_confidence_wrong}
//   calibration {ece, mce, temperature, ece_after, bins [{lower, upper, count, confidence, accuracy}]}
//   classes    [name]                        per_class [{index, name, support, correct, predicted,
//                                             accuracy, precision, f1, mean_confidence}]
//   confusion  {counts K×K (true rows), order (display order)}; [2] above dense_confusion_max (200)
//              classes {cells [[true, pred, count], ...] (non-zero only), order} instead
//   pairs      [{true, pred, count, rate}]   every directed confusion, most frequent first
//   rows       columns over the analysed images (row r = the r-th image analysed):
//              {index, label, pred, conf, top (classes, top-k each), top_p (their probabilities),
//               blank (bit 1: the predicted-class CAM of the run's method and layer has no positive
//               evidence, bit 2: the true-class CAM; absent in data.js written before it existed),
//               [2] p_true (p of the true class), flags (bit 1: in Report::high_conf_errors, 2: in
//               low_conf_correct, 4: in label_issue_rows), lscore (the label-issue ranking's margin,
//               null where the row is no likely label error), centre (Report::centre_share, null
//               where the map is degenerate)}
//   galleries  [{cls, worst [row], best [row]}]
//   cam_health {maps, degenerate (predicted-class maps), warning [lines; empty unless more than a
//               fifth are degenerate]}
//   [2] superclasses null | {names, of_class}     thresholds {high_conf, low_conf}
//   [2] lists      {label_issues, high_conf_errors, low_conf_correct: [row] (the report's order),
//                   faithfulness: [{method, layer, mean_rank | null, maps, degenerate}] ([] if not run),
//                   degenerate: {maps, degenerate, by_pred_class: [{cls, maps, degenerate}]}}
//   [2] thumbs     {tile [h, w], cols, per_sheet, sheets [url]} (report/thumbs.hpp; offline
//                   "img/thumbs-<k>.png", served "api/thumbs/<k>.png")
//   [2] tags_key   a stable id of the run (model SHA-256 + dataset fingerprint prefixes), for the
//                   offline tags' localStorage key
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/report/analysis.hpp"

namespace camscope {

/// A file of web/ compiled into the binary (cmake/embed_assets.cmake generates the table).
struct WebAsset {
    std::string_view name;          // "index.html", "app.js", "style.css"
    std::string_view content_type;  // "text/html; charset=utf-8", ...
    std::string_view bytes;
};

/// Every embedded asset, in the order CMakeLists.txt lists them.
const std::vector<WebAsset>& web_assets();
/// The asset with exactly this name, or nullptr. Names never touch the filesystem.
const WebAsset* find_web_asset(std::string_view name);

constexpr int kExplorerSchema = 2;

/// The explorer's data for a report (schema above). `top_k` probabilities are kept per image.
nlohmann::json explorer_data(const Report& r, const AnalysisInput& in, int top_k = 5);

/// Rows of confusion cell (truth, pred), most confident first (ties: row order).
std::vector<size_t> cell_rows(const nlohmann::json& data, int truth, int pred);

/// "window.CAMSCOPE_DATA = {...};" and back (Error naming `name` if it is not such a file).
std::string explorer_data_js(const nlohmann::json& data);
nlohmann::json parse_explorer_data_js(const std::string& text, const std::string& name);

}  // namespace camscope
