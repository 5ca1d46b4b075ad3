#pragma once
// Model's private state (model.cpp: loading; model_layers.cpp: the layer listing and the automatic
// CAM layer; model_run.cpp: prediction and the CAM pipeline). Torch inside: included by those three
// files only, behind the torch-free facade engine.hpp.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "camscope/engine/engine.hpp"
#include "camscope/engine/graph_probe.hpp"
#include "camscope/engine/torch_internal.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

using engine::GraphRunner;

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
            engine::logits_of(module.forward({x.narrow(0, 0, 1)}), info, 1, name);
            checked_shapes.insert(x.sizes().slice(1).vec());
        }
        return engine::logits_of(fast->forward({x}), info, x.size(0), name);
    }
};

}  // namespace camscope
