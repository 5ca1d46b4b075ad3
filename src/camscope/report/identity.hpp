#pragma once
// What a report was made from, precisely enough to tell whether a results folder belongs to the
// model and dataset `camscope serve` runs: written into summary.json ("identity") by `analyze`,
// checked by `serve --results` (serve/results.hpp), which refuses and names every difference.
//
//   model    the file's path as given, its size and SHA-256 (util/sha256.hpp) of all its bytes:
//            two files with the same name and other weights differ;
//   dataset  path, format, split, image and class count, class names, and a fingerprint:
//            SHA-256 over the count, the class names and the label, size and pixels of the first
//            and last 4 images (decoded, so a copy of the dataset elsewhere matches, and a
//            different set of the same size does not);
//   input    channels × height × width, normalisation mean/std (what the model was fed);
//   CAM      method, layer, eigen/aug smoothing, max_channels of the stored maps (method and
//            layer are compared; the live server computes its maps without smoothing anyway).
//
// Torch-free: parse_identity is part of what the results-folder fuzz target reaches.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/data/dataset.hpp"

namespace camscope {

struct RunIdentity {
    std::string model_path;
    std::uint64_t model_bytes = 0;
    std::string model_sha256;  // 64 hex digits
    std::string data_path, data_format, data_name, split;
    std::uint64_t data_images = 0;
    std::uint64_t data_classes = 0;
    std::string data_fingerprint;  // 64 hex digits
    int channels = 0, height = 0, width = 0;
    std::vector<double> mean, std;
    std::string method, layer;
    bool eigen_smooth = false, aug_smooth = false;
    int max_channels = 0;
};

/// The model part: size and SHA-256 of the file. Throws Error naming it.
void identify_model(RunIdentity& id, const std::string& model_path);
/// The same for a model given as bytes (Model::load_bytes): `name` stands for the path.
void identify_model_bytes(RunIdentity& id, const std::string& name, const std::string& bytes);
/// The dataset part, reading 8 samples at most (one that cannot be read counts as "unreadable").
void identify_dataset(RunIdentity& id, const Dataset& ds, const std::string& data_path);
/// The input part.
void identify_input(RunIdentity& id, const InputSpec& spec);

nlohmann::json identity_json(const RunIdentity& id);
/// Reads identity_json's output back; Error naming `name` and the field otherwise.
RunIdentity parse_identity(const nlohmann::json& j, const std::string& name);

/// What differs between the identity a results folder records and the one of the live run, one
/// line per difference ("model: ..."), empty if they match.
std::vector<std::string> identity_differences(const RunIdentity& results, const RunIdentity& live);

}  // namespace camscope
