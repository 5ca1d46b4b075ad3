#pragma once
// The flip test's formats (write_flips.cpp; the data: flips.hpp): internal to the report writers,
// which call one function each. Nothing here computes: every number comes from Report::flips.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/report/analysis.hpp"
#include "camscope/report/figures.hpp"

namespace camscope::report_detail {

/// flip_test/flip_test.csv: one line per tested error (row, index, classes, outcome, kind, the
/// probabilities before and after).
std::string flips_csv(const Report& r);
/// summary.json's "flip_test": k, the imputation, the selection, counts and shares overall, per true
/// class and per directed pair, every tested row, the sheets; null without a flip test.
nlohmann::json flips_json(const Report& r);
/// analysis_summary.txt's lines (the headline, the pairs with most errors of each kind); empty
/// without a flip test.
std::vector<std::string> flips_text(const Report& r);
/// index.html's section without its sheets (heading, headline, the counts per pair as a table).
std::string flips_html(const Report& r);
/// A sheet of flip_test/: per error the image, the predicted-class CAM and the input with its
/// evidence removed (as the model saw it), captioned with the prediction before and after.
figures::Png flip_sheet_png(const Report& r, const AnalysisInput& in, const FlipSheet& sheet);

}  // namespace camscope::report_detail
