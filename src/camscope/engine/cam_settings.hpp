#pragma once
// The settings that decide a CAM map besides the image and its target, declared once and embedded
// in everything that carries them: the engine's request (CamRequest), a pass over a dataset
// (PassOptions), an analysis (AnalyzeSettings), faithfulness (EvaluateOptions) and the identity a
// report, store or chunk records (RunIdentity, whose JSON is report/identity.cpp's). A setting added
// here reaches every one of them, and a run made with other settings differs in its identity
// (`--resume`, `merge` and `serve --results` compare it). Plain C++, no dependencies: the
// torch-free report code includes it.
#include <cmath>
#include <string>
#include <vector>

#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

struct CamSettings {
    std::string method = "gradcam";
    /// Dotted layer paths; empty = the automatic choice (Model::resolve_layer). A run's identity
    /// holds the resolved layer (analyze and serve use exactly one).
    std::vector<std::string> layers;
    /// Reduce the method's per-channel terms by their first principal component instead of the
    /// sum (pytorch-grad-cam's eigen_smooth; sign oriented to agree with the plain map).
    bool eigen_smooth = false;
    /// Test-time augmentation: horizontal flip × brightness 0.9/1.0/1.1 of the normalised input; each
    /// map computed for the same target (−1 = the prediction on the original image), flipped back,
    /// and the six maps averaged at the input size (each scaled there first, as pytorch-grad-cam's
    /// forward_augmentation_smoothing; the mean is not rescaled). The result is at the input size.
    bool aug_smooth = false;
    int max_channels = 0;  // Score-CAM / Ablation-CAM: 0 = all channels, else top M by activation
    double alpha = 1.0;    // Finer-CAM: score Σ_c p_c (y_main − alpha · y_c) / Σ_c p_c

    bool operator==(const CamSettings&) const = default;
};

/// The layers as one text: "layer3", several joined by '+' ("layer2+layer3"; dotted paths hold no
/// '+'), "" for the automatic choice. The identity's "layer" and the messages use it.
inline std::string layers_text(const CamSettings& c) {
    std::string out;
    for (const auto& l : c.layers) {
        if (!out.empty()) out += '+';
        out += l;
    }
    return out;
}

/// The one check of the settings' values, for every edge (CLI flags, Python keywords, server
/// parameters): max_channels >= 0; alpha a finite number in [0, 100]; an alpha other than 1, or a
/// contrast class (`contrast`), for the finercam method only. UsageError naming the setting as the
/// library names it (each edge spells it its own way: --alpha, alpha=, ?alpha=).
inline void check_cam_settings(const CamSettings& c, bool contrast = false) {
    if (c.max_channels < 0)
        throw UsageError(format("max_channels must be 0 (every channel) or a number of channels, got %d", c.max_channels));
    if (!std::isfinite(c.alpha) || c.alpha < 0 || c.alpha > 100)
        throw UsageError(format("alpha must be a number in [0, 100], got %g", c.alpha));
    if ((c.alpha != 1.0 || contrast) && c.method != "finercam")
        throw UsageError(std::string(contrast ? "contrast" : "alpha") + " applies to the finercam method only, not " +
                         c.method);
}

}  // namespace camscope
