// Ablation-CAM (Desai & Ramaswamy, WACV 2020): w_k = (y − y_k) / y, y the target logit and y_k the
// target logit with channel k of the layer's output set to 0 (the paper's ablation;
// pytorch-grad-cam substitutes a large negative value for layers that can be negative, we do not).
// The model is re-run with the ablated activation in place of the layer's output, ablated in the
// layer's own layout (channels last / tokens: the last axis, every token, as AblationLayerVit); the part before
// the layer is skipped unless skip connections need it (graph_probe.cpp: make_replace_graph). One forward per (image, channel),
// batched; --max-channels keeps the M channels of largest mean activation (the others weigh 0).
#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

CamMethod make_ablationcam() {
    return {"ablationcam", "Ablation-CAM: channel weights = relative score drop when the channel is zeroed (slow)",
            false, [](const CamContext& c) {
                const auto& a = c.activations;
                const auto channels = select_channels(a, c.max_channels);  // n×M
                const auto ablated = perturbation_scores(
                    c, channels, [&](const auto& img, const auto& ch) { return c.score_ablated(img, ch); });
                const auto score = c.logits.gather(1, c.targets.unsqueeze(1));  // n×1
                return weighted(scatter_weights((score - ablated) / score, channels, a.size(1)), a);
            }};
}

}  // namespace camscope::engine
