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
    void add(CLI::App& app);
    EngineOptions options(bool quiet) const;
};

/// Options of the CAM methods shared by cam, analyze and serve (--eigen-smooth, --aug-smooth,
/// --max-channels).
struct CamOptionFlags {
    bool eigen_smooth = false;
    bool aug_smooth = false;
    int max_channels = 0;
    double alpha = 1.0;  // finercam
    void add(CLI::App& app);
    void apply(CamRequest& req) const;
};

/// Loads the model, applies threads, prints "model …, N threads" unless quiet.
Model load_model(const std::string& path, const EngineFlags& ef, bool quiet);

/// Parses "0,5,7" and ranges "10-20" into dataset indices.
std::vector<size_t> parse_indices(const std::string& spec);

/// Class index from a number or a class name (case-insensitive); UsageError otherwise.
int parse_class(const std::string& s, const std::vector<std::string>& names);

void register_train(CLI::App& app);
void register_predict(CLI::App& app);
void register_cam(CLI::App& app);
void register_layers(CLI::App& app);
void register_analyze(CLI::App& app);
void register_demo(CLI::App& app);
void register_evaluate(CLI::App& app);
void register_serve(CLI::App& app);

extern bool g_quiet;

}  // namespace camscope::cli
