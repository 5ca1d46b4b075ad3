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
//   calibration {ece, ece_ci ([lo, hi] bootstrap, or null; absent before), mce, temperature, ece_after,
//               bins [{lower, upper, count, confidence, accuracy}]}
//   classes    [name]                        per_class [{index, name, support, correct, predicted,
//                                             accuracy, accuracy_ci, precision, precision_ci, f1,
//                                             mean_confidence}] (the *_ci: [lo, hi] 95 % Wilson
//                                             intervals, or null; absent in data written before them)
//   confusion  {counts K×K (true rows), order (display order)}; [2] above dense_confusion_max (200)
//              classes {cells [[true, pred, count], ...] (non-zero only), order} instead
//   pairs      [{true, pred, count, rate, rate_ci}]   every directed confusion, most frequent first;
//              rate_ci [lo, hi]: the rate's 95 % Wilson interval (absent in data written before it)
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
//   [2] failure_modes (where the report grouped its errors, report/failure_modes.hpp; absent in files
//                   written before): [{id, cls, mode (1-based within the class), errors, description}]
//                   with rows.mode (the row's mode id, -1 none)
//   [2] flips      (where the report ran the flip test, report/flips.hpp; absent in files written
//                   before): {fraction, tested, distractor, missing, unstable, headline} with rows.flip
//                   (the class predicted with the top `fraction` of the predicted class's evidence
//                   removed, -1 where the row was not tested; only errors are tested; its kind:
//                   the true class "distractor", the same class "missing", another "unstable")
//   [2] sanity     (where the report ran the sanity gate, faith/sanity.hpp; absent otherwise):
//                   {passed, headline, warning [lines; empty when it passed]}
//   [2] tags_key   a stable id of the run (model SHA-256 + dataset fingerprint prefixes), for the
//                   offline tags' localStorage key
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/report/analysis.hpp"
#include "camscope/report/thumbs.hpp"

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

// ---------------------------------------------------------------- the typed model
// The schema above as C++ types. One to_json / explorer_from_json pair: the writer formats an
// ExplorerData (explorer_data), the results folder's check (serve/results.hpp) and the server read
// one back. run, overall, calibration and the per_class entries are the report writers' formats
// (report_detail::overall_json, ...), kept as JSON and passed on as they are: the server answers
// them unchanged, those of older files too.

/// "rows": one entry per analysed image in each column (row r = the r-th image analysed).
struct ExplorerRows {
    std::vector<long long> index;       // dataset index
    std::vector<int> label, pred;       // class indices
    std::vector<double> conf;           // p of pred, in [0, 1]
    std::vector<std::vector<int>> top;  // the top-k classes of each row
    std::vector<std::vector<double>> top_p;
    std::optional<std::vector<int>> blank;  // bits: 1 pred-class map blank, 2 true-class map; absent in old files
    // [2] (empty in schema 1)
    std::vector<double> p_true;
    std::vector<int> flags;  // bits: 1 high-confidence error, 2 low-confidence correct, 4 label issue
    std::vector<std::optional<double>> lscore, centre;
    std::optional<std::vector<int>> mode;  // failure mode id (ExplorerFailureMode::id), -1 none; absent in old files
    std::optional<std::vector<int>> flip;  // the flip test's prediction (a class), -1 not tested; absent in old files
    size_t size() const { return index.size(); }
};

struct ExplorerPair {  // "pairs": a directed confusion
    int truth = 0, pred = 0;
    long long count = 0;
    double rate = 0;
    std::optional<std::array<double, 2>> rate_ci;  // absent in files written before intervals
};

struct ExplorerGallery {
    int cls = 0;
    std::vector<size_t> worst, best;  // rows
};

struct ExplorerConfusion {
    bool sparse = false;                          // [2] "cells" instead of "counts"
    std::vector<std::vector<long long>> counts;   // K×K, true rows (dense)
    std::vector<std::array<long long, 3>> cells;  // [true, pred, count], non-zero only (sparse)
    std::vector<int> order;                       // display order: a permutation of the classes
};

struct ExplorerCount {
    long long maps = 0, degenerate = 0;
};

struct ExplorerFaithfulness {
    std::string method, layer;
    std::optional<double> mean_rank;
    long long maps = 0, degenerate = 0;
};

struct ExplorerSuperclasses {
    std::vector<std::string> names;
    std::vector<int> of_class;
};

