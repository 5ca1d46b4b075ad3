#pragma once
// Torch-free glue between datasets and the engine: input-spec resolution and the streaming pass
// over a whole dataset (predictions and, in the same forward pass, CAMs of the predicted and the
// true class). Memory is bounded by the batch size for images; per-image outputs are kept
// (logits n×K and CAMs at the target layer's resolution n×h×w are small).
#include <optional>
#include <string>
#include <vector>

#include "camscope/data/dataset.hpp"
#include "camscope/data/input_spec.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/util/progress.hpp"

namespace camscope {

/// The input-preparation rule (data/input_spec.hpp) for `model`; `live_module`: a module handed
/// over by Python (Model.from_torch), which gets no dataset preset.
InputSpec resolve_input_spec(const ModelInfo& model, const DatasetInfo& data, const SpecOverrides& ov,
                             bool live_module = false);

/// Checks the model's class count against the dataset's; Error naming both otherwise.
void check_class_count(Model& model, const Dataset& data, const InputSpec& spec);

/// How the dataset's labels correspond to the model's outputs (see match_classes).
struct ClassMatch {
    std::vector<int> to_model;  // to_model[dataset label] = the model's class index; empty: the same order
    std::string note;           // said to the user when the labels are mapped by name ("" otherwise)
};

/// The checks before any pass over the data (one probe forward, on the plain module):
///  - the class names of the model's metadata, if any, are one per output (Error otherwise);
///  - the model's output count equals the dataset's class count (Error naming both);
///  - when the model's metadata and the data itself (class folders, a names file) both name the
///    classes: the same names in the same order are used as they are; the same names in another
///    order give `to_model`, a mapping by name, and a note; different names are an Error listing
///    both. Names are compared case-insensitively with anything but [A-Za-z0-9_-] as '_'
///    ("T-shirt/top" is the folder "T-shirt_top"). Generic names ("class_3") and names implied
///    by the format (IDX) say nothing: the order is trusted.
ClassMatch match_classes(Model& model, const Dataset& data, const InputSpec& spec);

struct PassOptions {
    int batch_size = 64;
    size_t limit = 0;          // first `limit` images only (0 = all)
    std::vector<size_t> only;  // explicit dataset indices (overrides limit)
    bool progress = true;
    bool cams = false;         // also CAMs of the predicted (slot 0) and true class (slot 1)
    CamSettings cam;           // the CAMs' settings; cam.layers: resolved (required when cams)
    std::string label = "predict";  // progress-bar label
    /// A bar to advance instead of one of the pass's own (analyze's chunks share one bar); not finished here.
    Progress* bar = nullptr;
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

/// One streaming pass. On a GPU the next batch is decoded on the CPU while the current one runs;
/// on the CPU each batch is decoded (on every core) before it runs.
PassOutput run_pass(Model& model, const Dataset& data, const InputSpec& spec, const PassOptions& opt);

/// Top-k classes of row i by probability (descending).
std::vector<int> top_k(const PassOutput& out, size_t i, int k);

}  // namespace camscope
