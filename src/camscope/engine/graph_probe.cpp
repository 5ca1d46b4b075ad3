// Graph surgery on TorchScript IR: the layer listing, the probe graphs that expose layer outputs, the
// replace graph (Ablation-CAM) and the head/tail split (graph_probe.hpp). One file of ~630 lines on
// purpose: all four rewrite the same inlined forward graph with the same private helpers (module
// paths of values, call inlining, static values), which a split would have to publish in a header
// for torch IR alone.
#include "camscope/engine/graph_probe.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::engine {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
namespace prim = c10::prim;
namespace attr = c10::attr;

/// Dotted module path of `v` if it is a chain of prim::GetAttr from `self`; nullopt otherwise.
std::optional<std::string> module_path(Value* v, Value* self) {
    std::vector<std::string> parts;
    while (v != self) {
        Node* n = v->node();
        if (n->kind() != prim::GetAttr) return std::nullopt;
        parts.push_back(n->s(attr::name));
        v = n->input(0);
    }
    std::reverse(parts.begin(), parts.end());
    return join(parts, ".");
}

/// A call of a method of a module (or any scripted class): `self.layer1(x)` is a call of
/// `forward`; `self._forward_impl(x)` (torchvision's ResNet), a helper method, is one too.
bool is_method_call(Node* n) {
    return n->kind() == prim::CallMethod && n->inputs().size() >= 1 &&
           n->input(0)->type()->cast<c10::ClassType>() != nullptr;
}

/// A submodule's forward: its output is the module's output, the one a layer name stands for.
bool is_forward_call(Node* n) { return is_method_call(n) && n->s(attr::name) == "forward"; }

std::string class_name(Value* module_value) {
    auto cls = module_value->type()->cast<c10::ClassType>();
    if (!cls || !cls->name()) return "?";
    return cls->name()->name();
}

/// Replaces a prim::CallMethod node by the body of the called method; returns its new outputs.
std::vector<Value*> inline_call(Node* call) {
    auto cls = call->input(0)->type()->expect<c10::ClassType>();
    auto& fn = torch::jit::toGraphFunction(cls->getMethod(call->s(attr::name)));
    return torch::jit::inlineCallTo(call, &fn);
}

std::shared_ptr<Graph> forward_graph_copy(const torch::jit::Module& module) {
    auto method = module.find_method("forward");
    if (!method) throw Error("the model has no forward method");
    return torch::jit::toGraphFunction(method->function()).graph()->copy();
}

/// Inlines every method call of the top-level graph (forwards and helper methods), recursively.
void inline_all_calls(Graph& g) {
    for (bool changed = true; changed;) {
        changed = false;
        for (Node* n : g.nodes()) {
            if (is_method_call(n)) {
                inline_call(n);
                changed = true;
                break;
            }
        }
    }
}

/// Makes the graph return one tuple of all its outputs.
void pack_outputs_as_tuple(Graph& g) {
    std::vector<Value*> outs(g.outputs().begin(), g.outputs().end());
    auto* tuple = g.insertNode(g.createTuple(outs));
    tuple->moveBefore(g.return_node());
    while (g.outputs().size() > 0) g.eraseOutput(0);
    g.registerOutput(tuple->output());
}

std::string nearest_names(const std::vector<std::string>& candidates, const std::string& wanted) {
    std::vector<std::pair<size_t, std::string>> scored;
    for (const auto& c : candidates) scored.emplace_back(edit_distance(c, wanted), c);
    std::sort(scored.begin(), scored.end());
    std::vector<std::string> best;
    for (size_t i = 0; i < scored.size() && i < 5; ++i) best.push_back(scored[i].second);
    return join(best, ", ");
}

