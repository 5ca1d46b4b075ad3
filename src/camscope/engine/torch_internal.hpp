#pragma once
// Helpers shared by the engine's torch translation units.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/script.h>

namespace camscope {

/// First line of an exception message (LibTorch messages carry long C++ backtraces).
std::string first_line(const std::string& what);

namespace engine {

/// Names row r of a forward's batch in errors: "image 17" (a dataset index), "image 17 with channel 5
/// ablated", …; empty: "batch row r".
using RowName = std::function<std::string(std::int64_t row)>;

/// Logits from a model output: a 2-D float tensor rows×K, K >= 1 (a tuple's first element is
/// accepted); `rows` is the batch size of the input. Throws Error naming `model_path` and the
/// shape otherwise. Every forward's logits go through here (prediction, the CAM probe, the split
/// forward, the perturbed forwards), so this is the one check that they are finite: Error naming
/// the first row with a NaN or infinite logit (`name`) and saying so.
torch::Tensor logits_of(const c10::IValue& out, const std::string& model_path, std::int64_t rows,
                        const RowName& name = {});

/// Throws Error when an input batch (n×C×H×W) has a NaN or infinite value, naming the first such
/// image (`name`): an optimised forward can turn NaN into finite logits (a fused ReLU maps it to 0),
/// so the logits check alone does not see every non-finite image.
void check_finite_input(const torch::Tensor& x, const std::string& model_path, const RowName& name = {});

/// Copies a tensor (any device) into a contiguous float vector.
void copy_out(const torch::Tensor& t, std::vector<float>& dst);

}  // namespace engine
}  // namespace camscope
