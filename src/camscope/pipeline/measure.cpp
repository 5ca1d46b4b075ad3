#include "camscope/pipeline/measure.hpp"

#include <memory>

namespace camscope {

AnalysisInput measure(Model& m, const Dataset& ds, const InputSpec& s, const PassOptions& po,
                      const std::string& model_path, const std::string& data_path) {
    auto pass = run_pass(m, ds, s, po);
    AnalysisInput in;
    in.model_path = model_path;
    in.model_kind = m.info().kind;
    in.dataset_path = data_path;
    in.dataset_name = ds.info().name;
    in.split = ds.info().split;
    in.layer = layers_text(po.cam);
    in.method = po.cam.method;
    in.class_names = class_names(m, ds);
    in.coarse_names = ds.info().coarse_names;
    in.fine_to_coarse = ds.info().fine_to_coarse;
    in.num_classes = pass.num_classes;
    in.n = pass.n;
    in.indices = std::move(pass.indices);
    in.labels = std::move(pass.labels);
    in.logits = std::move(pass.logits);
    in.probs = std::move(pass.probs);
    in.fh = pass.fh;
    in.fw = pass.fw;
    in.cam_pred = std::move(pass.cam_pred);
    in.cam_true = std::move(pass.cam_true);
    in.input_h = s.height;
    in.input_w = s.width;
    in.timings.predict_s = pass.seconds;
    auto rows = std::make_shared<const std::vector<int>>(in.indices);  // `in` may move
    in.load_image = [&ds, rows](size_t row) { return ds.get(static_cast<size_t>((*rows)[row])).image; };
    return in;
}

std::vector<std::string> class_names(const Model& m, const Dataset& d) {
    return m.info().class_names.empty() ? d.info().class_names : m.info().class_names;
}

}  // namespace camscope