/// The value of `v` when the graph fixes it: a constant, a list of constants, or an attribute
/// of the module read through a prim::GetAttr chain from `self`; nullopt otherwise.
std::optional<c10::IValue> static_value(Value* v, Value* self, const c10::IValue& self_value) {
    if (v == self) return self_value;
    Node* n = v->node();
    if (n->kind() == prim::Constant) return torch::jit::toIValue(v);
    if (n->kind() == prim::GetAttr) {
        auto obj = static_value(n->input(0), self, self_value);
        if (!obj || !obj->isObject()) return std::nullopt;
        const auto& o = obj->toObject();
        const auto name = n->s(attr::name);
        if (!o->type()->hasAttribute(name)) return std::nullopt;
        return o->getAttr(name);
    }
    if (n->kind() == prim::ListConstruct) {
        c10::List<int64_t> out;
        for (Value* in : n->inputs()) {
            auto e = static_value(in, self, self_value);
            if (!e || !e->isInt()) return std::nullopt;
            out.push_back(e->toInt());
        }
        return c10::IValue(out);
    }
    return std::nullopt;
}

std::optional<std::vector<int64_t>> int_list(const std::optional<c10::IValue>& v) {
    if (!v) return std::nullopt;
    if (v->isIntList()) return v->toIntVector();
    if (v->isTuple()) {
        std::vector<int64_t> out;
        for (const auto& e : v->toTupleRef().elements()) {
            if (!e.isInt()) return std::nullopt;
            out.push_back(e.toInt());
        }
        return out;
    }
    return std::nullopt;
}

/// Layout evidence for a value (see ProbedCall::layout_hint); memoised per value.
struct LayoutHints {
    Value* self;
    c10::IValue self_value;
    std::unordered_map<Value*, std::string> memo;

    std::string of(Value* v, int depth = 0) {
        if (depth > 200) return "";
        auto it = memo.find(v);
        if (it != memo.end()) return it->second;
        memo[v] = "";  // cycles cannot occur in a graph, but a value reached twice is only walked once
        return memo[v] = walk(v, depth);
    }

    std::string walk(Value* v, int depth) {
        Node* n = v->node();
        std::string k = n->kind().toQualString();
        size_t first = 0;  // index of the op's first argument among the node's inputs
        // Scripted models call torch.nn.functional's Python functions (F.layer_norm, F.dropout,
        // torchvision's stochastic_depth) through prim::CallFunction: read them as the op they name.
        if (n->kind() == prim::CallFunction && n->inputs().size() >= 1) {
            auto fn = n->input(0)->type()->cast<c10::FunctionType>();
            if (!fn) return "";
            k = "aten::" + fn->function()->name();
            first = 1;
        }
        static const std::set<std::string> channels_first = {
            "aten::_convolution", "aten::conv2d", "aten::conv_transpose2d", "aten::batch_norm",
            "aten::instance_norm", "aten::group_norm", "aten::max_pool2d", "aten::avg_pool2d",
            "aten::adaptive_avg_pool2d", "aten::adaptive_max_pool2d", "aten::upsample_bilinear2d",
            "aten::upsample_nearest2d", "aten::pixel_shuffle", "aten::mkldnn_convolution",
            // 1-D: an N×C×L output (layout.hpp: ncl)
            "aten::conv1d", "aten::conv_transpose1d", "aten::max_pool1d", "aten::max_pool1d_with_indices",
            "aten::avg_pool1d", "aten::adaptive_avg_pool1d", "aten::adaptive_max_pool1d",
            "aten::upsample_linear1d", "aten::upsample_nearest1d"};
        static const std::set<std::string> passthrough = {
            "aten::relu", "aten::relu_", "aten::gelu", "aten::gelu_", "aten::silu", "aten::silu_",
            "aten::sigmoid", "aten::sigmoid_", "aten::tanh", "aten::hardswish", "aten::hardswish_",
            "aten::hardsigmoid", "aten::hardtanh", "aten::hardtanh_", "aten::relu6", "aten::leaky_relu",
            "aten::leaky_relu_", "aten::elu", "aten::elu_", "aten::mish", "aten::dropout", "aten::dropout_",
            "aten::feature_dropout", "aten::alpha_dropout", "aten::clone", "aten::contiguous", "aten::detach",
            "aten::add", "aten::add_", "aten::mul", "aten::mul_", "aten::sub", "aten::sub_", "aten::div",
            "aten::div_", "aten::stochastic_depth"};
        if (channels_first.count(k)) return "nchw:" + k;
        if (k == "aten::linear") return "last:" + k;
        if (k == "aten::layer_norm" && n->inputs().size() >= first + 2) {
            // Over the last axis only (normalized_shape of length 1) = the channel axis.
            auto shape = int_list(static_value(n->input(first + 1), self, self_value));
            if (shape && shape->size() == 1) return "last:" + k;
            return "";
        }
        if (k == "aten::permute" && n->inputs().size() >= first + 2) {
            auto dims = int_list(static_value(n->input(first + 1), self, self_value));
            if (dims && *dims == std::vector<int64_t>{0, 2, 3, 1}) return "last:aten::permute(0, 2, 3, 1)";
            if (dims && *dims == std::vector<int64_t>{0, 3, 1, 2}) return "nchw:aten::permute(0, 3, 1, 2)";
            return "";
        }
        if (!passthrough.count(k)) return "";
        for (size_t i = first; i < n->inputs().size(); ++i) {  // the first tensor input with evidence (a residual add: either branch)
            Value* in = n->input(i);
            if (in->type()->kind() != c10::TypeKind::TensorType) continue;
            auto h = of(in, depth + 1);
            if (!h.empty()) return h;
        }
        return "";
    }
};

