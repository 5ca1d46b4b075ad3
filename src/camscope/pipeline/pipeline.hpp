#pragma once
// Torch-free glue between datasets and the engine: input-spec resolution and the streaming pass
// over a whole dataset (predictions and, in the same forward pass, CAMs of the predicted and the
// true class). Memory is bounded by the batch size for images; per-image outputs are kept
// (logits n×K and CAMs at the target layer's resolution n×h×w are small).
#include <optional>
#include <string>
#include <vector>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"

namespace camscope {

struct SpecOverrides {
    std::optional<int> height, width;           // --input-size HxW
    std::optional<std::vector<float>> mean, std;  // --mean / --std
    std::string preset;                          // --norm NAME (dataset preset)
};

/// Input size and normalisation: user overrides > the model's camscope metadata > the dataset's
/// preset. Throws Error if the result is incomplete (e.g. an image folder without --norm).
InputSpec resolve_input_spec(const ModelInfo& model, const DatasetInfo& data, const SpecOverrides& ov);

/// Checks the model's class count against the dataset's; Error naming both otherwise.
void check_class_count(Model& model, const Dataset& data, const InputSpec& spec);

struct PassOptions {
    int batch_size = 64;
    size_t limit = 0;          // first `limit` images only (0 = all)
    std::vector<size_t> only;  // explicit dataset indices (overrides limit)
    bool progress = true;
    bool cams = false;         // also CAMs of the predicted (slot 0) and true class (slot 1)
    std::string method = "gradcam";
    std::string layer;         // resolved layer path (required when cams)
    bool eigen_smooth = false, aug_smooth = false;  // see CamRequest
    int max_channels = 0;                           // see CamRequest
    std::string label = "predict";  // progress-bar label
};

struct PassOutput {
    size_t n = 0;
    int num_classes = 0;
    std::vector<int> indices;  // n: dataset index
    std::vector<int> labels;   // n
    std::vector<int> coarse;   // n (-1 without superclasses)
    std::vector<float> logits; // n×K
    std::vector<float> probs;  // n×K softmax
    int fh = 0, fw = 0;
    std::vector<float> cam_pred, cam_true;  // n×fh×fw each (when cams)
    double seconds = 0;
    int pred(size_t i) const;
    float confidence(size_t i) const;
};

/// One streaming pass: the next batch is decoded on a worker thread while the current one runs.
PassOutput run_pass(Model& model, const Dataset& data, const InputSpec& spec, const PassOptions& opt);

/// Top-k classes of row i by probability (descending).
std::vector<int> top_k(const PassOutput& out, size_t i, int k);

}  // namespace camscope
