// Ablation-CAM (Desai & Ramaswamy, WACV 2020): w_k = (y − y_k) / y, y the target logit and y_k the
// target logit with channel k of the layer's output set to 0 (the paper's ablation;
// pytorch-grad-cam substitutes a large negative value for layers that can be negative, we do not).
// The model is re-run from the layer onwards with the ablated activation in place (the part
// before the layer is skipped unless skip connections need it). One forward per (image, channel),
// batched; --max-channels keeps the M channels of largest mean activation (the others weigh 0).
#include "camscope/engine/cam/cam_method.hpp"

namespace camscope::engine {

CamMethod make_ablationcam() {
    return {"ablationcam", "Ablation-CAM: channel weights = relative score drop when the channel is zeroed (slow)",
            false, [](const CamContext& c) {
                const auto& a = c.activations;
                const int64_t n = a.size(0), k = a.size(1);
                const auto channels = select_channels(a, c.max_channels);  // n×M
                const int64_t m = channels.size(1), total = n * m;
                auto ablated = torch::empty({total}, c.logits.options());
                const auto idx_opts = torch::TensorOptions().dtype(torch::kInt64).device(a.device());
                for (int64_t start = 0; start < total; start += c.batch_size) {
                    const int64_t len = std::min<int64_t>(c.batch_size, total - start);
                    const auto rows = torch::arange(start, start + len, idx_opts);
                    const auto img = rows.div(m, "floor");
                    const auto ch = channels.flatten().index_select(0, rows);
                    auto acts = a.index_select(0, img).clone();
                    acts.index_put_({torch::arange(len, idx_opts), ch}, 0.0);
                    const auto logits = c.score_replaced(c.input.index_select(0, img), acts);
                    ablated.narrow(0, start, len)
                        .copy_(logits.gather(1, c.targets.index_select(0, img).unsqueeze(1)).squeeze(1));
                    if (c.progress) c.progress(start + len, total);
                }
                const auto score = c.logits.gather(1, c.targets.unsqueeze(1));  // n×1
                const auto w = (score - ablated.view({n, m})) / score;
                return weighted(scatter_weights(w, channels, k), a);
            }};
}

}  // namespace camscope::engine
