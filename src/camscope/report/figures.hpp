#pragma once
// The report's PNG figures (write_figures.cpp), public: write_report writes them into the report
// folder; Python's Report draws them on demand. Each formats a Report (and, for the figures with
// images, the AnalysisInput's images and CAMs) into PNG bytes, drawn by render/plot; nothing here
// computes a metric, and every number in a title or caption comes from the Report. A map with no
// positive evidence is never drawn as evidence: image/cam_view.hpp gives the hatched stand-in.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "camscope/image/image.hpp"
#include "camscope/report/analysis.hpp"

namespace camscope::figures {

using Png = std::vector<std::uint8_t>;

/// confusion_matrix_full.png: every class in Report::class_order (counts, or shares of the true
/// class with WriteOptions::row_normalised_matrix).
Png confusion_png(const Report& r, const WriteOptions& opt);
/// confusion_matrix_top.png: the sub-matrix of Report::top_matrix_classes, labelled and
/// annotated: readable at any K.
Png confusion_top_png(const Report& r, const WriteOptions& opt);
/// top_confused_pairs.png: the first AnalysisParams::top_pairs directed pairs.
Png top_pairs_png(const Report& r);
/// reliability_diagram.png.
Png reliability_png(const Report& r);
/// worst_predictions/class_<i>_<name>.png: one class's worst and best predictions with CAMs.
Png gallery_png(const Report& r, const AnalysisInput& in, const ClassGallery& g);
/// confused_pair_<a>_<b>.png: image, true-class CAM, predicted-class CAM, difference (and the
/// Finer-CAM map where Report::contrast_cams has one).
Png pair_png(const Report& r, const AnalysisInput& in, const PairFigure& f);
/// failure_modes/<stem>.png: one group of Report::failure_modes, a row per mode with its most
/// typical errors (image, true-class CAM, predicted-class CAM) and the modes' descriptions.
Png failure_group_png(const Report& r, const AnalysisInput& in, const FailureGroup& g);
/// likely_label_errors.png: the first WriteOptions::label_issue_figure likely label errors.
Png label_issues_png(const Report& r, const AnalysisInput& in, const WriteOptions& opt);

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

}  // namespace camscope::figures