/// The attribute name when `v` is a tensor read from the module (a parameter such as a class
/// token), possibly expanded, repeated or reshaped over the batch; nullopt otherwise.
std::optional<std::string> parameter_token(Value* v) {
    static const std::set<std::string> through = {
        "aten::expand", "aten::expand_as", "aten::repeat", "aten::tile", "aten::broadcast_to", "aten::to",
        "aten::type_as", "aten::contiguous", "aten::clone", "aten::view", "aten::reshape", "aten::unsqueeze"};
    for (int depth = 0; depth < 16; ++depth) {
        Node* n = v->node();
        if (n->kind() == prim::GetAttr)
            return v->type()->kind() == c10::TypeKind::TensorType ? std::optional<std::string>(n->s(attr::name))
                                                                   : std::nullopt;
        if (n->inputs().empty() || !through.count(n->kind().toQualString())) return std::nullopt;
        v = n->input(0);
    }
    return std::nullopt;
}

/// ListingGraph::token_suffix: the first aten::cat along dim 1 (or −2) of the top-level graph that
/// puts a parameter token after a computed input.
std::string find_token_suffix(Graph& g) {
    for (Node* n : g.nodes()) {
        if (n->kind() != c10::aten::cat || n->inputs().size() < 2) continue;
        auto dim = torch::jit::toIValue(n->input(1));
        if (!dim || !dim->isInt() || (dim->toInt() != 1 && dim->toInt() != -2)) continue;
        Node* list = n->input(0)->node();
        if (list->kind() != prim::ListConstruct) continue;
        bool computed = false;
        for (Value* in : list->inputs()) {
            auto name = parameter_token(in);
            if (!name) computed = true;
            else if (computed)
                return "aten::cat puts the parameter '" + *name + "' after the computed tokens";
        }
    }
    return "";
}

}  // namespace

std::vector<std::string> submodule_paths(const torch::jit::Module& module) {
    std::vector<std::string> out;
    for (const auto& nm : module.named_modules()) {
        if (!nm.name.empty()) out.push_back(nm.name);
    }
    return out;
}

