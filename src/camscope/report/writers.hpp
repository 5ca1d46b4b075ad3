#pragma once
// Internal to the report writers (write_*.cpp): each function formats a part of a Report as the
// bytes of one file. Nothing here computes a metric; write_report() in write_report.cpp decides
// the order and writes the files atomically.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/report/analysis.hpp"
#include "camscope/report/figures.hpp"

namespace camscope::report_detail {

/// A file written (or about to be) into the report folder, relative name + what it holds.
struct WrittenFile {
    std::string name;
    std::string description;
    std::vector<std::uint8_t> png;  // kept for inlining into index.html (PNG files only)
};

// write_tables.cpp
std::string confusion_csv(const Report& r);
/// A confusion matrix as CSV: rows = true class, columns = predicted class, both in class-index order,
/// the first column names the true class (confusion_matrix.csv, rescore's confusion_matrix_rescored.csv).
std::string confusion_csv(const metrics::ConfusionMatrix& cm, const std::vector<std::string>& class_names);
std::string per_class_csv(const Report& r);
std::string pairs_csv(const Report& r);

// write_figures.cpp: the PNG figures, public in figures.hpp.

// write_text.cpp
/// The lines of the blank-CAM warning (more than DegenerateStats::warn_share of the predicted-class
/// maps are degenerate), with the measured better method/layer; empty when it does not apply.
/// Opens analysis_summary.txt, the terminal summary and index.html.
std::vector<std::string> degenerate_warning(const Report& r);
/// The lines of the sanity gate's warning (faith::sanity_warning) when it ran and failed, else empty:
/// after the blank-CAM warning in the same three places, and on every CAM figure.
std::vector<std::string> sanity_warning(const Report& r);
std::string summary_text(const Report& r, const WriteOptions& opt);
std::string recommendations_text(const Report& r);

// write_html.cpp
std::string html_escape(const std::string& s);
/// JSON text safe inside a <script> element ("</" written as "<\/").
std::string script_json(const nlohmann::json& j);
std::string base64(const std::vector<std::uint8_t>& bytes);
std::string interactive_html(const Report& r);
std::string index_html(const Report& r, const WriteOptions& opt, const std::vector<WrittenFile>& files);

// write_explorer.cpp: explorer/ (web assets, data.js, img/), see explorer.hpp. Writes its files
// itself (atomically) and returns what index.html lists.
std::vector<WrittenFile> write_explorer(const Report& r, const AnalysisInput& in, const WriteOptions& opt,
                                        const std::string& out_dir);

// write_failure_modes.cpp (the sheets: figures::failure_group_png, figures.hpp)
/// The text summary's lines about Report::failure_modes (none when absent).
std::vector<std::string> failure_modes_text(const Report& r);
/// summary.json's "failure_modes" (null when absent).
nlohmann::json failure_modes_json(const Report& r);
/// index.html's section, the sheets inlined from `files` ("" when absent).
std::string failure_modes_html(const Report& r, const std::vector<WrittenFile>& files);

// write_json.cpp
std::string summary_json(const Report& r, const WriteOptions& opt, const std::vector<WrittenFile>& files);
/// The headline figures (top-1/top-5, correct, errors, mean confidences): summary.json and the explorer.
nlohmann::json overall_json(const Report& r);
/// One class's metrics (index, name, support, correct, predicted, accuracy, precision, f1,
/// mean_confidence): summary.json's per_class entries (which add more) and the explorer's.
nlohmann::json class_metrics_json(const Report& r, const metrics::ClassStats& c);

/// "12.3%" with one decimal.
std::string pct(double v);
/// "72.0% (65.1–78.2%)": a share with its 95 % interval ("n/a" parts where undefined).
std::string pct_ci(double v, const intervals::Interval& i);
/// An interval as summary.json writes it: [lo, hi], or null where undefined.
nlohmann::json ci_json(const intervals::Interval& i);

/// "T = 1.85" (`decimals` places), or "T = 20.00 (the largest searched)" / "(the smallest
/// searched)" when the fit stopped at a bound of its range (TemperatureFit::bound).
std::string temperature_label(const metrics::TemperatureFit& cal, int decimals = 2);

}  // namespace camscope::report_detail
