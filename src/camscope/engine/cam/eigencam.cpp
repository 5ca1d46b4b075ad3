// EigenCAM (Muhammad & Yeasin, IJCNN 2020): projection of the activations (hw × K, centred per
// channel) on their first principal direction, as pytorch-grad-cam's get_2d_projection.
// Gradient-free and class-agnostic. The terms are the activations themselves; the pipeline
// projects them (eigen_projection in registry.cpp, which also fixes the arbitrary sign of the
// singular vector: the map is oriented to agree with the channel sum of the activations, or,
// where that sum carries no direction (LayerNorm outputs), to have its largest entry positive).
#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

CamMethod make_eigencam() {
    return {"eigencam", "EigenCAM: first principal component of the activations (no gradients)", false,
            [](const CamContext& c) { return c.activations; }, /*project=*/true};
}

}  // namespace camscope::engine