ListingGraph make_listing_graph(const torch::jit::Module& module) {
    auto g = forward_graph_copy(module);
    Value* self = g->inputs()[0];
    // Map path -> index of its registered graph output (the last call wins).
    std::map<std::string, size_t> output_of;
    std::vector<ProbedCall> recorded;
    std::vector<size_t> recorded_output;
    for (bool changed = true; changed;) {
        changed = false;
        for (Node* n : g->nodes()) {
            if (!is_method_call(n)) continue;
            // A helper method (`_forward_impl`) is inlined like a forward, but its result is not
            // a layer's output.
            const bool forward = is_forward_call(n);
            auto path = module_path(n->input(0), self);
            std::string type = class_name(n->input(0));
            auto outs = inline_call(n);
            // Every forward with one output: tensors get a shape; others (an attention returning
            // (output, weights)) are listed with none, so that their position is known.
            if (forward && path && outs.size() == 1) {
                size_t idx = g->registerOutput(outs[0]);
                auto it = output_of.find(*path);
                if (it == output_of.end()) {
                    output_of[*path] = recorded.size();
                    recorded.push_back({*path, type, ""});
                    recorded_output.push_back(idx);
                } else {
                    recorded_output[it->second] = idx;  // a later call of the same module
                }
            }
            changed = true;
            break;  // the node list changed: start over
        }
    }
    // Order the recorded outputs by the position of the node that produces them.
    std::unordered_map<const Node*, size_t> position;
    size_t pos = 0;
    for (Node* n : g->nodes()) position[n] = ++pos;
    std::vector<size_t> order(recorded.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto pos_of = [&](size_t i) {
        Value* v = g->outputs()[recorded_output[i]];
        auto it = position.find(v->node());
        return it == position.end() ? size_t{0} : it->second;  // graph inputs come first
    };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        if (pos_of(a) != pos_of(b)) return pos_of(a) < pos_of(b);
        return recorded[a].path.size() < recorded[b].path.size();
    });
    std::vector<Value*> outs{g->outputs()[0]};
    ListingGraph result;
    LayoutHints hints{self, module._ivalue(), {}};
    for (size_t i : order) {
        outs.push_back(g->outputs()[recorded_output[i]]);
        result.calls.push_back(recorded[i]);
        result.calls.back().layout_hint = hints.of(outs.back());
    }
    result.token_suffix = find_token_suffix(*g);
    while (g->outputs().size() > 0) g->eraseOutput(0);
    for (Value* v : outs) g->registerOutput(v);
    pack_outputs_as_tuple(*g);
    torch::jit::EliminateDeadCode(g);
    result.graph = g;
    return result;
}

