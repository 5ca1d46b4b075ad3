// The engine behind the torch-free facade engine.hpp: model loading, the probe graphs that expose
// target-layer activations, batched prediction and the CAM pipeline.
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
#include "camscope/engine/torch_internal.hpp"
#include "camscope/util/allocator.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

using engine::GraphRunner;

int configure_threads(int threads) {
    // More threads than cores only oversubscribes them (512 OpenMP threads on 2 cores run for
    // minutes): at most one per core.
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int n = threads > 0 ? std::min(threads, cores) : cores;
    at::set_num_threads(n);
    return at::get_num_threads();
}

struct Model::Impl {
    ModelInfo info;
    EngineOptions opt;
    torch::Device device{torch::kCPU};
    torch::jit::Module module;               // eval mode, parameters without requires_grad
    std::optional<torch::jit::Module> fast;  // frozen + optimize_for_inference (prediction only)
    // Input shapes (C, H, W) the plain module has run: the optimised module's oneDNN kernels do
    // not check their input (a grey batch into a 3-channel convolution crashes the process), so
    // each new shape goes through the plain module first, whose checks raise a clear error.
    std::set<std::vector<int64_t>> checked_shapes;
    std::mutex mu;                           // run() is not re-entrant on one module
    // Probe graphs keyed by "grad|layer1,layer2".
    std::map<std::string, std::unique_ptr<GraphRunner>> probes;
    std::unique_ptr<engine::ListingGraph> listing;
    /// The serialized module when it was loaded from memory (Model::load_bytes), else empty: the
    /// frozen copies below are second loads of the same bytes, from here or from info.path.
    std::string bytes;

    torch::jit::Module load_copy() const {
        if (bytes.empty()) return torch::jit::load(info.path, device);
        std::istringstream in(bytes);
        return torch::jit::load(in, device);
    }

    LayoutOverride forced;  // EngineOptions::layout / grid
    std::map<std::string, Layout> layouts;  // by "layer|shape|HxW"

    const engine::ListingGraph& listing_graph() {
        if (!listing) listing = std::make_unique<engine::ListingGraph>(engine::make_listing_graph(module));
        return *listing;
    }

    std::string hint_of(const std::string& layer) {
        for (const auto& c : listing_graph().calls)
            if (c.path == layer) return c.layout_hint;
        return "";
    }

    /// The layout the CAM reads `layer`'s output (of `shape`, batch first) in, forced or inferred;
    /// UsageError naming the layer, what was seen and how to force it.
    const Layout& layout_of(const std::string& layer, const std::vector<int64_t>& shape, int64_t h, int64_t w) {
        std::string key = layer;  // appended piece by piece: GCC 12 -Wstringop-overflow false positive
        for (int64_t v : {h, w}) {
            key += '|';
            key += std::to_string(v);
        }
        for (size_t i = 1; i < shape.size(); ++i) {
            key += '|';
            key += std::to_string(shape[i]);
        }
        auto it = layouts.find(key);
        if (it != layouts.end()) return it->second;
        auto l = infer_layout(shape, h, w, hint_of(layer), forced, listing_graph().token_suffix);
        if (l.kind == LayoutKind::none)
            throw UsageError(info.path + ": layer '" + layer + "': no CAM layout for its output: " + l.evidence +
                             " (see `camscope layers`)");
        return layouts.emplace(key, std::move(l)).first->second;
    }

    GraphRunner& probe(const std::vector<std::string>& layers, bool grad) {
        const std::string key = std::string(grad ? "g|" : "n|") + join(layers, ",");
        auto it = probes.find(key);
        if (it == probes.end())
            it = probes.emplace(key, std::make_unique<GraphRunner>(engine::make_probe_graph(module, layers, grad)))
                     .first;
        return *it->second;
    }

    /// forward(x, R) with the output of `layer` replaced by R (Ablation-CAM), built once per layer.
    GraphRunner& replacer(const std::string& layer) {
        const std::string key = "r|" + layer;
        auto it = probes.find(key);
        if (it == probes.end())
            it = probes.emplace(key, std::make_unique<GraphRunner>(engine::make_replace_graph(module, layer))).first;
        return *it->second;
    }

