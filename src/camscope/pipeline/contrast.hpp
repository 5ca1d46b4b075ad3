#pragma once
// The contrastive column of the confused-pair sheets: for each error shown there, the Finer-CAM
// map "what made the model choose the predicted class over the true one".
#include <string>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/report/analysis.hpp"

namespace camscope {

/// Finer-CAM (method finercam: Grad-CAM weights of S = p_true (y_pred − y_true) / p_true, i.e.
/// pytorch-grad-cam's FinerCAM with main = predicted class, comparison = [true class], alpha 1) at
/// `layer` for every example of r.pair_figures, batched; into r.contrast_cams (row → map at the
/// layer's resolution) and r.contrast_fh/fw. Rows are read from `data` by their dataset index.
void attach_contrast_cams(Report& r, Model& model, const Dataset& data, const InputSpec& spec, const std::string& layer,
                          int batch_size);

}  // namespace camscope
