#pragma once
// What a report was made from, precisely enough to tell whether a results folder belongs to the
// model and dataset `camscope serve` runs: written into summary.json ("identity") by `analyze`,
// checked by `serve --results` (serve/results.hpp), which refuses and names every difference.
//
//   model    the file's path (absolute, as every path that exists), its size and SHA-256 (util/sha256.hpp) of all its bytes:
//            two files with the same name and other weights differ; and "logits", the element of a
//            tuple/list/dict output read as the logits (EngineOptions::logits), only when one was
//            chosen (absent = the automatic choice, as in every run made before camscope had it);
//   dataset  path, format, split, image and class count, class names, and a fingerprint:
//            SHA-256 over the counts, the class names and Dataset::fingerprint (every image's
//            label, size and pixels as decoded, so a copy elsewhere matches and any changed label
//            or pixel does not; image folders: every file's relative path, size and class);
//   input    channels × height × width, normalisation mean/std (what the model was fed) and
//            where that normalisation came from ("normalisation": InputSpec::norm_source, stated
//            for the reader; not compared: the same numbers give the same results);
//   CAM      the CamSettings of the stored maps (engine/cam_settings.hpp: method, layer, eigen/aug
//            smoothing, max_channels, Finer-CAM alpha). identity_differences compares method and
//            layer (what `serve` needs: its live maps are computed without smoothing, and with the
//            results' alpha); store_differences compares all of them.
//
// Torch-free: parse_identity is part of what the results-folder fuzz target reaches.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/cam_settings.hpp"

namespace camscope {

/// What the dataset fingerprint covers (summary.json's "fingerprint_of").
inline constexpr const char* kFingerprintOf =
    "SHA-256 of the image and class count, the class names, and every image's label, size and pixels (image "
    "folders: every file's path under the folder, size in bytes and class)";

struct RunIdentity {
    std::string model_path;
    std::uint64_t model_bytes = 0;
    std::string model_sha256;  // 64 hex digits
    std::string model_logits;  // EngineOptions::logits ("" = automatic: not written)
    std::string data_path, data_format, data_name, split;
    std::uint64_t data_images = 0;
    std::uint64_t data_classes = 0;
    std::string data_fingerprint;  // 64 hex digits
    int channels = 0, height = 0, width = 0;
    std::vector<double> mean, std;
    std::string norm_source;  // InputSpec::norm_source; "" in runs made before camscope stated it
    CamSettings cam;  // the stored maps' settings; cam.layers: the one resolved layer
};

/// The model part: size and SHA-256 of the file, and `logits`, the output element its logits are
/// read from (ModelInfo::logits: "" = automatic). Throws Error naming the file.
void identify_model(RunIdentity& id, const std::string& model_path, const std::string& logits);
/// The same for a model given as bytes (Model::load_bytes): `name` stands for the path.
void identify_model_bytes(RunIdentity& id, const std::string& name, const std::string& bytes, const std::string& logits);
/// The dataset part: every image is read once (Dataset::fingerprint; one that cannot be read
/// counts as "unreadable"); image folders are listed and stat()ed, not decoded.
void identify_dataset(RunIdentity& id, const Dataset& ds, const std::string& data_path);
/// The input part.
void identify_input(RunIdentity& id, const InputSpec& spec);

nlohmann::json identity_json(const RunIdentity& id);
/// Reads identity_json's output back; Error naming `name` and the field otherwise. "cam.alpha" may
/// be absent (written before camscope recorded it): 1, the only alpha those runs used;
/// "input.normalisation" too (then ""), and "model.logits" (then "": the automatic choice).
RunIdentity parse_identity(const nlohmann::json& j, const std::string& name);

/// How identity_differences names its two sides: each line reads "<what>: <recorded> X; <live> Y".
struct IdentitySides {
    std::string recorded = "the results were made with";  // e.g. "chunk-000003 was computed with"
    std::string live = "this server runs";                  // e.g. "this run uses"
};

/// What differs between the identity a results folder (a chunk, a shard) records and the one of
/// the live run (or another part), one line per difference ("model: ..."), empty if they match.
/// Compares model, dataset, input, CAM method and layer (what `serve` needs; a store's rows also
/// depend on the CAM options, store_differences).
std::vector<std::string> identity_differences(const RunIdentity& recorded, const RunIdentity& live,
                                              const IdentitySides& sides = {});
/// The "dataset: ..." line of identity_differences alone (merge and compare check only the data).
std::optional<std::string> dataset_difference(const RunIdentity& recorded, const RunIdentity& live,
                                              const IdentitySides& sides = {});
/// The "CAM options: ..." line when the CAM settings other than method and layer (which
/// identity_differences names) differ: smoothing, max_channels, alpha. store_differences uses it.
std::optional<std::string> cam_options_difference(const CamSettings& recorded, const CamSettings& live,
                                                  const IdentitySides& sides = {});

}  // namespace camscope