namespace {

/// Inlines the calls on the way to each of `paths` until every one is a call in the top-level graph
/// of `g`; returns the output of the (last) call of each. Throws naming the nearest existing names.
std::vector<Value*> expose_calls(Graph& g, const torch::jit::Module& module, const std::vector<std::string>& paths) {
    Value* self = g.inputs()[0];
    std::vector<Value*> found(paths.size(), nullptr);
    for (bool changed = true; changed;) {
        changed = false;
        std::fill(found.begin(), found.end(), nullptr);
        Node* to_inline = nullptr;
        for (Node* n : g.nodes()) {
            if (!is_method_call(n)) continue;
            auto path = module_path(n->input(0), self);
            if (!path) continue;
            const bool forward = is_forward_call(n);
            for (size_t i = 0; i < paths.size(); ++i) {
                if (forward && *path == paths[i]) {
                    found[i] = n->output();  // last call wins
                    continue;
                }
                // Calls that may lead to the target: forwards and helper methods (torchvision's
                // `self._forward_impl(x)`) of the model itself or of a module above the target.
                if (!to_inline && *path != paths[i] && (path->empty() || starts_with(paths[i], *path + ".")))
                    to_inline = n;
            }
        }
        bool all_found = std::all_of(found.begin(), found.end(), [](Value* v) { return v != nullptr; });
        if (!all_found && to_inline) {
            inline_call(to_inline);
            changed = true;
        }
    }
    const auto names = submodule_paths(module);
    for (size_t i = 0; i < paths.size(); ++i) {
        if (found[i]) {
            if (found[i]->type()->kind() != c10::TypeKind::TensorType)
                throw Error("layer '" + paths[i] + "' does not output a tensor (type " + found[i]->type()->str() + ")");
            continue;
        }
        if (std::find(names.begin(), names.end(), paths[i]) == names.end())
            throw UsageError("layer '" + paths[i] + "' not found in the model; nearest names: " +
                             nearest_names(names, paths[i]) + " (see `camscope layers MODEL`)");
        throw Error("layer '" + paths[i] +
                    "' exists but its output is not reachable in forward's top-level graph (called inside "
                    "control flow, or not called at all); choose another layer");
    }
    return found;
}

/// Rewrites `y = op_(x, ...)` as `y = op(x, ...)` where nothing else can see the write: x is
/// produced in the top-level graph by an op whose result is a fresh tensor (no alias annotation
/// in its schema: not a view, not a graph input or attribute) and this op is x's only use. Alias
/// analysis cannot prove such writes unobservable, so without this the part of the graph that
/// feeds them (ReLU(inplace), `out += identity` in every ResNet) would never be dead.
void functionalize_private_inplace(Graph& g) {
    for (Node* n : g.nodes()) {
        const std::string kind = n->kind().toQualString();
        if (n->inputs().empty() || kind.size() < 2 || kind.back() != '_' || kind.compare(0, 6, "aten::") != 0) continue;
        Value* x = n->input(0);
        Node* producer = x->node();
        if (x->uses().size() != 1 || producer->owningBlock() != g.block() || producer->kind() == prim::Param) continue;
        const auto* ps = producer->maybeSchema();
        if (!ps || ps->returns().size() != producer->outputs().size()) continue;
        bool fresh = true;
        for (const auto& r : ps->returns()) fresh = fresh && r.alias_info() == nullptr;
        if (!fresh) continue;
        const auto functional = c10::Symbol::fromQualString(kind.substr(0, kind.size() - 1));
        Node* f = g.create(functional, n->inputs(), n->outputs().size());
        if (!f->maybeSchema()) {  // no functional twin with these arguments
            f->destroy();
            continue;
        }
        f->insertBefore(n);
        for (size_t i = 0; i < n->outputs().size(); ++i) {
            f->output(i)->copyMetadata(n->output(i));
            n->output(i)->replaceAllUsesWith(f->output(i));
        }
        // n (now without uses) is removed by the dead-code elimination that follows.
    }
}

/// One backward sweep over the top-level graph: a node whose outputs are unused and whose schema
/// writes to none of its arguments (and has no side effects or blocks) is removed. (The standard
/// pass keeps such nodes here, apparently from conservative aliasing with the module's attributes.)
void remove_unused_pure_nodes(Graph& g) {
    std::vector<Node*> nodes(g.nodes().begin(), g.nodes().end());
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
        Node* n = *it;
        const bool used = std::any_of(n->outputs().begin(), n->outputs().end(), [](Value* v) { return v->hasUses(); });
        if (used || n->hasSideEffects() || !n->blocks().empty()) continue;
        if (n->kind() == prim::Constant || n->kind() == prim::GetAttr || n->kind() == prim::ListConstruct) {
            n->destroy();
            continue;
        }
        const auto* schema = n->maybeSchema();
        if (!schema) continue;
        bool writes = false;
        for (const auto& a : schema->arguments()) writes = writes || (a.alias_info() && a.alias_info()->isWrite());
        if (!writes) n->destroy();
    }
}

}  // namespace

std::shared_ptr<Graph> make_replace_graph(const torch::jit::Module& module, const std::string& path) {
    auto g = forward_graph_copy(module);
    Value* a = expose_calls(*g, module, {path})[0];
    Value* r = g->insertInput(2, "replacement")->setType(a->type());
    a->replaceAllUsesWith(r);
    // The target call and what only fed it have no remaining use. A submodule call is opaque to
    // alias analysis (it "may write" to the module, which stays live), so dead-code elimination
    // keeps it: inline every call first, make private in-place ops functional, then what only fed
    // the layer is plain ops and goes.
    inline_all_calls(*g);
    functionalize_private_inplace(*g);
    torch::jit::EliminateDeadCode(g, torch::jit::DCESideEffectPolicy::ALLOW_DELETING_NODES_WITH_SIDE_EFFECTS);
    remove_unused_pure_nodes(*g);
    return g;
}

namespace {

/// The top-level node of g's block that is, or contains, `n`.
Node* top_level(Node* n, const Graph& g) {
    while (n->owningBlock() != g.block()) n = n->owningBlock()->owningNode();
    return n;
}

}  // namespace

