#pragma once
// The analysis store: the per-image results of a pass (what build_report needs, nothing drawn),
// in a documented, versioned folder that NumPy and any JSON reader open without camscope:
//
//   manifest.json   schema, camscope version, identity (model SHA-256, dataset fingerprint and
//                   size, input spec, CAM method/layer/options), the run's settings (batch size,
//                   images in the whole analysis), this part's slice (shard K of N, rows
//                   [begin, end)), class names, array shapes; written LAST (completion marker)
//   index.npy       <i8 (n,)           dataset index of each row
//   label.npy       <i8 (n,)           true class
//   pred.npy        <i8 (n,)           predicted class (argmax of the softmax)
//   logits.npy      <f4 (n, K)         raw model outputs
//   cam_pred.npy    <f4 (n, h, w)      CAM of the predicted class at the target layer's resolution
//   cam_true.npy    <f4 (n, h, w)      CAM of the true class (= cam_pred where the prediction is right)
//   degenerate.npy  |u1 (n, 2)         1 where the predicted / true-class map has no positive
//                                      evidence (metrics::degenerate_cam)
//
// Rows are analysis rows: row r is dataset image r (the analysis covers the first `total` images).
// A shard holds rows [begin, end); `camscope merge` puts complete, disjoint shards of the same
// run back together (combine_stores). The chunks `analyze --resume` continues from are stores of
// their rows too. Torch-free.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/report/analysis.hpp"
#include "camscope/report/identity.hpp"

namespace camscope {

inline constexpr int kStoreSchema = 1;

struct StoreManifest {
    int schema = kStoreSchema;
    std::string camscope_version;
    RunIdentity identity;
    /// How the dataset was opened (the flags; identity.data_format is what was detected).
    std::string data_split, data_format_flag;
    /// Settings that decide the per-image numbers besides the identity: images are computed in
    /// batches of batch_size counted from row 0 in every split of the run (shards and chunks start
    /// on a batch boundary), so each image meets the same batch as in a single process.
    int batch_size = 64;
    std::size_t total = 0;  // rows of the whole analysis (the dataset's images, or --limit)
    int shard = 0, shards = 1;  // this part is shard `shard` of `shards`
    std::size_t begin = 0, end = 0;  // its rows
    std::string model_kind;
    std::vector<std::string> class_names, coarse_names;
    std::vector<int> fine_to_coarse;
    int num_classes = 0, fh = 0, fw = 0;
    double seconds = 0;  // the pass's wall-clock time over these rows (not compared)
};

struct Store {
    std::string path;
    StoreManifest manifest;
    AnalysisInput rows;  // rows begin..end-1 (probs from the logits; load_image unset)
};

/// The rows of shard k of n over `total` rows in batches of `batch`: the batches are split as
/// evenly as possible (the first shards get the extra batch), so every slice starts on a batch boundary.
std::pair<std::size_t, std::size_t> shard_rows(std::size_t total, int batch, int k, int n);

nlohmann::json store_manifest_json(const StoreManifest& m);
/// Reads store_manifest_json's output; Error naming `name` and the field otherwise (schema too new included).
StoreManifest parse_store_manifest(const nlohmann::json& j, const std::string& name);

/// Writes the arrays of rows [from, to) of `in` and then manifest.json (m, with begin/end = the
/// rows' dataset indices) into folder `dir` (created if missing), each file atomically.
void write_store_files(const std::string& dir, StoreManifest m, const AnalysisInput& in, std::size_t from,
                       std::size_t to);
/// Writes a complete store folder as a whole (built beside `dir`, swapped in when complete).
void write_store(const std::string& dir, const StoreManifest& m, const AnalysisInput& in);

/// What read_store would give for a folder that write_store_files(dir, m, in, from, to) wrote,
/// without the files (the pass's chunks kept in memory; path empty).
Store store_rows(StoreManifest m, const AnalysisInput& in, std::size_t from, std::size_t to);

/// True if `dir` holds a manifest.json (a complete store or chunk).
bool is_store(const std::string& dir);
/// True for the names of the files a store is made of (manifest.json and the arrays above).
bool is_store_file_name(const std::string& name);
/// Reads a store (or a report folder holding one in store/); every array's dtype and shape is
/// checked against the manifest and index.npy must be begin..end-1: Error naming the file otherwise.
Store read_store(const std::string& dir);

/// What differs between two parts of what should be one run (model, data, input, CAM settings,
/// batch size, image count), one line each, worded as identity_differences with `sides` (a is the
/// recorded side); empty if they belong together.
std::vector<std::string> store_differences(const StoreManifest& a, const StoreManifest& b,
                                           const IdentitySides& sides);

/// The parts as one analysis: they must belong together (store_differences, naming both paths),
/// be disjoint (no row twice: the parts named) and complete (rows 0..total-1: the missing rows
/// and, for shards of one split, the missing shard named). `what` names the parts in messages
/// ("shard", "chunk"). `rows`: the range the parts must cover (default: the whole run, 0..total).
/// The result's manifest is that of the rows covered (shard 0 of 1 for the whole run).
Store combine_stores(std::vector<Store> parts, const std::string& what = "shard",
                     std::pair<std::size_t, std::size_t> rows = {0, SIZE_MAX});

}  // namespace camscope
