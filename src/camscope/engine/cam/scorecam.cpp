// Score-CAM (Wang et al., CVPR-W 2020) as in pytorch-grad-cam: each channel A_k is upsampled to the
// input size (bilinear, align_corners=True), min-max scaled per channel (eps 1e-8) and multiplied
// into the normalised input; w = softmax over channels of the target logits of those masked
// inputs. One forward per (image, channel), batched; --max-channels keeps the M channels of largest
// mean activation (softmax over those, the others weigh 0).
#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

CamMethod make_scorecam() {
    return {"scorecam", "Score-CAM: channel weights = softmax of the scores of input x upsampled channel (slow)",
            false, [](const CamContext& c) {
                const auto& a = c.activations;
                const auto channels = select_channels(a, c.max_channels);  // n×M
                const auto size = std::vector<int64_t>{c.input.size(2), c.input.size(3)};
                const auto scores = perturbation_scores(c, channels, [&](const auto& img, const auto& ch) {
                    auto up = torch::upsample_bilinear2d(a.index({img, ch}).unsqueeze(1), size, /*align_corners=*/true);
                    const auto flat = up.flatten(1);
                    const auto mx = std::get<0>(flat.max(1)).view({-1, 1, 1, 1});
                    const auto mn = std::get<0>(flat.min(1)).view({-1, 1, 1, 1});
                    up = (up - mn) / (mx - mn + 1e-8);
                    return c.score_inputs(c.input.index_select(0, img) * up, img, ch);
                });
                return weighted(scatter_weights(torch::softmax(scores, 1), channels, a.size(1)), a);
            }};
}

}  // namespace camscope::engine
