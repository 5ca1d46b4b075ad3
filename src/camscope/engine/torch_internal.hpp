#pragma once
// Helpers shared by the engine's torch translation units.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/script.h>

namespace camscope {

/// First line of an exception message (LibTorch messages carry long C++ backtraces).
std::string first_line(const std::string& what);

namespace engine {

/// Logits from a model output: a 2-D float tensor rows×K, K >= 1 (a tuple's first element is
/// accepted); `rows` is the batch size of the input. Throws Error naming `model_path` and the
/// shape otherwise, and on NaN/Inf logits.
torch::Tensor logits_of(const c10::IValue& out, const std::string& model_path, std::int64_t rows);

/// Copies a tensor (any device) into a contiguous float vector.
void copy_out(const torch::Tensor& t, std::vector<float>& dst);

}  // namespace engine
}  // namespace camscope
