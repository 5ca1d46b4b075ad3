#pragma once
// The CAM method family around one pipeline (engine/model.cpp owns it: forward, target scores,
// one backward per target slot, reduction over channels, ReLU, per-image min-max, layer fusion,
// augmentation smoothing). A method only computes the per-channel terms of one layer from what
// the pipeline gives it. One method = one small file in this folder + one line in registry.cpp +
// tests against independently computed numbers.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "camscope/engine/layout.hpp"

namespace camscope::engine {

struct CamContext {
    torch::Tensor input;        // x: n×C×H×W, normalised, on the model's device
    /// A: n×K×h×w (detached): the layer's output read in its layout (layout.hpp; to_nchw), as
    /// pytorch-grad-cam's reshape_transform gives it: tokens without the prefix, channels first.
    torch::Tensor activations;
    torch::Tensor gradients;    // g = d(score)/dA: n×K×h×w, read like A; undefined for gradient-free methods
    torch::Tensor logits;       // n×classes of the unperturbed forward
    torch::Tensor targets;      // n, int64 target class per image
    /// Logits m×classes for a batch of inputs m×C×H×W (no grad; perturbation methods); row r is a
    /// perturbation of image img[r] by channel ch[r] (int64, m), which errors name.
    std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& img, const torch::Tensor& ch)> score_inputs;
    /// Logits m×classes of the forward with the layer's output ablated: row r is image img[r]
    /// (int64, m) with channel ch[r] (int64, m) of the output set to 0 in the model's own layout
    /// (every position; for tokens every token, the prefix too).
    std::function<torch::Tensor(const torch::Tensor& img, const torch::Tensor& ch)> score_ablated;
    int max_channels = 0;       // 0 = all channels (Score-CAM / Ablation-CAM bound, top by activation)
    int batch_size = 64;        // rows per perturbation forward
    /// Called after each perturbation forward with the rows done and the total for this call.
    std::function<void(int64_t done, int64_t total)> progress;
};

/// What a method's own target score sees (Finer-CAM).
struct ScoreContext {
    torch::Tensor logits;    // n×classes of the probe forward, differentiable w.r.t. the layer's output
    torch::Tensor targets;   // n int64: the main class of each image
    torch::Tensor contrast;  // n×M int64 comparison classes, −1 = padding; undefined = the method's default
    double alpha = 1.0;      // comparison strength
};

struct CamMethod {
    std::string name;          // --method value
    std::string summary;       // one line for --help
    bool needs_gradients;      // false: no backward pass is run
    /// Per-channel terms T: n×K×h×w (weighted activations w_k·A_k, or element-wise terms). The
    /// pipeline reduces them to the raw map n×h×w: Σ_k T_k, or with `project` / --eigen-smooth
    /// their first principal component (eigen_projection).
    std::function<torch::Tensor(const CamContext&)> compute;
    bool project = false;      // reduce by eigen_projection instead of the channel sum (EigenCAM)
    /// The per-image score (n) whose gradient the method's terms use; empty = the raw logit of the
    /// target class. One backward of the summed scores of the batch, as for every method.
    std::function<torch::Tensor(const ScoreContext&)> score = nullptr;
};

const std::vector<CamMethod>& cam_registry();
/// Throws UsageError listing the registered names if `name` is unknown.
const CamMethod& find_cam_method(const std::string& name);

/// w_k A_k for weights n×K and activations n×K×h×w: the terms of every "channel weights" method.
torch::Tensor weighted(const torch::Tensor& weights, const torch::Tensor& activations);

/// Projection of terms n×K×h×w on their first principal direction (hw × K matrix, centred per
/// channel, first right singular vector; SVD in float64), as pytorch-grad-cam's get_2d_projection,
/// with a sign that does not depend on the SVD's kernels (registry.cpp states the rule): oriented to
/// agree with Σ_k T_k (the un-projected map) where that map's component along it is at least 1e-5
/// of the terms' size, else with its element of largest magnitude positive. n×h×w.
torch::Tensor eigen_projection(const torch::Tensor& terms);

/// Indices n×M of the channels used by the perturbation methods: all K (M = K) when
/// max_channels is 0 or ≥ K, else the M = max_channels with the largest spatial mean activation
/// per image (ties: lower index first).
torch::Tensor select_channels(const torch::Tensor& activations, int max_channels);

/// Target logits n×M of the perturbed forwards of the perturbation methods: row (i, j) perturbs
/// image i at channel channels[i][j]. `score(img, ch)` gets the image and channel indices of one
/// chunk of at most c.batch_size rows and returns their logits rows×classes; c.progress is told.
torch::Tensor perturbation_scores(const CamContext& c, const torch::Tensor& channels,
                                  const std::function<torch::Tensor(const torch::Tensor& img, const torch::Tensor& ch)>& score);

/// A layer output (model layout, batch first) as n×K×h×w for `layout`: channels-first as is,
/// channels-last permuted, tokens without the prefix (and suffix) reshaped row-major to the grid
/// (pytorch-grad-cam's vit_reshape_transform / swinT_reshape_transform), N×C×L reshaped to the grid
/// (1×L: its reshape_transform t.unsqueeze(2)). A view where possible.
torch::Tensor to_nchw(const torch::Tensor& out, const Layout& layout);

/// Sets channel ch[r] of row r of `out` (model layout, m rows) to 0 at every position, in place.
void zero_channels(torch::Tensor& out, const torch::Tensor& ch, const Layout& layout);

/// Scatters per-image weights n×M over the selected channels n×M into n×K (0 elsewhere).
torch::Tensor scatter_weights(const torch::Tensor& weights, const torch::Tensor& channels, int64_t k);

}  // namespace camscope::engine
