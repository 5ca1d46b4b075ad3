// HiResCAM (Draelos & Carin, 2020): cam = Σ_k g ⊙ A (element-wise, no spatial averaging).
#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

CamMethod make_hirescam() {
    return {"hirescam", "HiResCAM: element-wise gradient x activation, summed over channels", true,
            [](const CamContext& c) { return c.gradients * c.activations; }};
}

}  // namespace camscope::engine
