#pragma once
// build_report's "intervals" stage (analysis.cpp calls it after the CAM evidence and the pairs):
// attaches the 95 % intervals of report/intervals.hpp to the Report's figures. Torch-free.
#include <vector>

#include "camscope/report/analysis.hpp"

namespace camscope {

/// A 95 % interval beside every per-class and per-pair figure (intervals.hpp): Wilson for the
/// proportions (top-1/top-5, class recall and precision, pair rates; blank-map shares:
/// metrics::CamCount::share_ci), the seeded percentile bootstrap for the means (centre shares and
/// their gap, overall and per class; CAM IoU, overall and per pair) and for the ECE.
/// Reads Report::correct, top5, per_class, directed, symmetric, rows, centre_share, focus,
/// focus_per_class, pair_focus; `iou` is cam_evidence's per-row IoU (n; NaN where not computed).
/// Sets every *_ci field, calibration.before.ece_ci and Report::intervals_s. The bootstraps run on
/// up to `threads` threads (0: every core); the intervals are the same for any count.
void attach_intervals(Report& r, const AnalysisInput& in, const std::vector<double>& iou, const AnalysisParams& opt,
                      int threads = 0);

}  // namespace camscope
