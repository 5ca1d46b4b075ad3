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
                const int64_t n = a.size(0), k = a.size(1);
                const auto channels = select_channels(a, c.max_channels);  // n×M
                const int64_t m = channels.size(1), total = n * m;
                const auto size = std::vector<int64_t>{c.input.size(2), c.input.size(3)};
                auto scores = torch::empty({total}, c.logits.options());
                const auto idx_opts = torch::TensorOptions().dtype(torch::kInt64).device(a.device());
                for (int64_t start = 0; start < total; start += c.batch_size) {
                    const int64_t len = std::min<int64_t>(c.batch_size, total - start);
                    const auto rows = torch::arange(start, start + len, idx_opts);
                    const auto img = rows.div(m, "floor");
                    const auto ch = channels.flatten().index_select(0, rows);
                    auto up = torch::upsample_bilinear2d(a.index({img, ch}).unsqueeze(1), size, /*align_corners=*/true);
                    const auto flat = up.flatten(1);
                    const auto mx = std::get<0>(flat.max(1)).view({-1, 1, 1, 1});
                    const auto mn = std::get<0>(flat.min(1)).view({-1, 1, 1, 1});
                    up = (up - mn) / (mx - mn + 1e-8);
                    const auto logits = c.score_inputs(c.input.index_select(0, img) * up);
                    scores.narrow(0, start, len)
                        .copy_(logits.gather(1, c.targets.index_select(0, img).unsqueeze(1)).squeeze(1));
                    if (c.progress) c.progress(start + len, total);
                }
                const auto w = torch::softmax(scores.view({n, m}), 1);
                return weighted(scatter_weights(w, channels, k), a);
            }};
}

}  // namespace camscope::engine
