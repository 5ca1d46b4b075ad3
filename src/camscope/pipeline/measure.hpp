#pragma once
// The measurement behind `camscope analyze`, `camscope serve` and the benchmark's full-analysis
// row: one streaming pass (run_pass: predictions and, when asked, the CAMs of the predicted and
// the true class) turned into the report's input. Torch-free (engine facade only).
#include <string>
#include <vector>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/pipeline/pipeline.hpp"
#include "camscope/report/analysis.hpp"

namespace camscope {

/// run_pass(m, ds, s, po) as an AnalysisInput (provenance, class names, logits, probabilities,
/// CAMs, timings.predict_s). Its load_image reads from `ds`, which must outlive it; it may be
/// called from several threads at once (Dataset::get is const and reads with pread or from
/// memory).
AnalysisInput measure(Model& m, const Dataset& ds, const InputSpec& s, const PassOptions& po,
                      const std::string& model_path, const std::string& data_path);

/// Class names: the model's metadata if it has them, else the dataset's.
std::vector<std::string> class_names(const Model& m, const Dataset& d);

}  // namespace camscope
