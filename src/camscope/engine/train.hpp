#pragma once
// Torch-free facade for the built-in architectures and their training. A trained model is saved
// as ONE TorchScript file (loadable by every camscope command, and by torch.jit.load in Python)
// carrying a `camscope.json` extra file: architecture, class names, input size, normalisation.
#include <cstdint>
#include <string>
#include <vector>

#include "camscope/data/dataset.hpp"

namespace camscope {

struct BuiltinArch {
    std::string name;     // --arch value
    std::string summary;  // one line for --help
};
std::vector<BuiltinArch> builtin_archs();

struct TrainOptions {
    std::string arch = "auto";  // "auto": cnn for 1-channel input, resnet20 otherwise
    int epochs = 3;
    int batch_size = 128;
    double lr = 0;                // 0 = the architecture's default
    std::string optimizer = "auto";  // "sgd" | "adam" | "auto" (adam for cnn, sgd for resnets)
    double weight_decay = 5e-4;
    std::uint64_t seed = 0;
    int augment = -1;             // -1 auto (crop+flip for RGB 32×32), 0 off, 1 on
    size_t limit = 0;             // use only the first `limit` training samples (0 = all)
    std::string out = "model.pt";
    bool quiet = false;
};

struct EpochStats {
    int epoch = 0;
    double train_loss = 0, train_accuracy = 0;
    double test_accuracy = -1;  // -1 when no test set
    double seconds = 0;
};

struct TrainResult {
    std::vector<EpochStats> epochs;
    std::string path;
    size_t parameters = 0;
};

/// Trains a built-in architecture on `train` (evaluating on `test` after each epoch when given)
/// and saves the model (after every epoch: an interrupted run keeps the last finished epoch).
TrainResult train_builtin(const Dataset& train, const Dataset* test, const InputSpec& spec, const TrainOptions& opt);

/// Creates an untrained built-in model file (weights from `seed`) — for tests and benchmarks.
void save_untrained(const std::string& arch, const InputSpec& spec, int num_classes,
                    const std::vector<std::string>& class_names, std::uint64_t seed, const std::string& path);

}  // namespace camscope
