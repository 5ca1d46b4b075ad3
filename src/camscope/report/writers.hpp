#pragma once
// Internal to the report writers (write_*.cpp): each function formats a part of a Report as the
// bytes of one file. Nothing here computes a metric; write_report() in write_report.cpp decides
// the order and writes the files atomically.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/report/analysis.hpp"

namespace camscope::report_detail {

/// A file written (or about to be) into the report folder, relative name + what it holds.
struct WrittenFile {
    std::string name;
    std::string description;
    std::vector<std::uint8_t> png;  // kept for inlining into index.html (PNG files only)
};

// write_tables.cpp
std::string confusion_csv(const Report& r);
std::string per_class_csv(const Report& r);
std::string pairs_csv(const Report& r);

// write_figures.cpp
std::vector<std::uint8_t> confusion_png(const Report& r, const AnalysisOptions& opt);
/// The sub-matrix of Report::top_matrix_classes, labelled and annotated: readable at any K.
std::vector<std::uint8_t> confusion_top_png(const Report& r, const AnalysisOptions& opt);
std::vector<std::uint8_t> top_pairs_png(const Report& r, const AnalysisOptions& opt);
std::vector<std::uint8_t> reliability_png(const Report& r);
std::vector<std::uint8_t> gallery_png(const Report& r, const AnalysisInput& in, const ClassGallery& g);
std::vector<std::uint8_t> pair_png(const Report& r, const AnalysisInput& in, const PairFigure& f);
std::vector<std::uint8_t> label_issues_png(const Report& r, const AnalysisInput& in, const AnalysisOptions& opt);
// The tiles those figures are made of (also the explorer's offline images): the dataset image of a
// row (empty without a loader), its predicted- or true-class CAM overlaid at the image's size, and
// the difference pred − true on the diverging scale, all drawn by image/cam_view.hpp: a map with no
// positive evidence gives the hatched grey image instead, never a flat overlay (the difference:
// when `blank`, RowRef::*_cam_degenerate of either map).
Image row_image(const AnalysisInput& in, size_t row);
Image row_cam_tile(const AnalysisInput& in, const Image& img, bool true_class, size_t row);
Image row_diff_tile(const AnalysisInput& in, const Image& img, size_t row, bool blank);
/// The Finer-CAM overlay of a row that has one in Report::contrast_cams; `blank` set if degenerate.
Image row_contrast_tile(const Report& r, const AnalysisInput& in, const Image& img, size_t row, bool& blank);

// write_text.cpp
/// The lines of the blank-CAM warning (more than DegenerateStats::warn_share of the predicted-class
/// maps are degenerate), with the measured better method/layer; empty when it does not apply.
/// Opens analysis_summary.txt, the terminal summary and index.html.
std::vector<std::string> degenerate_warning(const Report& r);
std::string summary_text(const Report& r, const AnalysisOptions& opt);
std::string recommendations_text(const Report& r);

// write_html.cpp
std::string html_escape(const std::string& s);
/// JSON text safe inside a <script> element ("</" written as "<\/").
std::string script_json(const nlohmann::json& j);
std::string base64(const std::vector<std::uint8_t>& bytes);
std::string interactive_html(const Report& r);
std::string index_html(const Report& r, const AnalysisOptions& opt, const std::vector<WrittenFile>& files);

// write_explorer.cpp: explorer/ (web assets, data.js, img/), see explorer.hpp. Writes its files
// itself (atomically) and returns what index.html lists.
std::vector<WrittenFile> write_explorer(const Report& r, const AnalysisInput& in, const AnalysisOptions& opt,
                                        const std::string& out_dir);

// write_json.cpp
std::string summary_json(const Report& r, const AnalysisOptions& opt, const std::vector<WrittenFile>& files);
/// The headline figures (top-1/top-5, correct, errors, mean confidences): summary.json and the explorer.
nlohmann::json overall_json(const Report& r);

/// "12.3%" with one decimal.
std::string pct(double v);

/// "T = 1.85" (`decimals` places), or "T = 20.00 (the largest searched)" / "(the smallest
/// searched)" when the fit stopped at a bound of its range (TemperatureFit::bound).
std::string temperature_label(const metrics::TemperatureFit& cal, int decimals = 2);

}  // namespace camscope::report_detail
