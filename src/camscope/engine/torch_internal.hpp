#pragma once
// Helpers shared by the engine's torch translation units.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/script.h>

#include "camscope/engine/engine.hpp"

namespace camscope {

/// First line of an exception message (LibTorch messages carry long C++ backtraces).
std::string first_line(const std::string& what);

namespace engine {

/// Names row r of a forward's batch in errors: "image 17" (a dataset index), "image 17 with channel 5
/// ablated", …; empty: "batch row r".
using RowName = std::function<std::string(std::int64_t row)>;

/// Logits from a model output for a batch of `rows` images: a floating 2-D tensor rows×K, K >= 1,
/// returned as float32. Which value of the output holds them (model.logits, EngineOptions::logits):
///  - a tensor output is the logits (model.logits must be ""; a selector is a UsageError);
///  - a tuple or list output: "" = its one element that is a floating 2-D tensor with `rows` rows
///    (none: Error; several: UsageError "ambiguous"), a whole number = that element (negative: from
///    the end);
///  - a dict output: the same automatic rule over its values, or the value of key model.logits
///    (string keys; int keys by their decimal text).
/// One level only: a tuple inside the tuple is an element like any other (never searched). Every
/// refusal names each element with its type and shape ("[0] 1×5 float", "['aux'] 1×5 float") and
/// how to choose ("--logits 1"; the Python edge rewords the flag). Every forward's logits go through
/// here (prediction, the CAM probe, the split forward, the perturbed forwards), so this is also the
/// one check that they are finite: Error naming `model.path`, the first row with a NaN or infinite
/// logit (`name`) and saying so.
torch::Tensor logits_of(const c10::IValue& out, const ModelInfo& model, std::int64_t rows, const RowName& name = {});

/// Throws Error when an input batch (n×C×H×W) has a NaN or infinite value, naming the first such
/// image (`name`): an optimised forward can turn NaN into finite logits (a fused ReLU maps it to 0),
/// so the logits check alone does not see every non-finite image.
void check_finite_input(const torch::Tensor& x, const std::string& model_path, const RowName& name = {});

/// Copies a tensor (any device) into a contiguous float vector.
void copy_out(const torch::Tensor& t, std::vector<float>& dst);

}  // namespace engine
}  // namespace camscope
