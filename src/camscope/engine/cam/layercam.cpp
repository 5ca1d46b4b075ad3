// LayerCAM (Jiang et al., IEEE TIP 2021, eq. 5): cam = Σ_k ReLU(g) ⊙ A.
#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

CamMethod make_layercam() {
    return {"layercam", "LayerCAM: positive gradients x activations, element-wise", true,
            [](const CamContext& c) { return torch::relu(c.gradients) * c.activations; }};
}

}  // namespace camscope::engine
