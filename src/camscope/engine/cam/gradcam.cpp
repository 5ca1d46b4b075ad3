// Grad-CAM (Selvaraju et al., ICCV 2017, eq. 1–2): w_k = mean_ij dS/dA_k(ij); cam = Σ_k w_k A_k.
#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

CamMethod make_gradcam() {
    return {"gradcam", "Grad-CAM: channel weights = spatial mean of the gradients", true,
            [](const CamContext& c) { return weighted(c.gradients.mean({2, 3}), c.activations); }};
}

}  // namespace camscope::engine
