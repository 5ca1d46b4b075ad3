// The engine's part of the sanity gate (pipeline/sanity.hpp): which modules lie above the CAM layer,
// and copies of the model with them re-initialised. The CAMs of a copy are computed by Model::run as
// for any model, so the randomised maps go through exactly the report's pipeline.
#include <algorithm>
#include <cmath>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>

#include "camscope/engine/model_impl.hpp"

namespace camscope {

namespace {

/// The submodule at dotted `path` of `root`, if any.
std::optional<torch::jit::Module> submodule(const torch::jit::Module& root, const std::string& path) {
    for (const auto& m : root.named_modules())
        if (m.name == path) return m.value;
    return std::nullopt;
}

bool has_own_parameters(const torch::jit::Module& m) {
    return m.named_parameters(/*recurse=*/false).size() > 0;
}

}  // namespace

std::vector<std::string> Model::modules_above(const std::string& layer, const InputSpec& spec) {
    layers(spec);  // validates that the model runs on spec's input (the listing's own forward)
    std::lock_guard lock(impl_->mu);
    const auto& calls = impl_->listing_graph().calls;
    size_t at = calls.size();
    for (size_t i = 0; i < calls.size(); ++i)
        if (calls[i].path == layer) {
            at = i;
            break;
        }
    if (at == calls.size())
        throw UsageError(impl_->info.path + ": layer '" + layer + "' is not called by the model's forward");
    std::vector<std::string> out;
    for (size_t i = at + 1; i < calls.size(); ++i) {
        const std::string& p = calls[i].path;
        if (starts_with(p, layer + ".") || std::find(out.begin(), out.end(), p) != out.end()) continue;
        const auto m = submodule(impl_->module, p);
        if (m && has_own_parameters(*m)) out.push_back(p);
    }
    std::reverse(out.begin(), out.end());
    return out;
}

Model Model::randomized(const std::vector<std::string>& modules, std::uint64_t seed) {
    c10::InferenceMode autograd_on(false);
    std::lock_guard lock(impl_->mu);
    auto copy = impl_->load_copy();  // a second load: `module` and its frozen copies stay as they are
    auto gen = at::detail::createCPUGenerator(seed);
    {
        torch::NoGradGuard ng;
        for (const auto& path : modules) {
            const auto m = submodule(copy, path);
            if (!m) throw UsageError(impl_->info.path + ": no submodule '" + path + "' to randomise");
            for (const auto& p : m->named_parameters(/*recurse=*/false)) {
                auto t = p.value;
                double sd = t.numel() > 1 ? t.to(torch::kDouble).std().item<double>() : 0.0;
                if (!(sd > 0) || !std::isfinite(sd)) sd = 1.0;
                const auto draw = at::normal(0.0, sd, t.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat));
                t.copy_(draw.to(t.device(), t.scalar_type()));
            }
        }
    }
    std::ostringstream out;
    torch::jit::ExtraFilesMap extra;
    if (!impl_->info.metadata_json.empty()) extra["camscope.json"] = impl_->info.metadata_json;
    copy.save(out, extra);
    EngineOptions opt = impl_->opt;
    opt.quiet = true;  // its notes would repeat this model's
    Model rnd = load_bytes(out.str(), impl_->info.path, opt);
    // A copy computes the CAMs of a few images: its CAMs run on the plain module (the probe), as
    // where no split forward can be made; freezing and optimising a head would cost more than it saves.
    for (const auto& c : rnd.impl_->listing_graph().calls) rnd.impl_->splits.emplace(c.path, nullptr);
    return rnd;
}

}  // namespace camscope
