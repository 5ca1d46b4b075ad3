#pragma once
// The whole analysis behind `camscope analyze` (and the Python package's camscope.analyze): one
// streaming pass (predictions + CAMs of the predicted and true class), the report model, the
// Finer-CAM column of the pair sheets and the quick faithfulness check. Writing the report is the
// caller's step (write_report), so a caller may keep the Report in memory only. Torch-free.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/pipeline/pipeline.hpp"
#include "camscope/report/analysis.hpp"

namespace camscope {

/// The dataset as the model sees it (what every command that reads a dataset does first): told
/// the model's input size (Dataset::set_input_size: large images decode reduced) and checked by
/// match_classes; relabelled to the model's class order when both name the same classes in
/// another order (the note goes to stderr unless quiet).
std::unique_ptr<Dataset> fit_to_model(Model& m, std::unique_ptr<Dataset> ds, const InputSpec& s, bool quiet);

struct AnalyzeSettings {
    std::string method = "gradcam";
    std::string layer;  // resolved layer path (Model::resolve_layer)
    CamRequest cam_options;  // eigen_smooth, aug_smooth, max_channels, alpha (the report's maps)
    int batch_size = 64;
    std::size_t limit = 0;  // first N images only (0 = all)
    /// Images for the quick CAM faithfulness check (0 = off); capped at about 1/8 of a pass unless
    /// faithfulness_explicit (quick_faithfulness_options).
    std::size_t faithfulness_n = 100;
    bool faithfulness_explicit = false;
    bool progress = true;
    AnalysisOptions report;  // progress and threads are set from the above and the model
    /// When the work began (model and data loading included): AnalysisTimings::load_s.
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

struct Analysis {
    AnalysisInput input;  // its load_image reads from the dataset, which must outlive it
    Report report;        // identity as given
    AnalysisOptions options;  // what write_report is to be called with
};

/// The analysis of `ds` (already fit_to_model) by `m`. `identity` (model, dataset and input parts
/// set by the caller) is completed with the CAM settings and stored in the report. Throws Error
/// (or whatever a progress sink throws, see Progress::set_sink) and writes nothing.
Analysis analyze_dataset(Model& m, const Dataset& ds, const InputSpec& s, const AnalyzeSettings& a, RunIdentity identity,
                         const std::string& model_path, const std::string& data_path);

}  // namespace camscope
