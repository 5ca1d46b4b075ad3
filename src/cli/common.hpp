#pragma once
// Flags shared by the camscope commands, declared once with their help text and defaults.
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/pipeline/measure.hpp"  // measure(), class_names()
#include "camscope/pipeline/pipeline.hpp"
#include "camscope/report/analysis.hpp"

namespace camscope::cli {

struct DataFlags {
    std::string path;
    std::string split = "test";
    std::string format;
    void add(CLI::App& app, bool required = true, bool with_split = true);
    std::unique_ptr<Dataset> open() const;
};

struct SpecFlags {
    std::string input_size;  // "HxW"
    std::vector<float> mean, std;
    std::string norm;
    void add(CLI::App& app);
    SpecOverrides overrides() const;
};

struct EngineFlags {
    int threads = 0;
    std::string device = "cpu";
    int batch_size = 64;
    std::string layout, grid;  // --layout, --grid (layout.hpp)
    std::string logits;        // --logits (EngineOptions::logits)
    void add(CLI::App& app);
    EngineOptions options(bool quiet) const;
};

/// The flags of a command that runs a model over a dataset, in the order --help lists them:
/// --model (required), the dataset (DataFlags), the input spec (SpecFlags), the engine (EngineFlags).
struct ModelRunFlags {
    std::string model;
    DataFlags data;
    SpecFlags spec;
    EngineFlags eng;
    void add(CLI::App& app);
};

/// What such a command works on: the dataset as the model sees it (fit_to_model), the loaded model
/// and the resolved input spec.
struct ModelRun {
    std::unique_ptr<Dataset> data;
    Model model;
    InputSpec spec;
};
/// Opens the dataset, loads the model, resolves the input spec and fits the dataset to the model,
/// in that order (each step's errors name what it read).
ModelRun open_model_run(const ModelRunFlags& f);

/// --layout and --grid (also on `layers`, which has no EngineFlags).
void add_layout_flags(CLI::App& app, std::string& layout, std::string& grid);
/// --logits (also on `layers`).
void add_logits_flag(CLI::App& app, std::string& logits);

/// Options of the CAM methods shared by cam, analyze and evaluate-cams (--eigen-smooth,
/// --aug-smooth, --max-channels, --alpha), parsed straight into the library's CamSettings (its
/// method and layers are the command's own flags).
struct CamOptionFlags {
    CamSettings cam;
    void add(CLI::App& app);
};

/// Loads the model, applies threads, prints "model …, N threads" unless quiet.
Model load_model(const std::string& path, const EngineFlags& ef, bool quiet);

/// Parses "0,5,7" and ranges "10-20" into indices of a dataset of `size` images: digits only
/// (no sign, no spaces inside a number), ranges ascending; UsageError naming the bad part or the
/// out-of-range index otherwise, before anything is computed.
std::vector<size_t> parse_indices(const std::string& spec, size_t size);

/// A validator for numeric options: the value lies in [lo, hi] (NaN refused, which CLI::Range
/// lets through); the message names the option's valid range as `range` ("0..1", ">= 0").
CLI::Validator number_in(double lo, double hi, const std::string& range);
/// number_in(0, +inf, ">= 0") and number_in(smallest positive, +inf, "> 0") for finite values.
CLI::Validator non_negative();
CLI::Validator positive();

/// The checks of the model against the dataset before any pass (match_classes: class count,
/// metadata names, names of both) and the dataset as the model sees it: relabelled to the
/// model's class order when both name the same classes in another order (with a note), and told
/// the model's input size (Dataset::set_input_size: large images decode reduced).
std::unique_ptr<Dataset> fit_to_model(Model& m, std::unique_ptr<Dataset> ds, const InputSpec& s);

/// configure_threads(requested) with a note when the request was capped at the core count.
int apply_threads(int requested);

void register_train(CLI::App& app);
void register_predict(CLI::App& app);
void register_cam(CLI::App& app);
void register_layers(CLI::App& app);
void register_analyze(CLI::App& app);
void register_demo(CLI::App& app);
void register_merge(CLI::App& app);
void register_compare(CLI::App& app);
void register_evaluate(CLI::App& app);
void register_serve(CLI::App& app);
void register_rescore(CLI::App& app);

extern bool g_quiet;

}  // namespace camscope::cli