SplitGraphs make_split_graphs(const torch::jit::Module& module, const std::string& path) {
    auto g = forward_graph_copy(module);
    Value* a = expose_calls(*g, module, {path})[0];
    Node* cut = a->node();
    // Top-level position of every node; the head is [first, cut], the tail (cut, return).
    std::vector<Node*> order(g->nodes().begin(), g->nodes().end());
    const size_t cut_pos = static_cast<size_t>(std::find(order.begin(), order.end(), cut) - order.begin());
    if (cut_pos == order.size()) throw Error("layer '" + path + "': its call is not in forward's top-level graph");
    auto in_tail = [&](Node* user) {
        Node* t = top_level(user, *g);
        return t == g->return_node() || t->isAfter(cut);
    };
    // Constants and module attributes (prim::GetAttr chains from self) that the tail reads are made
    // again in the tail: they are not data, and a frozen head could not return a module.
    Value* self = g->inputs()[0];
    std::unordered_map<Value*, Value*> remade;
    std::function<Value*(Value*)> remake = [&](Value* v) -> Value* {
        if (v == self) return v;
        auto it = remade.find(v);
        if (it != remade.end()) return it->second;
        Node* copy = g->createClone(v->node(), remake);
        copy->insertAfter(cut);
        // Clones are inserted right after the cut: a later one (a user) must come after its inputs,
        // so each new node goes after the cut and the ones it reads were placed before it.
        for (Value* in : copy->inputs())
            if (in->node() != copy && in->node()->isAfter(cut) && copy->isBefore(in->node())) copy->moveAfter(in->node());
        Value* out = copy->output(v->offset());
        remade[v] = out;
        return out;
    };
    auto is_rematerialisable = [&](Value* v) {
        for (Node* n = v->node();; n = n->input(0)->node()) {
            if (n->kind() == prim::Constant) return true;
            if (n->kind() != prim::GetAttr) return false;
            if (n->input(0) == self) return true;
        }
    };
    for (size_t p = 0; p < cut_pos; ++p)
        for (Value* v : order[p]->outputs())
            if (is_rematerialisable(v) &&
                std::any_of(v->uses().begin(), v->uses().end(), [&](const torch::jit::Use& u) { return in_tail(u.user); }))
                v->replaceAllUsesAfterNodeWith(cut, remake(v));
    // Values the tail reads from the head, as (node position, output index); graph inputs are
    // passed as they are (self, x).
    std::vector<std::pair<size_t, size_t>> crossing;
    for (size_t p = 0; p < cut_pos; ++p)
        for (size_t o = 0; o < order[p]->outputs().size(); ++o) {
            Value* v = order[p]->output(o);
            if (std::any_of(v->uses().begin(), v->uses().end(), [&](const torch::jit::Use& u) { return in_tail(u.user); }))
                crossing.emplace_back(p, o);
        }
    for (size_t o = 0; o < cut->outputs().size(); ++o)
        if (cut->output(o) != a && cut->output(o)->hasUses())
            throw Error("layer '" + path + "': its call has several used outputs; cannot split the graph there");

    // Head: outputs (A, crossing values), everything after the cut removed.
    auto head = g->copy();
    {
        std::vector<Node*> hn(head->nodes().begin(), head->nodes().end());
        std::vector<Value*> outs{hn[cut_pos]->output(a->offset())};
        for (auto [p, o] : crossing) outs.push_back(hn[p]->output(o));
        while (head->outputs().size() > 0) head->eraseOutput(0);
        for (Value* v : outs) head->registerOutput(v);
        for (size_t p = hn.size(); p-- > cut_pos + 1;) hn[p]->destroy();
        pack_outputs_as_tuple(*head);
        torch::jit::EliminateDeadCode(head);
    }

    // Tail: inputs (self, x, A, crossing values); A read through a clone; the head removed.
    auto tail = g;
    {
        Value* a_in = tail->addInput("layer_output")->setType(a->type());
        std::vector<Value*> c_in;
        for (auto [p, o] : crossing) {
            Value* v = order[p]->output(o);
            c_in.push_back(tail->addInput()->setType(v->type()));
        }
        Value* a_use;
        {
            torch::jit::WithInsertPoint guard(cut->next());
            a_use = tail->insert(c10::aten::clone, {a_in});
        }
        a->replaceAllUsesWith(a_use);
        for (size_t i = 0; i < crossing.size(); ++i) {
            Value* v = order[crossing[i].first]->output(crossing[i].second);
            v->replaceAllUsesAfterNodeWith(cut, c_in[i]);
        }
        for (size_t p = cut_pos + 1; p-- > 0;) {
            Node* n = order[p];
            for (Value* v : n->outputs())
                if (v->hasUses())
                    throw Error("layer '" + path + "': cannot split the graph there (a value of the part before it "
                                "is still read after it)");
            n->destroy();
        }
        torch::jit::EliminateDeadCode(tail);
    }
    return {head, tail, crossing.size()};
}

