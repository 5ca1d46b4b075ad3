// Grad-CAM++ (Chattopadhay et al., WACV 2018, eq. 19) as in pytorch-grad-cam:
// α = g² / (2g² + Σ_ab A_ab · g³ + 1e-6), α = 0 where g = 0; w_k = Σ_ij ReLU(g)·α.
#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

CamMethod make_gradcampp() {
    return {"gradcampp", "Grad-CAM++: second-order weighting of positive gradients", true,
            [](const CamContext& c) {
                // In float64: where Σ A·g³ nearly cancels 2g² the denominator is ill-conditioned.
                const auto g = c.gradients.to(torch::kFloat64);
                const auto a = c.activations.to(torch::kFloat64);
                const auto g2 = g.pow(2);
                const auto g3 = g2 * g;
                const auto sum_a = a.sum({2, 3}, /*keepdim=*/true);
                auto alpha = g2 / (2 * g2 + sum_a * g3 + 1e-6);
                alpha = torch::where(g != 0, alpha, torch::zeros_like(alpha));
                const auto w = (torch::relu(g) * alpha).sum({2, 3});
                return weighted(w, a);
            }};
}

}  // namespace camscope::engine
