#pragma once
// The whole analysis behind `camscope analyze`, `camscope merge` and the Python package's
// camscope.analyze — one implementation, torch-free (engine facade only):
//
//   analyze_pass()    the streaming pass (predictions + CAMs of the predicted and true class) in
//                     chunks of whole batches; each chunk a store (report/store.hpp) in a chunk
//                     folder when asked (what resume continues from), or kept in memory; one
//                     shard's slice only when asked.
//   analyze_report()  after the pass: the report model, the Finer-CAM column of the pair sheets, the
//                     flip test and the quick faithfulness check (merge starts here, from the
//                     shards' stores).
//   write_analysis()  write_report, with the store as store/ when asked, then the chunk folder goes.
//
// analyze_dataset() = analyze_report(analyze_pass(...)). Writing is a separate step, so a caller may
// keep the Report in memory only.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/pipeline/flip.hpp"
#include "camscope/pipeline/pipeline.hpp"
#include "camscope/report/analysis.hpp"
#include "camscope/report/store.hpp"
#include "camscope/util/atomic_file.hpp"

namespace camscope {

/// The dataset as the model sees it (what every command that reads a dataset does first): told
/// the model's input size (Dataset::set_input_size: large images decode reduced) and checked by
/// match_classes; relabelled to the model's class order when both name the same classes in
/// another order (the note goes to stderr unless quiet).
std::unique_ptr<Dataset> fit_to_model(Model& m, std::unique_ptr<Dataset> ds, const InputSpec& s, bool quiet);

/// How the pass keeps its per-image results (the analysis store).
struct StoreSettings {
    /// Folder for the pass's chunks (the CLI's "<out>.partial", chunk_folder()): each completed chunk
    /// is written there as a store of its rows and read back; empty = the chunks stay in memory
    /// (the same numbers: the store's arrays are exact copies).
    std::string chunk_dir;
    /// Read the chunks of this very run already in chunk_dir instead of computing them (a chunk of
    /// another model, data or options is an Error); without it the chunks of an earlier pass are
    /// removed (a folder holding anything camscope did not write is refused, naming it). The folder
    /// is locked for the run: a second run with the same chunk_dir is refused at once.
    bool resume = false;
    std::size_t chunk = 4096;  // images per chunk (rounded up to whole batches)
    int shard = 0, shards = 1;  // compute only slice `shard` of `shards` (shard_rows)
    /// write_analysis writes the store into the report folder as store/ (what `camscope compare` reads).
    bool in_report = false;
    /// How the dataset was opened (the manifest's "data_flags": what `merge` reopens it with).
    std::string data_split = "test", data_format_flag;
};

struct AnalyzeSettings {
    /// The report's maps: method, the resolved layer (Model::resolve_layer; exactly one), smoothing,
    /// max_channels, alpha. Recorded in the identity; the faithfulness check uses the pass's.
    CamSettings cam;
    int batch_size = 64;
    std::size_t limit = 0;  // first N images only (0 = all)
    /// Images for the quick CAM faithfulness check (0 = off); capped at about 1/8 of a pass unless
    /// faithfulness_explicit (quick_faithfulness_options).
    std::size_t faithfulness_n = 100;
    bool faithfulness_explicit = false;
    /// The flip test on a sample of the errors (pipeline/flip.hpp; flip.n = 0: off). Its batch size
    /// and progress are the ones above.
    FlipSettings flip;
    bool progress = true;
    bool quiet = false;  // no notes on stderr (resume, an earlier unfinished pass)
    AnalysisOptions report;  // progress and threads are set from the above and the model
    StoreSettings store;
    /// When the work began (model and data loading included): AnalysisTimings::load_s.
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    /// Stage hook: called right after each stage with its name and wall seconds: "pass"
    /// (analyze_pass), then "report model", "contrast CAMs", "flip test", "sanity gate" and
    /// "faithfulness" (analyze_report; the last three only when they run). write_report's own stages
    /// go to report.on_stage. camscope_bench times the real chain through both.
    std::function<void(const std::string& stage, double seconds)> on_stage;
};

/// The pass's results: its rows (a store's rows, load_image reading from the dataset, which must
/// outlive them) and what they were computed with (manifest: identity, batch size, slice).
struct Pass {
    AnalysisInput input;
    StoreManifest manifest;
    std::string chunk_dir;  // StoreSettings::chunk_dir (removed by write_analysis / write_shard)
    /// The chunk folder's lock, held until the run is written (a second run on the same folder is
    /// refused; util/atomic_file.hpp FolderLock).
    std::shared_ptr<const FolderLock> chunk_lock;
};

struct Analysis {
    AnalysisInput input;  // its load_image reads from the dataset, which must outlive it
    Report report;        // identity = the manifest's
    AnalysisOptions options;  // what write_report is to be called with
    StoreManifest manifest;   // the pass's store manifest (written as store/ when store_in_report)
    bool store_in_report = false;
    std::string chunk_dir;
    std::shared_ptr<const FolderLock> chunk_lock;  // Pass::chunk_lock
};

/// "<out>.partial": where the CLI keeps the chunks of an unfinished pass, beside the output folder.
std::string chunk_folder(const std::string& out);

/// The pass of `m` over `ds` (already fit_to_model), or over its shard's slice, in chunks
/// (StoreSettings). `identity` (model, dataset and input parts set by the caller) is completed
/// with the CAM settings (AnalyzeSettings::cam, as they are). UsageError for more shards than batches (before any work); Error for a
/// chunk folder that cannot be removed or a chunk of another run under resume.
/// Test hook: CAMSCOPE_TEST_KILL_AFTER_CHUNK=<k> kills the process (SIGKILL) right after chunk k
/// is written to the chunk folder (tests/cli/test_store.cpp resumes from there).
Pass analyze_pass(Model& m, const Dataset& ds, const InputSpec& s, const AnalyzeSettings& a, RunIdentity identity,
                  const std::string& model_path, const std::string& data_path);

/// After the pass (a whole run, or shards combined by `merge`): build_report, the pair sheets'
/// Finer-CAMs, the flip test, the quick faithfulness check. The CAM settings are the pass's (its manifest's
/// identity), not AnalyzeSettings::cam: `merge` reports on the shards' settings.
Analysis analyze_report(Model& m, const Dataset& ds, const InputSpec& s, const AnalyzeSettings& a, Pass pass);

/// The analysis of `ds` (already fit_to_model) by `m`: analyze_pass then analyze_report. Throws
/// Error (or whatever a progress sink throws, see Progress::set_sink); writes nothing but the
/// chunk folder when StoreSettings::chunk_dir is set.
Analysis analyze_dataset(Model& m, const Dataset& ds, const InputSpec& s, const AnalyzeSettings& a, RunIdentity identity,
                         const std::string& model_path, const std::string& data_path);

/// write_report(an.report, an.input, an.options, out), with the store as <out>/store/ when
/// an.store_in_report; then the chunk folder is removed. check_report_destination is the caller's.
void write_analysis(const Analysis& an, const std::string& out);

/// A shard's output folder: a store (replaced as a whole), new or empty; Error otherwise. Called
/// before the pass.
void check_store_destination(const std::string& out);
/// The shard's store written to `out` as a whole; then the chunk folder is removed.
void write_shard(const Pass& p, const std::string& out);

}  // namespace camscope