std::shared_ptr<Graph> make_probe_graph(const torch::jit::Module& module, const std::vector<std::string>& paths,
                                        bool grad_probe) {
    auto g = forward_graph_copy(module);
    const std::vector<Value*> found = expose_calls(*g, module, paths);
    // Only the earliest probed value becomes the autograd leaf: gradients w.r.t. a later layer
    // flow from it, and detaching a later layer would cut the earlier one off the graph.
    Value* earliest = nullptr;
    for (Value* a : found)
        if (!earliest || a->node()->isBefore(earliest->node())) earliest = a;
    std::vector<Value*> outputs(found.size());
    for (size_t i = 0; i < paths.size(); ++i) {
        Value* a = found[i];
        outputs[i] = a;
        if (!grad_probe) continue;
        // a -> [leaf = detach(a); requires_grad_(leaf)]; use = clone(leaf or a); later uses read `use`,
        // so in-place ops after the layer (ReLU(inplace), out += identity) cannot modify what we return.
        torch::jit::WithInsertPoint guard(a->node()->next());
        Value* src = a;
        Node* first_new = nullptr;
        if (a == earliest && std::find(found.begin(), found.begin() + i, a) == found.begin() + i) {
            src = g->insert(c10::aten::detach, {a});
            first_new = src->node();
            g->insert(c10::Symbol::fromQualString("aten::requires_grad_"),
                      {src, torch::jit::NamedValue(c10::IValue(true))});
        }
        Value* use = g->insert(c10::aten::clone, {src});
        if (!first_new) first_new = use->node();
        a->replaceAllUsesAfterNodeWith(first_new, use);
        outputs[i] = src;
    }
    for (Value* v : outputs) g->registerOutput(v);
    pack_outputs_as_tuple(*g);
    torch::jit::EliminateDeadCode(g);
    return g;
}

bool has_baked_training_ops(const torch::jit::Module& module) {
    auto g = forward_graph_copy(module);
    torch::jit::Inline(*g);
    inline_all_calls(*g);  // traced graphs keep prim::CallMethod
    auto constant_true = [](Value* v) {
        auto iv = torch::jit::toIValue(v);
        return iv && iv->isBool() && iv->toBool();
    };
    for (Node* n : g->nodes()) {
        const std::string kind = n->kind().toQualString();
        if (kind == "aten::batch_norm" && n->inputs().size() > 5 && constant_true(n->input(5))) return true;
        // A dropout of constant p = 0 is the identity in either mode (torchvision's Swin calls its
        // attention dropout with the default training=True and p = 0): not a baked training op.
        auto constant_zero = [](Value* v) {
            auto iv = torch::jit::toIValue(v);
            return iv && iv->isDouble() && iv->toDouble() == 0.0;
        };
        if ((kind == "aten::dropout" || kind == "aten::dropout_" || kind == "aten::feature_dropout") &&
            n->inputs().size() > 2 && constant_true(n->input(2)) && !constant_zero(n->input(1)))
            return true;
    }
    return false;
}

GraphRunner::GraphRunner(std::shared_ptr<Graph> graph)
    : graph_(std::move(graph)),
      fn_(std::make_unique<torch::jit::GraphFunction>("camscope_probe", graph_, nullptr)) {}

c10::IValue GraphRunner::operator()(const torch::jit::Module& module, std::vector<c10::IValue> inputs) {
    torch::jit::Stack stack;
    stack.reserve(inputs.size() + 1);
    stack.emplace_back(module._ivalue());
    for (auto& v : inputs) stack.push_back(std::move(v));
    fn_->run(stack);
    return stack.front();
}

}  // namespace camscope::engine
