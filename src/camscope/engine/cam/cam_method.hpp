#pragma once
// The CAM method family around one pipeline (engine/model.cpp owns it: forward, target scores,
// one backward per target slot, ReLU, per-image min-max, layer fusion). A method only computes
// the raw map of one layer from what the pipeline gives it. One method = one small file in this
// folder + one line in registry.cpp + tests against independently computed numbers.
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace camscope::engine {

struct CamContext {
    torch::Tensor input;        // n×C×H×W, normalised, on the model's device
    torch::Tensor activations;  // A: n×K×h×w (detached)
    torch::Tensor gradients;    // g = d(score)/dA: n×K×h×w; undefined for gradient-free methods
    torch::Tensor targets;      // n, int64 target class per image
    /// Target-class logits for a batch of inputs m×C×H×W with targets m (perturbation methods).
    std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& targets)> score_inputs;
    /// Target-class logits when the layer's activation is replaced: x m×C×H×W, acts m×K×h×w.
    std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& acts, const torch::Tensor& targets)>
        score_with_activations;
    int max_channels = 0;       // 0 = all channels (Score-CAM / Ablation-CAM bound)
    int batch_size = 64;        // perturbation batches
};

struct CamMethod {
    std::string name;          // --method value
    std::string summary;       // one line for --help
    bool needs_gradients;      // false: no backward pass is run
    /// Raw map n×h×w (before ReLU and scaling) of one layer.
    std::function<torch::Tensor(const CamContext&)> compute;
};

const std::vector<CamMethod>& cam_registry();
/// Throws UsageError listing the registered names if `name` is unknown.
const CamMethod& find_cam_method(const std::string& name);

/// Σ_k w_k A_k for weights n×K: the map of every "channel weights" method. Returns n×h×w.
torch::Tensor weighted_sum(const torch::Tensor& weights, const torch::Tensor& activations);

}  // namespace camscope::engine
