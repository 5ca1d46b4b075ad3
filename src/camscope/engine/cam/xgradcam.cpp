// XGrad-CAM (Fu et al., BMVC 2020): w_k = Σ_ij g·A / (Σ_ij A + 1e-7).
#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

CamMethod make_xgradcam() {
    return {"xgradcam", "XGrad-CAM: activation-weighted gradient average (axiom-based)", true,
            [](const CamContext& c) {
                const auto& a = c.activations;
                const auto w = (c.gradients * a).sum({2, 3}) / (a.sum({2, 3}) + 1e-7);
                return weighted(w, a);
            }};
}

}  // namespace camscope::engine
