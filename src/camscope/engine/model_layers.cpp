// Model's layer listing (`camscope layers`), the layout a layer is read in, and the automatic
// choice of the CAM layer.
#include <algorithm>

#include "camscope/engine/model_impl.hpp"

namespace camscope {

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

}  // namespace camscope
