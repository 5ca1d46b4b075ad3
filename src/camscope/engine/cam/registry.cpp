#include "camscope/engine/cam/cam_method.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::engine {

CamMethod make_gradcam();
CamMethod make_gradcampp();
CamMethod make_xgradcam();
CamMethod make_hirescam();
CamMethod make_layercam();
CamMethod make_eigencam();

const std::vector<CamMethod>& cam_registry() {
    static const std::vector<CamMethod> methods = {
        make_gradcam(), make_gradcampp(), make_xgradcam(), make_hirescam(), make_layercam(), make_eigencam(),
    };
    return methods;
}

const CamMethod& find_cam_method(const std::string& name) {
    std::vector<std::string> names;
    for (const auto& m : cam_registry()) {
        if (m.name == name) return m;
        names.push_back(m.name);
    }
    throw UsageError("unknown CAM method '" + name + "'; available: " + join(names, ", "));
}

torch::Tensor weighted_sum(const torch::Tensor& weights, const torch::Tensor& activations) {
    return (weights.unsqueeze(-1).unsqueeze(-1) * activations).sum(1);
}

}  // namespace camscope::engine
