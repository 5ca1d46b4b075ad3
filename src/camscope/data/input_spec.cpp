// The input-preparation rule (input_spec.hpp).
#include "camscope/data/input_spec.hpp"

#include <algorithm>
#include <cmath>

#include "camscope/image/image.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

namespace {

/// Largest input a model is given: H×W as for the images themselves (kDefaultMaxPixels); a
/// 65536×65536 input would be a 48 GiB tensor per image.
constexpr long long kMaxInputPixels = kDefaultMaxPixels;

/// `n` with one mean and one std per channel (none: 0 and 1, pixels in [0,1]; one: for every
/// channel); UsageError naming the flags when the counts or the values are wrong.
Normalization per_channel(Normalization n, int channels) {
    if (n.mean.empty() && n.std.empty()) {
        n.mean.assign(channels, 0.f);
        n.std.assign(channels, 1.f);
    }
    if (n.mean.size() == 1 && channels > 1) n.mean.assign(channels, n.mean[0]);
    if (n.std.size() == 1 && channels > 1) n.std.assign(channels, n.std[0]);
    if (n.mean.size() != static_cast<size_t>(channels) || n.std.size() != static_cast<size_t>(channels))
        throw UsageError(format("--mean/--std need %d values (one per channel), got %zu and %zu", channels,
                                n.mean.size(), n.std.size()));
    for (float m : n.mean)
        if (!std::isfinite(m)) throw UsageError(format("--mean values must be finite numbers, got %g", m));
    for (float s : n.std)
        if (!(s > 0) || !std::isfinite(s)) throw UsageError(format("--std values must be finite and positive, got %g", s));
    return n;
}

bool same(const Normalization& a, const Normalization& b) {
    auto close = [](const std::vector<float>& x, const std::vector<float>& y) {
        if (x.size() != y.size()) return false;
        for (size_t i = 0; i < x.size(); ++i)
            if (!(std::fabs(x[i] - y[i]) <= 1e-6f * std::max(1.f, std::fabs(y[i])))) return false;
        return true;
    };
    return close(a.mean, b.mean) && close(a.std, b.std);
}

std::string values(const std::vector<float>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + format("%g", v[i]);
    return s + "]";
}

std::string stated(const Normalization& n) { return "mean " + values(n.mean) + ", std " + values(n.std); }

}  // namespace

InputSpec resolve_input_spec(const ModelInput& model, const DatasetInfo& data, const SpecOverrides& ov) {
    // Size: --input-size > the model's metadata > the dataset's images.
    InputSpec spec;
    const InputSpec& sized = model.metadata ? *model.metadata : data.preset;
    spec.channels = sized.channels > 0 ? sized.channels : data.preset.channels;
    spec.height = ov.height ? *ov.height : sized.height;
    spec.width = ov.width ? *ov.width : sized.width;
    if (spec.height <= 0 || spec.width <= 0) throw UsageError("the model's input size is unknown: pass --input-size HxW");
    if (static_cast<long long>(spec.height) * spec.width > kMaxInputPixels) {
        const std::string from = ov.height        ? "--input-size"
                                 : model.metadata ? model.path + ": its camscope.json metadata"
                                                  : data.name + ": its images";
        throw UsageError(format("input size %dx%d (from %s) exceeds the limit of %lld pixels", spec.height,
                                spec.width, from.c_str(), kMaxInputPixels));
    }

    // Normalisation without the user's: the model's metadata, else (a model file) the dataset's preset.
    Normalization norm;
    std::string base = model.live_module ? kNormNoneLiveModule : kNormNone;
    if (model.metadata) {
        norm = model.metadata->norm;
        if (!norm.mean.empty() || !norm.std.empty()) base = kNormFromMetadata;
    } else if (!model.live_module && !data.preset.norm.mean.empty()) {
        norm = data.preset.norm;
        base = data.preset.norm_source.empty() ? "dataset preset" : data.preset.norm_source;
    }
    // The user's, over it: a preset, then mean and std one by one.
    std::string mean_from = base, std_from = base;
    if (!ov.preset.empty()) {
        auto p = normalization_preset(ov.preset);
        if (!p)
            throw UsageError("unknown --norm preset '" + ov.preset + "' (cifar10, cifar100, mnist, fashion-mnist, imagenet)");
        norm = *p;
        mean_from = std_from = "user norm preset " + to_lower(ov.preset);
    }
    if (ov.mean) {
        norm.mean = *ov.mean;
        mean_from = "user mean";
    }
    if (ov.std) {
        norm.std = *ov.std;
        std_from = "user std";
    }
    spec.norm = per_channel(std::move(norm), spec.channels);
    spec.norm_source = mean_from == "user mean" && std_from == "user std" ? std::string("user mean/std")
                       : mean_from == std_from                           ? mean_from
                                                                         : "mean: " + mean_from + "; std: " + std_from;

    // The data's own normalisation comes first: those images are fed exactly as they arrived.
    if (data.applied_norm) {
        const Normalization applied = per_channel(*data.applied_norm, spec.channels);
        const bool by_user = ov.mean || ov.std || !ov.preset.empty();
        if (by_user && !same(spec.norm, applied))
            throw UsageError(format("%s: the images are already normalised by %s (%s); --mean/--std/--norm (%s) would "
                                    "normalise them again: give the normalisation once",
                                    data.name.c_str(), data.applied_by.c_str(), stated(applied).c_str(),
                                    stated(spec.norm).c_str()));
        std::string source = "already normalised by " + data.applied_by;
        if (model.metadata && !model.metadata->norm.mean.empty() &&
            !same(per_channel(model.metadata->norm, spec.channels), applied))
            source += "; the model's metadata asks for " + stated(per_channel(model.metadata->norm, spec.channels));
        spec.norm = applied;
        spec.norm_source = std::move(source);
    }
    return spec;
}

}  // namespace camscope