    /// One layer's forward split for the CAM pass (graph_probe.hpp make_split_graphs): the head up
    /// to the layer runs frozen + optimize_for_inference without autograd (as fast as prediction),
    /// the tail from the layer's output with autograd, and the logits come from that same pass.
    struct Split {
        torch::jit::Module head;  // a separate load, frozen and optimised, method camscope_head
        std::unique_ptr<GraphRunner> tail;
        size_t crossing = 0;
    };
    std::map<std::string, std::unique_ptr<Split>> splits;  // by layer; nullptr: not possible here
    std::set<std::string> probed;  // layers the plain probe has run for once (see ModelAccess::maps)

    /// The split for `layer`, built on first use; nullptr where it cannot be made (the probe serves).
    Split* split(const std::string& layer) {
        auto it = splits.find(layer);
        if (it != splits.end()) return it->second.get();
        std::unique_ptr<Split> sp;
        try {
            auto copy = load_copy();
            copy.eval();
            auto graphs = engine::make_split_graphs(copy, layer);
            torch::jit::GraphOptimizerEnabledGuard optimize_on(true);  // freezing inlines calls only with it
            auto fn = copy._ivalue()->compilation_unit()->create_function("camscope_head", graphs.head);
            copy.type()->addMethod(fn);
            auto frozen = torch::jit::freeze(copy, std::vector<std::string>{"camscope_head"});
            // LibTorch's freeze() runs the frozen-graph optimisations (conv-batch-norm folding,
            // dropout removal) on `forward` only (Python's torch.jit.freeze also on preserved
            // methods): the head gets them here, as the prediction module gets them in freeze().
            {
                auto g = frozen.get_method("camscope_head").graph();
                torch::jit::OptimizeFrozenGraph(g, /*optimize_numerics=*/true);
            }
            sp = std::make_unique<Split>();
            sp->head = torch::jit::optimize_for_inference(frozen, {"camscope_head"});
            // The tail runs on the plain module (its own types), from that module's graph.
            sp->tail = std::make_unique<GraphRunner>(engine::make_split_graphs(module, layer).tail);
            sp->crossing = graphs.crossing;
        } catch (const std::exception& e) {
            if (!opt.quiet)
                fprintf(stderr, "note: CAMs at '%s' run the unoptimised model (%s)\n", layer.c_str(),
                        first_line(e.what()).c_str());
            sp.reset();
        }
        return splits.emplace(layer, std::move(sp)).first->second.get();
    }

    /// "image 17" (CamRequest::image_ids) or "batch row 3": how errors name row r of a batch.
    static std::string image_name(const CamRequest* req, int64_t row) {
        if (req && row < static_cast<int64_t>(req->image_ids.size())) return "image " + std::to_string(req->image_ids[row]);
        return "batch row " + std::to_string(row);
    }

    torch::Tensor forward_fast(const torch::Tensor& x, const engine::RowName& name = {}) {
        if (!fast) {
            try {
                // A second load, not module.clone(): freezing strips the methods of the submodule
                // types, and a clone shares those types with `module` (which the probes still need).
                // Freezing inlines calls only while the graph optimizer is on (we keep it off for the
                // probe graphs, see load()).
                torch::jit::GraphOptimizerEnabledGuard optimize_on(true);
                auto copy = load_copy();
                copy.eval();
                auto frozen = torch::jit::freeze(copy);
                fast = torch::jit::optimize_for_inference(frozen);
            } catch (const std::exception& e) {
                if (!opt.quiet)
                    fprintf(stderr, "note: optimize_for_inference failed (%s); using the plain module\n",
                            first_line(e.what()).c_str());
                fast = module;
            }
        }
        torch::NoGradGuard ng;
        if (x.size(0) > 0 && !checked_shapes.count(x.sizes().slice(1).vec())) {
            engine::logits_of(module.forward({x.narrow(0, 0, 1)}), info.path, 1, name);
            checked_shapes.insert(x.sizes().slice(1).vec());
        }
        return engine::logits_of(fast->forward({x}), info.path, x.size(0), name);
    }
};

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

