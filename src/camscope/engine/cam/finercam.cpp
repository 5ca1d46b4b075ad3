// Finer-CAM (Zhang et al., "Finer-CAM: Spotting the Difference Reveals Finer Details for Visual
// Explanation", CVPR 2025): "why A and not B". Grad-CAM's channel weights, taken for the score
//   S = Σ_c p_c (y_main − α y_c) / (Σ_c p_c + 1e-9),   p = softmax(y), c over the comparison classes,
// as pytorch-grad-cam's FinerWeightedTarget computes it: the softmax weights are part of the score,
// so the gradient flows through them too. Default comparison classes (FinerCAM.forward with
// comparison_categories [1, 2, 3]): the three classes whose logits are closest to the main one's
// (|y_c − y_main| ascending, ties by class index; the main class itself excluded).
#include <limits>

#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

namespace {

torch::Tensor finer_score(const ScoreContext& s) {
    const auto& y = s.logits;
    const auto main = y.gather(1, s.targets.unsqueeze(1));  // n×1
    torch::Tensor comp = s.contrast;
    if (!comp.defined()) {
        auto d = (y.detach() - main.detach()).abs();
        d.scatter_(1, s.targets.unsqueeze(1), std::numeric_limits<float>::infinity());
        const int64_t m = std::min<int64_t>(3, y.size(1) - 1);
        comp = std::get<1>(d.sort(/*stable=*/true, /*dim=*/1, /*descending=*/false)).narrow(1, 0, m);
    }
    const auto valid = (comp >= 0).to(y.scalar_type());
    const auto idx = comp.clamp_min(0);
    const auto w = torch::softmax(y, 1).gather(1, idx) * valid;
    const auto num = (w * (main - s.alpha * y.gather(1, idx))).sum(1);
    return num / (w.sum(1) + 1e-9);
}

}  // namespace

CamMethod make_finercam() {
    CamMethod m{"finercam",
                "Finer-CAM: Grad-CAM of the target's logit against the comparison classes (--contrast, --alpha; "
                "default: the 3 classes with the closest logits)",
                true, [](const CamContext& c) { return weighted(c.gradients.mean({2, 3}), c.activations); }};
    m.score = finer_score;
    return m;
}

}  // namespace camscope::engine
