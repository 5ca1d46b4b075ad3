#pragma once
// The one input-preparation rule: which size and which normalisation a model is fed, and where
// that normalisation came from (InputSpec::norm_source, stated by every report: the run identity's
// "input.normalisation", analyze's summary). Every edge calls it: the CLI (image files, dataset
// files, .npy arrays), the Python package (paths, arrays, torchvision datasets, Model and
// Model.from_torch), the server. Torch-free.
//
// Normalisation, the first source that applies:
//   1. the data's own: images that arrive normalised (a torchvision transform's Normalize;
//      DatasetInfo::applied_norm) are fed exactly so, never normalised again. A user mean/std or
//      norm preset that differs is refused (both cannot hold); model metadata that differs is
//      named in the statement.
//   2. the user's: a norm preset (--norm / norm=), then --mean / --std (mean= / std=) over it.
//   3. the model's camscope metadata (ModelInfo::input).
//   4. the dataset's preset (DatasetInfo::preset: set by the format's reader, which says why:
//      "dataset preset cifar10 (the CIFAR-10 binary format)") — for a model file only. A module
//      handed over by Python (Model.from_torch) gets none: its preprocessing is the caller's code,
//      which may well normalise inside the module.
//   5. none: pixels scaled to [0, 1].
// A dataset's name alone (arrays named "cifar10", a torchvision class name) never picks a preset.
#include <optional>
#include <string>
#include <vector>

#include "camscope/data/dataset.hpp"

namespace camscope {

struct SpecOverrides {
    std::optional<int> height, width;             // --input-size HxW
    std::optional<std::vector<float>> mean, std;  // --mean / --std
    std::string preset;                           // --norm NAME (dataset preset)
};

/// The model's side of the rule.
struct ModelInput {
    std::optional<InputSpec> metadata;  // camscope metadata (ModelInfo::input); nullopt for foreign models
    std::string path;                   // named in messages
    bool live_module = false;           // handed over by Python (Model.from_torch): no dataset preset
};

/// The statements of InputSpec::norm_source (besides the readers' dataset_preset_source).
inline constexpr const char* kNormFromMetadata = "model metadata";
inline constexpr const char* kNormNone = "none (pixels scaled to [0, 1])";
inline constexpr const char* kNormNoneLiveModule =
    "none (a module from Python gets no dataset preset: pass mean/std or norm if it expects normalised input)";

/// Input size and normalisation (see the rule above) with norm_source set; mean/std hold one value
/// per channel. Size: --input-size > the model's metadata > the dataset's (its images' size).
/// Throws UsageError when the size is unknown or too large, a preset is unknown, the values are
/// not one (or one per channel) finite mean and positive std, or the user's normalisation
/// contradicts the data's own.
InputSpec resolve_input_spec(const ModelInput& model, const DatasetInfo& data, const SpecOverrides& ov);

}  // namespace camscope
