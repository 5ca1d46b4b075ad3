#pragma once
// TorchScript graph surgery that exposes the output of any submodule call of a model's forward,
// WITHOUT changing the model: calls on the path to the target module (submodule forwards, and
// helper methods such as torchvision's `self._forward_impl(x)`) are inlined until the call
// of the target itself is visible in the top-level graph, whose output is then returned as an
// extra graph output. Works for traced and scripted modules (both keep prim::CallMethod nodes
// per submodule call; module paths are read off the prim::GetAttr chain from `self`).
#include <memory>
#include <string>
#include <vector>

#include <torch/script.h>

namespace camscope::engine {

struct ProbedCall {
    std::string path;  // dotted module path
    std::string type;  // module class name (unqualified)
    /// The graph's evidence for the output's layout (layout.hpp infer_layout): "nchw:<op>" (a
    /// convolution, batch norm, pooling (2-D or 1-D) or a permute to (0, 3, 1, 2) made it), "last:<op>" (its
    /// last axis holds the channels: linear, layer norm over the last axis, permute to (0, 2, 3,
    /// 1)), "" = none. Found by walking back from the value through elementwise ops (activations,
    /// dropout, residual adds, scaling).
    std::string layout_hint;
};

/// Graph of `module.forward` with every submodule call inlined and each call's output (a tensor, or e.g. an attention's tuple)
/// returned: output = Tuple(logits, out_1, …, out_M), out_i in topological order of production.
/// `calls[i]` names out_{i+1}. Modules called several times appear once (their last call).
struct ListingGraph {
    std::shared_ptr<torch::jit::Graph> graph;
    std::vector<ProbedCall> calls;
    /// Evidence that the model appends extra tokens AFTER its token sequence (an aten::cat along
    /// dim 1 whose later input is a parameter, e.g. a class token, after a computed one), in words;
    /// "" = none (the usual class token first). Token layouts read the extra tokens as a suffix then.
    std::string token_suffix;
};
ListingGraph make_listing_graph(const torch::jit::Module& module);

/// Graph of `module.forward` returning Tuple(logits, A_1, …, A_L) where A_l is the output of the
/// (last) call of module `paths[l]`. With `grad_probe`, each A_l is made a leaf that requires
/// grad (detach + requires_grad_) and its uses in the rest of the graph read a clone, so that
///  - gradients are taken w.r.t. the activations only (nothing before them records autograd), and
///  - in-place ops after the layer (ReLU(inplace), `out += identity`) cannot overwrite A_l.
/// Throws camscope::Error if a path is not called by forward (with the nearest existing names).
std::shared_ptr<torch::jit::Graph> make_probe_graph(const torch::jit::Module& module,
                                                    const std::vector<std::string>& paths,
                                                    bool grad_probe);

/// Graph of `module.forward` with an extra input R after x: the output of the (last) call of module
/// `path` is replaced by R everywhere it is used; returns the logits. Computations that only fed
/// the replaced output are removed (in-place ops on tensors nothing else sees are made functional
/// first), so only the part after `path` runs, plus what skip connections need from before it. Throws like make_probe_graph.
std::shared_ptr<torch::jit::Graph> make_replace_graph(const torch::jit::Module& module, const std::string& path);

/// The forward split at the (last) call of module `path`, so that ONE forward gives the logits and
/// the gradients w.r.t. that layer's output:
///  - head(self, x) -> Tuple(A, v_1, …, v_m): every node up to and including the call; the v_i are
///    the values computed before it that the rest reads (a skip connection's input, sizes, …);
///  - tail(self, x, A, v_1, …, v_m) -> logits: every node after the call, reading A through a
///    clone (in-place ops after the layer must not write to the autograd leaf).
/// The head is meant to run frozen and optimised without autograd, the tail with A as the leaf.
/// Throws like make_probe_graph.
struct SplitGraphs {
    std::shared_ptr<torch::jit::Graph> head, tail;
    size_t crossing = 0;  // m
};
SplitGraphs make_split_graphs(const torch::jit::Module& module, const std::string& path);

/// All submodule paths of `module` (named_modules without the root), for messages.
std::vector<std::string> submodule_paths(const torch::jit::Module& module);

/// True if the fully inlined forward has batch_norm/dropout with a constant training=True
/// (a model traced in train mode: eval() cannot undo it).
bool has_baked_training_ops(const torch::jit::Module& module);

/// A graph made callable on (module, inputs...): the executor and its plan are kept between calls.
class GraphRunner {
public:
    explicit GraphRunner(std::shared_ptr<torch::jit::Graph> graph);
    c10::IValue operator()(const torch::jit::Module& module, std::vector<c10::IValue> inputs);
    const std::shared_ptr<torch::jit::Graph>& graph() const { return graph_; }

private:
    std::shared_ptr<torch::jit::Graph> graph_;
    std::unique_ptr<torch::jit::GraphFunction> fn_;
};

}  // namespace camscope::engine
