#pragma once
// The `camscope.json` metadata that camscope's own checkpoints carry as a TorchScript extra file.
// Parsed here, torch-free, so the parser of these untrusted bytes can be unit-tested and fuzzed
// without LibTorch; Model::load only extracts the string.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "camscope/data/dataset.hpp"

namespace camscope {

struct ModelMetadata {
    std::string arch;                      // e.g. "resnet20"; "?" when absent
    std::vector<std::string> class_names;  // empty when absent
    std::optional<InputSpec> input;        // C×H×W and normalisation the model was trained with
};

/// Parses and validates the metadata JSON: an object with optional "arch" (string),
/// "class_names" (array of strings) and "input" {channels: 1|3, height, width: 1..65536,
/// mean, std: 0, 1 or `channels` numbers, std > 0}. Unknown keys are ignored.
/// Throws Error "`source`: camscope.json metadata ...: <what is wrong>" on anything else.
ModelMetadata parse_model_metadata(std::string_view json, const std::string& source);

}  // namespace camscope