std::vector<LayerInfo> Model::layers(const InputSpec& spec) {
    std::lock_guard lock(impl_->mu);
    GraphRunner runner(impl_->listing_graph().graph);
    torch::NoGradGuard ng;
    auto x = torch::zeros({1, spec.channels, spec.height, spec.width}, torch::TensorOptions().device(impl_->device));
    c10::IValue out;
    try {
        out = runner(impl_->module, {x});
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {  // c10::Error, or torch::jit::JITException from the forward
        throw Error(impl_->info.path + ": forward failed on a 1x" + std::to_string(spec.channels) + "x" +
                    std::to_string(spec.height) + "x" + std::to_string(spec.width) +
                    " input: " + first_line(e.what()));
    }
    auto elems = out.toTuple()->elements();
    std::vector<LayerInfo> result;
    for (size_t i = 0; i < impl_->listing->calls.size(); ++i) {
        LayerInfo li{impl_->listing->calls[i].path, impl_->listing->calls[i].type, {}, {}, {}};
        const auto& v = elems.at(i + 1);
        if (v.isTensor()) li.shape = v.toTensor().sizes().vec();
        const auto& hint = impl_->listing->calls[i].layout_hint;
        const auto& suffix = impl_->listing->token_suffix;
        li.layout = infer_layout(li.shape, spec.height, spec.width, hint, {}, suffix);
        li.forced = impl_->forced.empty() ? li.layout
                                          : infer_layout(li.shape, spec.height, spec.width, hint, impl_->forced, suffix);
        result.push_back(std::move(li));
    }
    return result;
}

Layout Model::layer_layout(const std::string& layer, const InputSpec& spec) {
    for (const auto& l : layers(spec)) {
        if (l.path != layer) continue;
        std::lock_guard lock(impl_->mu);
        return impl_->layout_of(layer, l.shape, spec.height, spec.width);
    }
    throw UsageError(impl_->info.path + ": layer '" + layer + "' has no output in the listing (see `camscope layers`)");
}

std::string Model::resolve_layer(const std::string& name, const InputSpec& spec) {
    if (!name.empty()) {
        {
            std::lock_guard lock(impl_->mu);
            try {
                impl_->probe({name}, true);  // validates, with nearest-name suggestions
            } catch (const UsageError& e) {
                throw UsageError(impl_->info.path + ": " + e.what());
            }
        }
        // A CAM is a spatial map: a layer whose output has no spatial layout (a Linear's N×C, a
        // flatten) has none, and the CAM methods would fail deep inside torch.
        layer_layout(name, spec);
        return name;
    }
    const auto all = layers(spec);
    auto spatial = [](const LayerInfo& l) {
        return (l.layout.kind == LayoutKind::nchw || l.layout.kind == LayoutKind::nhwc) && l.layout.h * l.layout.w > 1;
    };
    // Transformers: gradients reach the grid tokens only where attention still mixes them into the
    // class token, so not after the last attention (there only the class token's own path is left
    // and Grad-CAM is blank). The output of the last token LayerNorm before the last attention
    // (torchvision ViT: encoder.layers[-1].ln_1; timm: blocks[-1].norm1) is pytorch-grad-cam's
    // tutorial choice.
    const LayerInfo* last_attention = nullptr;
    for (const auto& l : all)
        if (l.type.find("Attention") != std::string::npos) last_attention = &l;
    const LayerInfo* best = nullptr;
    if (last_attention) {
        for (const auto& l : all) {
            if (&l == last_attention) break;
            if (l.layout.kind == LayoutKind::tokens && l.type == "LayerNorm") best = &l;
        }
        if (best) return best->path;
    }
    for (const auto& l : all)
        if (spatial(l)) best = &l;  // listing is in output order
    if (!best)
        for (const auto& l : all)  // token models without attention (MLP-Mixer-like)
            if (l.layout.kind == LayoutKind::tokens && l.layout.h * l.layout.w > 1) best = &l;
    if (!best)
        for (const auto& l : all)  // channels-first sequences (Conv1d models); never before a 4-D map
            if (l.layout.kind == LayoutKind::ncl && l.layout.h * l.layout.w > 1) best = &l;
    if (!best) {
        size_t four = 0, three = 0;
        for (const auto& l : all) {
            four += l.shape.size() == 4;
            three += l.shape.size() == 3;
        }
        throw Error(impl_->info.path + ": no automatic CAM layer for input " + std::to_string(spec.channels) + "x" +
                    std::to_string(spec.height) + "x" + std::to_string(spec.width) + ": none of the " +
                    std::to_string(all.size()) + " layers has an output read as N×C×H×W, N×H×W×C or tokens with a grid > 1 (" +
                    std::to_string(four) + " are 4-D, " + std::to_string(three) +
                    " 3-D; `camscope layers` shows why each is not); name one with --layer, and force its reading "
                    "with --layout/--grid if needed");
    }
    // The listing puts the outermost module first among those sharing one output value, and the
    // last spatial output last: walk back to the outermost name of that same output.
    const LayerInfo* pick = best;
    for (const auto& l : all) {
        if (&l == best) break;
        if (l.shape == best->shape && l.path.size() < pick->path.size() && starts_with(best->path, l.path + "."))
            pick = &l;
    }
    if (last_attention && !impl_->opt.quiet) {
        // A transformer whose token layers have no reading (several splits fit, or none): the choice
        // above is some other layer (the patch embedding's convolution, typically), whose map is
        // not the one a ViT's users expect. Say so, and why.
        const LayerInfo* token_ln = nullptr;
        for (const auto& l : all) {
            if (&l == last_attention) break;
            if (l.type == "LayerNorm" && l.shape.size() == 3) token_ln = &l;
        }
        if (token_ln)  // (Swin's layer norms are 4-D: its stage outputs are the maps to use)
            fprintf(stderr,
                    "note: %s: a transformer (attention at '%s'), but its token layer '%s' has no reading (%s); the "
                    "automatic CAM layer falls back to '%s' (%s, %s). Name a token layer with --layer and force its "
                    "reading with --layout tokens:PREFIX or --grid HxW\n",
                    impl_->info.path.c_str(), last_attention->path.c_str(), token_ln->path.c_str(),
                    token_ln->layout.evidence.c_str(), pick->path.c_str(), pick->type.c_str(),
                    describe(pick->layout).c_str());
    }
    return pick->path;
}

int Model::num_classes(const InputSpec& spec) {
    std::lock_guard lock(impl_->mu);
    try {
        auto x = torch::zeros({1, spec.channels, spec.height, spec.width}, torch::TensorOptions().device(impl_->device));
        return static_cast<int>(impl_->forward_fast(x).size(1));
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {  // c10::Error, or torch::jit::JITException from the forward
        throw Error(impl_->info.path + ": forward failed on a 1x" + std::to_string(spec.channels) + "x" +
                    std::to_string(spec.height) + "x" + std::to_string(spec.width) +
                    " input (wrong input size or channels?): " + first_line(e.what()));
    }
}

namespace {

/// ReLU and per-image min-max (cam -= min; cam /= max + 1e-7), as pytorch-grad-cam's
/// scale_cam_image; a constant map becomes all zeros. cams: n×h×w.
torch::Tensor relu_minmax(torch::Tensor cams) {
    cams = torch::relu(cams);
    const auto flat = cams.flatten(1);
    const auto mn = std::get<0>(flat.min(1)).view({-1, 1, 1});
    cams = cams - mn;
    const auto mx = std::get<0>(cams.flatten(1).max(1)).view({-1, 1, 1});
    return cams / (mx + 1e-7);
}

/// S×n×h×w maps at H×W: bilinear with half-pixel centres (cv2.resize INTER_LINEAR), then, when
/// `scale`, ReLU + min-max per map at that size (pytorch-grad-cam's aggregate_multi_layers).
torch::Tensor to_input_size(const torch::Tensor& maps, int64_t h, int64_t w, bool scale) {
    if (maps.size(2) == h && maps.size(3) == w) return maps;
    const auto s = maps.size(0), n = maps.size(1);
    auto up = torch::upsample_bilinear2d(maps.reshape({s * n, 1, maps.size(2), maps.size(3)}), {h, w}, false);
    up = up.reshape({s * n, h, w});
    if (scale) up = relu_minmax(up);
    return up.reshape({s, n, h, w});
}

}  // namespace

namespace {

/// The augmentations of --aug-smooth: horizontal flip × brightness factor (identity first).
struct Augmentation {
    bool flip;
    double factor;
};
constexpr Augmentation kAugmentations[] = {{false, 1.0}, {false, 0.9}, {false, 1.1},
                                           {true, 1.0},  {true, 0.9},  {true, 1.1}};

}  // namespace

struct ModelAccess {
    /// Maps S×n×h'×w' for one (possibly augmented) input: probe forward, one backward per slot when
    /// the method needs gradients, per-layer terms → raw map → scaling → layer fusion.
    /// Targets of −1 become `pred`, which is set from this forward's logits if undefined.
    /// Returns the logits and the maps (and the unscaled maps with `also_raw`).
    struct Maps {
        torch::Tensor logits, maps, raw;  // n×K, S×n×h'×w', raw maps when also_raw
    };
    static Maps maps(Model::Impl& im, const torch::Tensor& x,
                                                        const CamRequest& req, const engine::CamMethod& method,
                                                        const InputSpec& spec, torch::Tensor& pred) {
        const bool grad = method.needs_gradients;
        const engine::RowName name = [&req](int64_t r) { return Model::Impl::image_name(&req, r); };
        std::optional<torch::NoGradGuard> ng;
        if (!grad) ng.emplace();
        torch::Tensor logits;
        std::vector<torch::Tensor> acts;
        // One layer: the split forward (optimised head, autograd tail) once the plain probe has run
        // once for it (the first call validates the input on the plain module, whose errors are
        // clean; an optimised convolution can crash on a wrong channel count). The validation
        // runs on the batch's first image only and the batch itself goes through the split, so an
        // image's numbers do not depend on whether its batch came first in the process (a shard
        // of `analyze --shard` gives the bits a single process gives).
        Model::Impl::Split* sp = nullptr;
        if (req.layers.size() == 1) {
            if (!im.probed.count(req.layers[0])) {
                auto out = im.probe(req.layers, grad)(im.module, {x.narrow(0, 0, 1)}).toTuple()->elements();
                engine::logits_of(out[0], im.info.path, 1, name);
                im.probed.insert(req.layers[0]);
            }
            sp = im.split(req.layers[0]);
        }
        if (sp) {
            std::vector<c10::IValue> head;
            {
                torch::NoGradGuard head_ng;
                head = sp->head.get_method("camscope_head")({x}).toTuple()->elements();
            }
            auto a = head.at(0).toTensor();
            if (grad) a = a.detach().requires_grad_(true);
            std::vector<c10::IValue> in{x, a};
            for (size_t i = 1; i < head.size(); ++i) in.push_back(head[i]);
            logits = engine::logits_of((*sp->tail)(im.module, std::move(in)), im.info.path, x.size(0), name);
            acts.push_back(a);
        } else {
            auto& runner = im.probe(req.layers, grad);
            auto out = runner(im.module, {x}).toTuple()->elements();
            logits = engine::logits_of(out[0], im.info.path, x.size(0), name);
            for (size_t l = 1; l < out.size(); ++l) acts.push_back(out[l].toTensor());
            if (req.layers.size() == 1) im.probed.insert(req.layers[0]);
        }
        const int64_t k = logits.size(1);
        if (!pred.defined()) pred = logits.argmax(1).detach();
        std::vector<torch::Tensor> targets;
        for (const auto& t : req.targets) {
            auto tt = torch::tensor(std::vector<int64_t>(t.begin(), t.end()), torch::kInt64).to(im.device);
            if ((tt >= k).any().item<bool>())
                throw UsageError("target class out of range: the model has " + std::to_string(k) + " classes");
            targets.push_back(torch::where(tt < 0, pred, tt));
        }
        torch::Tensor contrast;  // n×M, −1 padded (Finer-CAM's comparison classes)
        if (method.score && !req.contrast.empty()) {
            const int64_t n = x.size(0);
            if (req.contrast.size() != 1 && static_cast<int64_t>(req.contrast.size()) != n)
                throw UsageError("CamRequest: " + std::to_string(req.contrast.size()) +
                                 " contrast lists for " + std::to_string(n) + " images (expected 1 or one per image)");
            size_t m = 0;
            for (const auto& c : req.contrast) m = std::max(m, c.size());
            std::vector<int64_t> flat(static_cast<size_t>(n) * m, -1);
            for (int64_t i = 0; i < n; ++i) {
                const auto& c = req.contrast[req.contrast.size() == 1 ? 0 : i];
                for (size_t j = 0; j < c.size(); ++j) {
                    if (c[j] < 0 || c[j] >= k)
                        throw UsageError("contrast class " + std::to_string(c[j]) + " out of range: the model has " +
                                         std::to_string(k) + " classes");
                    flat[static_cast<size_t>(i) * m + j] = c[j];
                }
            }
            if (m > 0)
                contrast = torch::tensor(flat, torch::kInt64).view({n, static_cast<int64_t>(m)}).to(im.device);
        }
        std::vector<torch::Tensor> slot_maps, raw_maps;
        for (size_t s = 0; s < targets.size(); ++s) {
            // A slot whose targets equal an earlier slot's (analyze's true class of correctly
            // predicted images: at batch 1, most calls) has that slot's maps: the same score, the
            // same gradients, the same bits. Its backward is skipped.
            size_t same = s;
            for (size_t e = 0; e < s && same == s; ++e)
                if (torch::equal(targets[e], targets[s])) same = e;
            if (same != s) {
                slot_maps.push_back(slot_maps[same]);
                if (req.also_raw) raw_maps.push_back(raw_maps[same]);
                continue;
            }
            // retain_graph while a later slot may still need a backward.
            std::vector<torch::Tensor> grads(acts.size());
            if (grad) {
                auto score = method.score ? method.score({logits, targets[s], contrast, req.alpha}).sum()
                                          : logits.gather(1, targets[s].unsqueeze(1)).sum();
                grads = torch::autograd::grad({score}, acts, {}, /*retain_graph=*/s + 1 < targets.size());
            }
            torch::NoGradGuard inner;
            std::vector<torch::Tensor> per_layer;
            for (size_t l = 0; l < acts.size(); ++l) {
                const Layout& lay = im.layout_of(req.layers[l], acts[l].sizes().vec(), spec.height, spec.width);
                engine::CamContext ctx;
                ctx.input = x;
                ctx.activations = engine::to_nchw(acts[l].detach(), lay);
                ctx.gradients = grad ? engine::to_nchw(grads[l], lay) : torch::Tensor();
                ctx.logits = logits.detach();
                ctx.targets = targets[s];
                ctx.max_channels = req.max_channels;
                ctx.batch_size = std::max(1, req.perturb_batch);
                // The perturbed forwards name their rows by image and channel.
                auto perturbed = [&name](const torch::Tensor& img, const torch::Tensor& ch, const char* how) {
                    return engine::RowName([&name, img, ch, how](int64_t r) {
                        return name(img[r].item<int64_t>()) + " with channel " + std::to_string(ch[r].item<int64_t>()) + how;
                    });
                };
                ctx.score_inputs = [&im, perturbed](const torch::Tensor& xi, const torch::Tensor& img, const torch::Tensor& ch) {
                    return im.forward_fast(xi, perturbed(img, ch, " as the input's mask"));
                };
                const std::string layer = req.layers[l];
                // Ablation in the model's own layout: channel k of the output zeroed at every
                // position (every token, the prefix tokens included, as AblationLayerVit does).
                ctx.score_ablated = [&im, &x, layer, &lay, perturbed, out = acts[l].detach()](const torch::Tensor& img,
                                                                                             const torch::Tensor& ch) {
                    auto a = out.index_select(0, img).clone();
                    engine::zero_channels(a, ch, lay);
                    auto& r = im.replacer(layer);
                    return engine::logits_of(r(im.module, {x.index_select(0, img), a}), im.info.path, img.size(0),
                                             perturbed(img, ch, " ablated"));
                };
                if (req.on_progress) ctx.progress = [&req](int64_t d, int64_t t) { req.on_progress(d, t); };
                const auto terms = method.compute(ctx).to(torch::kFloat32);
                per_layer.push_back(method.project || req.eigen_smooth ? engine::eigen_projection(terms)
                                                                       : terms.sum(1));
            }
            slot_maps.push_back(fuse(per_layer, !req.raw, spec));
            if (req.also_raw) raw_maps.push_back(fuse(per_layer, false, spec));
        }
        auto stack = [](const std::vector<torch::Tensor>& v) { return v.empty() ? torch::Tensor() : torch::stack(v); };
        return {logits.detach(), stack(slot_maps), stack(raw_maps)};
    }

    /// One layer: its map, scaled unless `!scale`. Several layers: each (scaled) map upsampled to
    /// the input size, mean, rescaled.
    static torch::Tensor fuse(const std::vector<torch::Tensor>& per_layer, bool scale, const InputSpec& spec) {
        if (per_layer.size() == 1) {
            if (!scale) return per_layer[0];
            auto m = relu_minmax(per_layer[0]);
            // A layer at the input's own resolution: the resize is the identity, so this map is
            // already the final one and gets aggregate_multi_layers' second scaling here (it moves
            // maps of a tiny range by up to 1e-7/range). Every map at the input size is final.
            if (m.size(1) == spec.height && m.size(2) == spec.width) m = relu_minmax(m);
            return m;
        }
        std::vector<torch::Tensor> up;
        for (const auto& p : per_layer) {
            auto scaled = scale ? relu_minmax(p) : p;
            up.push_back(torch::upsample_bilinear2d(scaled.unsqueeze(1), {spec.height, spec.width}, false).squeeze(1));
        }
        auto m = torch::stack(up).mean(0);
        return scale ? relu_minmax(m) : m;
    }
};

namespace {

/// A NaN or infinite map (finite logits, but NaN gradients from the model's backward) must not
/// pass for a CAM: min-max scaling keeps NaN, and the report would show it as a map. Names the
/// first such map's image (its dataset index when the caller gave CamRequest::image_ids) and layer.
void check_finite_maps(const std::string& model_path, const torch::Tensor& maps, const CamRequest& req, bool gradients,
                       const torch::Tensor& pred, const char* which) {
    if (!maps.defined() || maps.numel() == 0 || torch::isfinite(maps).all().item<bool>()) return;
    const auto bad = torch::nonzero(torch::isfinite(maps).flatten(2).all(2).logical_not())[0];  // (slot, row)
    const auto slot = bad[0].item<int64_t>(), row = bad[1].item<int64_t>();
    const int target = req.targets[slot][row] >= 0 ? req.targets[slot][row] : static_cast<int>(pred[row].item<int64_t>());
    const std::string image = row < static_cast<int64_t>(req.image_ids.size())
                                  ? "image " + std::to_string(req.image_ids[row])
                                  : "batch row " + std::to_string(row);
    throw Error(model_path + ": the " + req.method + which + " CAM of " + image + " (target class " +
                std::to_string(target) + ") at layer '" + join(req.layers, "+") + "' is NaN or infinite, though the logits are finite: " +
                (gradients ? "the model's backward gives non-finite gradients there"
                           : "the layer's activations or the perturbed scores are not finite"));
}

}  // namespace

BatchResult Model::run(const float* data, int n, const InputSpec& spec, const CamRequest* req) {
    // Grad mode and inference mode are thread-local and the caller's (a Python caller inside
    // torch.no_grad() / inference_mode() / set_grad_enabled(False) shares this libtorch): the CAMs'
    // backward needs autograd on. InferenceMode(false) also turns grad mode on (c10/core/
    // InferenceMode.h); the forwards that need none disable it below. Restored on return.
    c10::InferenceMode autograd_on(false);
    std::lock_guard lock(impl_->mu);
    auto& im = *impl_;
    BatchResult res;
    res.n = n;
    auto x = torch::from_blob(const_cast<float*>(data), {n, spec.channels, spec.height, spec.width}, torch::kFloat32)
                 .to(im.device);
    try {
        const engine::RowName name = [req](int64_t r) { return Model::Impl::image_name(req, r); };
        // Before any forward: the optimised forwards (prediction, the CAMs' split head) can turn a
        // NaN image into finite logits, which no check of the logits can then see.
        engine::check_finite_input(x, im.info.path, name);
        if (!req) {
            auto logits = im.forward_fast(x, name);
            res.num_classes = static_cast<int>(logits.size(1));
            engine::copy_out(logits, res.logits);
            return res;
        }
        const auto& method = engine::find_cam_method(req->method);
        if (req->layers.empty()) throw UsageError("CamRequest without a target layer (resolve_layer first)");
        for (size_t s = 0; s < req->targets.size(); ++s)
            if (static_cast<int>(req->targets[s].size()) != n)
                throw UsageError("CamRequest slot " + std::to_string(s) + " has " +
                                 std::to_string(req->targets[s].size()) + " targets for " + std::to_string(n) +
                                 " images");
        // Targets of −1 are the prediction on the original input (the first augmentation is the
        // identity): all augmented maps explain the same class.
        torch::Tensor logits, maps, raw, pred;
        if (!req->aug_smooth) {
            auto r = ModelAccess::maps(im, x, *req, method, spec, pred);
            logits = r.logits;
            maps = r.maps;
            raw = r.raw;
        } else {
            for (const auto& aug : kAugmentations) {
                torch::Tensor xa;
                {
                    torch::NoGradGuard ng;
                    xa = aug.factor == 1.0 ? x : x * aug.factor;
                    if (aug.flip) xa = xa.flip(-1);
                }
                auto r = ModelAccess::maps(im, xa, *req, method, spec, pred);
                // pytorch-grad-cam's forward_augmentation_smoothing averages what forward() returns
                // for each augmentation: maps already at the input size and scaled there.
                if (r.maps.defined()) r.maps = to_input_size(r.maps, spec.height, spec.width, !req->raw);
                if (r.raw.defined()) r.raw = to_input_size(r.raw, spec.height, spec.width, false);
                if (aug.flip) {
                    if (r.maps.defined()) r.maps = r.maps.flip(-1);
                    if (r.raw.defined()) r.raw = r.raw.flip(-1);
                }
                if (!logits.defined()) {
                    logits = r.logits;
                    maps = r.maps;
                    raw = r.raw;
                } else {
                    if (r.maps.defined()) maps = maps + r.maps;
                    if (r.raw.defined()) raw = raw + r.raw;
                }
            }
            const double count = static_cast<double>(std::size(kAugmentations));
            if (maps.defined()) maps = maps / count;
            if (raw.defined()) raw = raw / count;
        }
        res.num_classes = static_cast<int>(logits.size(1));
        res.slots = static_cast<int>(req->targets.size());
        check_finite_maps(im.info.path, maps, *req, method.needs_gradients, pred, "");
        if (raw.defined()) check_finite_maps(im.info.path, raw, *req, method.needs_gradients, pred, " (unnormalised)");
        if (res.slots) {
            res.fh = static_cast<int>(maps.size(2));
            res.fw = static_cast<int>(maps.size(3));
            engine::copy_out(maps, res.cams);
            if (raw.defined()) engine::copy_out(raw, res.raw_cams);
        }
        engine::copy_out(logits, res.logits);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {  // c10::Error, or torch::jit::JITException from the forward
        throw Error(im.info.path + ": " + first_line(e.what()));
    }
    return res;
}

std::vector<std::string> cam_methods() {
    std::vector<std::string> out;
    for (const auto& m : engine::cam_registry()) out.push_back(m.name);
    return out;
}

}  // namespace camscope
