#include "support/report_input.hpp"

#include <cmath>
#include <stdexcept>

namespace camscope::support {

AnalysisInput report_input(std::vector<std::string> class_names, int fh, int fw, int input_h, int input_w) {
    AnalysisInput in;
    in.num_classes = static_cast<int>(class_names.size());
    in.class_names = std::move(class_names);
    in.fh = fh;
    in.fw = fw;
    in.input_h = input_h;
    in.input_w = input_w;
    return in;
}

void name_toy_run(AnalysisInput& in) {
    in.model_path = "model.pt";
    in.model_kind = "scripted";
    in.dataset_path = "/data/toy";
    in.dataset_name = "toy";
    in.split = "test";
    in.layer = "layer4";
    in.method = "gradcam";
}

void add_row(AnalysisInput& in, int index, int label, const std::vector<double>& logits,
             const std::vector<float>& cam_pred, const std::vector<float>& cam_true) {
    const size_t hw = static_cast<size_t>(in.fh) * in.fw;
    if (logits.size() != static_cast<size_t>(in.num_classes) || cam_pred.size() != hw || cam_true.size() != hw)
        throw std::invalid_argument("add_row: logits must have num_classes values and each map fh*fw");
    in.indices.push_back(index);
    in.labels.push_back(label);
    double sum = 0;
    for (double z : logits) sum += std::exp(z);
    for (double z : logits) {
        in.logits.push_back(static_cast<float>(z));
        in.probs.push_back(static_cast<float>(std::exp(z) / sum));
    }
    in.cam_pred.insert(in.cam_pred.end(), cam_pred.begin(), cam_pred.end());
    in.cam_true.insert(in.cam_true.end(), cam_true.begin(), cam_true.end());
    ++in.n;
}

}  // namespace camscope::support
