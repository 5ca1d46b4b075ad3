// EigenCAM (Muhammad & Yeasin, IJCNN 2020): projection of the activations (hw × K, centred per
// channel) on their first principal direction (first right singular vector), as in
// pytorch-grad-cam's get_2d_projection. Gradient-free and class-agnostic.
//
// The sign of a singular vector is arbitrary, so the library's maps can come out inverted. We fix
// it: the projection is flipped when its dot product with the channel-sum of the uncentred
// activations (the layer's "energy" map) is negative; if that is exactly zero, the element of
// largest magnitude is made positive.
#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

CamMethod make_eigencam() {
    return {"eigencam", "EigenCAM: first principal component of the activations (no gradients)", false,
            [](const CamContext& c) {
                const auto a = c.activations.to(torch::kFloat64);  // SVD in double: stable sign test
                const int64_t n = a.size(0), k = a.size(1), h = a.size(2), w = a.size(3);
                auto out = torch::empty({n, h, w}, a.options());
                for (int64_t i = 0; i < n; ++i) {
                    auto x = a[i].reshape({k, h * w}).t();  // hw × K
                    x = x - x.mean(0, /*keepdim=*/true);
                    auto svd = torch::linalg::svd(x, /*full_matrices=*/false, c10::nullopt);
                    auto v0 = std::get<2>(svd)[0];          // first right singular vector, K
                    auto proj = torch::matmul(x, v0);       // hw
                    const double dot = (proj * a[i].sum(0).reshape({h * w})).sum().item<double>();
                    bool flip = dot < 0;
                    if (dot == 0) flip = proj[proj.abs().argmax()].item<double>() < 0;
                    out[i] = (flip ? -proj : proj).reshape({h, w});
                }
                return out.to(c.activations.scalar_type());
            }};
}

}  // namespace camscope::engine
