#include "camscope/engine/cam/cam_method.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::engine {

CamMethod make_gradcam();
CamMethod make_gradcampp();
CamMethod make_xgradcam();
CamMethod make_hirescam();
CamMethod make_layercam();
CamMethod make_eigencam();
CamMethod make_scorecam();
CamMethod make_ablationcam();
CamMethod make_finercam();

const std::vector<CamMethod>& cam_registry() {
    static const std::vector<CamMethod> methods = {
        make_gradcam(),  make_gradcampp(), make_xgradcam(), make_hirescam(),
        make_layercam(), make_eigencam(),  make_scorecam(), make_ablationcam(),
        make_finercam(),
    };
    return methods;
}

const CamMethod& find_cam_method(const std::string& name) {
    std::vector<std::string> names;
    for (const auto& m : cam_registry()) {
        if (m.name == name) return m;
        names.push_back(m.name);
    }
    throw UsageError("unknown CAM method '" + name + "'; available: " + join(names, ", "));
}

torch::Tensor weighted(const torch::Tensor& weights, const torch::Tensor& activations) {
    return weights.unsqueeze(-1).unsqueeze(-1) * activations;
}

// EigenCAM's orientation. The sign of a singular vector is arbitrary: LAPACK/BLAS return either,
// and which one depends on the kernels (AVX2 vs AVX-512 builds of OpenBLAS, MKL, cuSOLVER), so a
// map must not take it from the SVD. Rule, per image, on the projection p (hw entries, centred),
// the centred term matrix X (hw × K) and the channel sum s of the uncentred terms (the plain,
// un-projected map):
//  1. agreement: d = p·(s − mean s) / (|p| |X|_F); p is negated when d < 0, provided
//     |d| >= kEigenAgreement (1e-5, about 100 times float32's rounding);
//  2. otherwise p is negated when its entry of largest magnitude is negative (the first such entry
//     on ties).
// Rule 1 alone (with "d exactly 0" as the only way to rule 2) was the rule until round three. It
// orients a map the way its plain map points, but a LayerNorm's output has a channel sum that is
// constant up to rounding: there p·(s − mean s) is rounding noise, whose sign changed with the BLAS
// kernels (a tiny ViT's ln_1 flipped between an AVX2 and an AVX-512 CPU). d measures the plain map
// against the size of the terms themselves: such noise is about 1e-8 and goes to rule 2, while a
// real plain map gives 1e-4 and more (a Swin stage's residual output: 3e-4 to 2e-3; CNN
// activations: 0.1 and more). Both rules are continuous away from their ties (|d| near 1e-5; two
// opposite entries of equal magnitude), which float32 rounding does not reach in practice.
// pytorch-grad-cam's get_2d_projection fixes no sign: tests compare with its maps up to sign.
torch::Tensor eigen_projection(const torch::Tensor& terms) {
    constexpr double kEigenAgreement = 1e-5;
    const auto t = terms.to(torch::kFloat64);  // SVD in double
    const int64_t n = t.size(0), k = t.size(1), h = t.size(2), w = t.size(3);
    // One batched SVD and no per-image host round trip (on a GPU, a per-image loop cost 2 ms an image).
    auto x = t.reshape({n, k, h * w}).transpose(1, 2);  // n × hw × K
    x = x - x.mean(1, /*keepdim=*/true);
    const auto v0 = std::get<2>(at::linalg_svd(x, /*full_matrices=*/false)).select(1, 0);  // n × K, first right singular vectors
    const auto proj = torch::bmm(x, v0.unsqueeze(2)).squeeze(2);                          // n × hw
    auto plain = t.sum(1).reshape({n, h * w});
    plain = plain - plain.mean(1, /*keepdim=*/true);
    const auto norms = proj.norm(2, 1) * x.flatten(1).norm(2, 1);                          // n
    const auto d = torch::where(norms.gt(0), (proj * plain).sum(1) / norms.clamp_min(1e-300), torch::zeros_like(norms));
    const auto at_max = proj.gather(1, proj.abs().argmax(1, /*keepdim=*/true)).squeeze(1);  // n
    const auto flip = torch::where(d.abs().ge(kEigenAgreement), d.lt(0), at_max.lt(0));
    const auto sign = torch::where(flip, torch::full_like(d, -1.0), torch::full_like(d, 1.0));
    return (proj * sign.unsqueeze(1)).reshape({n, h, w}).to(terms.scalar_type());
}

torch::Tensor select_channels(const torch::Tensor& activations, int max_channels) {
    const int64_t n = activations.size(0), k = activations.size(1);
    if (max_channels <= 0 || max_channels >= k)
        return torch::arange(k, torch::TensorOptions().dtype(torch::kInt64).device(activations.device()))
            .unsqueeze(0)
            .expand({n, k});
    const auto mean = activations.mean({2, 3});  // n×K
    // Stable descending sort: equal means keep channel order.
    const auto order = std::get<1>(mean.sort(/*stable=*/true, /*dim=*/1, /*descending=*/true));
    return std::get<0>(order.narrow(1, 0, max_channels).sort(1));  // channel order within the top M
}

torch::Tensor perturbation_scores(const CamContext& c, const torch::Tensor& channels,
                                  const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& score) {
    const int64_t n = channels.size(0), m = channels.size(1), total = n * m;
    auto out = torch::empty({total}, c.logits.options());
    const auto idx = torch::TensorOptions().dtype(torch::kInt64).device(channels.device());
    const auto flat = channels.flatten();
    for (int64_t start = 0; start < total; start += c.batch_size) {
        const int64_t len = std::min<int64_t>(c.batch_size, total - start);
        const auto rows = torch::arange(start, start + len, idx);
        const auto img = rows.div(m, "floor");
        const auto logits = score(img, flat.index_select(0, rows));
        out.narrow(0, start, len).copy_(logits.gather(1, c.targets.index_select(0, img).unsqueeze(1)).squeeze(1));
        if (c.progress) c.progress(start + len, total);
    }
    return out.view({n, m});
}

torch::Tensor to_nchw(const torch::Tensor& out, const Layout& layout) {
    switch (layout.kind) {
        case LayoutKind::nchw: return out;
        case LayoutKind::nhwc: return out.permute({0, 3, 1, 2});
        case LayoutKind::ncl: return out.reshape({out.size(0), out.size(1), layout.h, layout.w});
        case LayoutKind::tokens:
            return out.narrow(1, layout.prefix, layout.h * layout.w)
                .reshape({out.size(0), layout.h, layout.w, out.size(2)})
                .permute({0, 3, 1, 2});
        default: throw std::logic_error("to_nchw: no layout");
    }
}

void zero_channels(torch::Tensor& out, const torch::Tensor& ch, const Layout& layout) {
    const auto rows = torch::arange(out.size(0), ch.options());
    // The channel axis first (a view of `out`), then index (row, channel) as for channels first.
    auto view = layout.kind == LayoutKind::nchw || layout.kind == LayoutKind::ncl ? out : out.movedim(-1, 1);
    view.index_put_({rows, ch}, 0.0);
}

torch::Tensor scatter_weights(const torch::Tensor& weights, const torch::Tensor& channels, int64_t k) {
    return torch::zeros({weights.size(0), k}, weights.options()).scatter(1, channels, weights);
}

}  // namespace camscope::engine
