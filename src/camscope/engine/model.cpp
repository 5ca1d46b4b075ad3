// The engine behind the torch-free facade engine.hpp: loading a model (its state: model_impl.hpp;
// the layer listing: model_layers.cpp; prediction and the CAM pipeline: model_run.cpp).
#include <algorithm>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "camscope/data/model_metadata.hpp"
#include "camscope/engine/cam/cam_method.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/engine/graph_probe.hpp"
#include "camscope/engine/model_impl.hpp"
#include "camscope/engine/torch_internal.hpp"
#include "camscope/util/allocator.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

int configure_threads(int threads) {
    // More threads than cores only oversubscribes them (512 OpenMP threads on 2 cores run for
    // minutes): at most one per core.
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int n = threads > 0 ? std::min(threads, cores) : cores;
    at::set_num_threads(n);
    return at::get_num_threads();
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

const ModelInfo& Model::info() const { return impl_->info; }
int Model::threads() const { return at::get_num_threads(); }

Model Model::load(const std::string& path, const EngineOptions& opt) {
    namespace fs = std::filesystem;
    if (!fs::exists(path)) throw Error(path + ": no such model file");
    if (fs::is_directory(path)) throw Error(path + ": is a directory, expected a TorchScript model file (.pt)");
    return load_from(path, nullptr, opt);
}

Model Model::load_bytes(std::string bytes, const std::string& name, const EngineOptions& opt) {
    if (bytes.empty()) throw Error(name + ": no bytes, expected a serialized TorchScript model");
    return load_from(name, &bytes, opt);
}

Model Model::load_from(const std::string& path, std::string* bytes, const EngineOptions& opt) {
    // Parameters loaded in inference mode would be inference tensors, which no backward can use
    // (a caller inside torch.inference_mode(): see Model::run).
    c10::InferenceMode autograd_on(false);
    tune_allocator();  // before the first tensor: see util/allocator.hpp
    // Gradients through the probe graphs are plain autograd: keep the executor from building
    // differentiable subgraphs and specialising on first runs (predictable, and no warm-up cost).
    torch::jit::setGraphExecutorOptimize(false);
    auto impl = std::make_unique<Impl>();
    impl->opt = opt;
    try {
        impl->device = torch::Device(opt.device);
    } catch (const c10::Error&) {
        throw UsageError("device '" + opt.device + "' is not a device name: expected cpu, cuda or cuda:N");
    }
    if (impl->device.is_cuda()) {
        // Otherwise torch::jit::load fails with an error that reads as if the file were broken.
        if (!torch::cuda::is_available())
            throw UsageError("device '" + opt.device + "': this LibTorch has no CUDA support or sees no GPU; use --device cpu");
        if (impl->device.has_index() && impl->device.index() >= static_cast<int>(torch::cuda::device_count()))
            throw UsageError("device '" + opt.device + "': there are " + std::to_string(torch::cuda::device_count()) +
                             " CUDA devices (cuda:0 .. cuda:" + std::to_string(torch::cuda::device_count() - 1) + ")");
    } else if (!impl->device.is_cpu()) {
        throw UsageError("device '" + opt.device + "' is not supported: expected cpu, cuda or cuda:N");
    }
    impl->info.path = path;
    impl->info.device = impl->device.str();
    impl->info.logits = opt.logits;
    if (bytes) impl->bytes = std::move(*bytes);
    impl->forced = parse_layout_override(opt.layout, opt.grid);
    torch::jit::ExtraFilesMap extra{{"camscope.json", ""}};
    try {
        if (impl->bytes.empty()) {
            impl->module = torch::jit::load(path, impl->device, extra);
        } else {
            std::istringstream in(impl->bytes);
            impl->module = torch::jit::load(in, impl->device, extra);
        }
    } catch (const c10::Error& e) {
        const std::string what = first_line(e.what());
        // A file written by a newer PyTorch (torch 2.x exports): its archive version, or ops and
        // types this LibTorch does not know. Say so, and how to build camscope that reads it.
        if (what.find("maximum supported version") != std::string::npos ||
            what.find("Unknown builtin op") != std::string::npos || what.find("Unknown type name") != std::string::npos)
            throw Error(path + ": saved by a newer PyTorch than the LibTorch " TORCH_VERSION
                        " camscope was built with (" + what +
                        "). Build camscope against the torch that exported it: cmake -S . -B build "
                        "-DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') "
                        "&& cmake --build build; or export the model with torch " TORCH_VERSION " or older");
        throw Error(path + ": not a TorchScript model (torch.jit.load failed: " + what +
                    "). Export it from PyTorch with torch.jit.trace(model, example).save(path) or "
                    "torch.jit.script(model).save(path)");
    }
    impl->module.eval();
    for (auto p : impl->module.parameters()) p.set_requires_grad(false);
    impl->info.kind = "torchscript";
    const std::string& meta = extra["camscope.json"];
    if (!meta.empty()) {
        impl->info.metadata_json = meta;
        auto md = parse_model_metadata(meta, path);  // torch-free, fuzzed (fuzz/fuzz_model_metadata.cpp)
        impl->info.kind = "camscope:" + md.arch;
        impl->info.class_names = std::move(md.class_names);
        impl->info.input = md.input;
    }
    try {
        impl->info.train_mode_baked = engine::has_baked_training_ops(impl->module);
    } catch (const std::exception&) {
        impl->info.train_mode_baked = false;  // unusual graphs: the check is advisory
    }
    if (impl->info.train_mode_baked && !opt.quiet)
        fprintf(stderr,
                "warning: %s was traced in train mode: its batch_norm/dropout run in training mode whatever "
                "eval() says, so outputs depend on the batch. Re-export it after model.eval().\n",
                path.c_str());
    return Model(std::move(impl));
}

}  // namespace camscope
