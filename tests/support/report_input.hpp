#pragma once
// Test support: analysis inputs built by hand (the designed confusions of the report, explorer and
// parallel-drawing tests), row by row, with the probabilities computed the one way every test used.
#include <string>
#include <vector>

#include "camscope/report/analysis.hpp"

namespace camscope::support {

/// An empty input of these classes, maps of fh×fw at an input of input_h×input_w; no model, dataset,
/// layer or method named (the caller sets what its test reads) and no load_image.
AnalysisInput report_input(std::vector<std::string> class_names, int fh, int fw, int input_h, int input_w);

/// Names the designed report tests' toy run: model.pt (scripted), dataset /data/toy ("toy", split
/// test), Grad-CAM at layer4.
void name_toy_run(AnalysisInput& in);

/// Appends one image (row in.n): its dataset index, label, logits (K; stored as float), their
/// softmax as probs (computed in double, stored as float), and the predicted- and true-class maps
/// (fh×fw each).
void add_row(AnalysisInput& in, int index, int label, const std::vector<double>& logits,
             const std::vector<float>& cam_pred, const std::vector<float>& cam_true);

}  // namespace camscope::support