struct ExplorerFailureMode {  // "failure_modes": a mode of a class's errors (FailureModes, class groups)
    int id = 0, cls = 0, mode = 1;
    long long errors = 0;
    std::string description;
};

struct ExplorerFlips {  // "flips": the flip test's counts (FlipSummary::overall), with rows.flip
    double fraction = 0.2;
    long long tested = 0, distractor = 0, missing = 0, unstable = 0;
    std::string headline;  // flips_headline
};

struct ExplorerSanity {  // "sanity": the sanity gate's result
    bool passed = true;
    std::string headline;              // faith::sanity_headline
    std::vector<std::string> warning;  // faith::sanity_warning: empty when it passed
};

struct ExplorerThumbs {
    int tile_h = 0, tile_w = 0;
    long long cols = 0, per_sheet = 0;
    std::vector<std::string> sheets;  // urls
};

struct ExplorerData {
    int schema = kExplorerSchema;
    nlohmann::json run, overall, calibration;  // objects, as the report writers format them
    std::string method, layer;                 // run.method, run.layer ("" where absent)
    std::vector<std::string> classes;
    std::vector<nlohmann::json> per_class;     // one object per class
    ExplorerConfusion confusion;
    std::vector<ExplorerPair> pairs;
    ExplorerRows rows;
    std::optional<ExplorerCount> cam_health;   // with cam_health_warning; absent in files written before
    std::vector<std::string> cam_health_warning;
    std::vector<ExplorerGallery> galleries;    // one per class, in class order
    // [2] (schema 1: absent, left empty)
    std::optional<ExplorerSuperclasses> superclasses;
    double high_conf = 0, low_conf = 0;        // thresholds
    std::vector<size_t> label_issues, high_conf_errors, low_conf_correct;  // lists: rows
    std::vector<ExplorerFaithfulness> faithfulness;
    ExplorerCount degenerate;
    std::vector<std::pair<int, ExplorerCount>> degenerate_by_pred_class;  // (cls, count)
    ExplorerThumbs thumbs;
    std::string tags_key;
    std::optional<std::vector<ExplorerFailureMode>> failure_modes;  // with rows.mode
    std::optional<ExplorerFlips> flips;                             // with rows.flip
    std::optional<ExplorerSanity> sanity;
};

/// The explorer's model of a report (schema above). `top_k` probabilities are kept per image.
ExplorerData explorer_model(const Report& r, const AnalysisInput& in, int top_k = 5);

/// The "thumbs" entry of a layout: sheet k at url_prefix + k + ".png" (offline "img/thumbs-", served
/// "api/thumbs/").
ExplorerThumbs explorer_thumbs(const ThumbLayout& l, const std::string& url_prefix);

/// The schema's JSON (the keys of the schema `d.schema` says).
nlohmann::json to_json(const ExplorerData& d);
nlohmann::json to_json(const ExplorerThumbs& t);

/// Reads and checks explorer data (schemas 1 and 2) for everything a reader indexes with: every
/// index in range of the counts it declares (class indices in [0, classes), rows in [0, rows), a
/// K×K confusion matrix, an order that is a permutation, a gallery per class, finite confidences in
/// [0, 1]), nesting at most 32 deep. Keys it does not know are ignored. Throws Error naming `name`
/// and the field ("rows.pred[100]: 99 is not a class index ..."), nothing else.
ExplorerData explorer_from_json(const nlohmann::json& j, const std::string& name);

/// The explorer's data for a report: to_json(explorer_model(r, in, top_k)).
nlohmann::json explorer_data(const Report& r, const AnalysisInput& in, int top_k = 5);

/// Rows of confusion cell (truth, pred), most confident first (ties: row order).
std::vector<size_t> cell_rows(const ExplorerRows& rows, int truth, int pred);

/// What explorer/data.js holds before its JSON (the writer and the reader share it).
inline constexpr std::string_view kExplorerDataPrefix = "window.CAMSCOPE_DATA = ";

/// "window.CAMSCOPE_DATA = {...};" (data.js of the offline copy) and back.
std::string explorer_data_js(const nlohmann::json& data);
/// The JSON of such a file, not checked further: only ';', spaces and line ends may follow its
/// last '}'. Error naming `name` if it is not such a file or not JSON.
nlohmann::json explorer_data_js_json(std::string_view text, const std::string& name);
/// explorer_data_js_json, once explorer_from_json accepts it (Error naming `name` otherwise).
nlohmann::json parse_explorer_data_js(const std::string& text, const std::string& name);

}  // namespace camscope
