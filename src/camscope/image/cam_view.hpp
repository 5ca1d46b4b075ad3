#pragma once
// What a person sees of a CAM: the one place that turns a map into a picture, for the report's
// figures and explorer images, `camscope compare`, the server's live CAMs, `camscope cam` and the
// Python package. It holds ARCHITECTURE's decision "a blank map is never drawn as evidence": a map
// with no positive evidence (degenerate_cam) becomes the hatched no_evidence_image, never the flat
// overlay it would give. Torch-free.
#include <cstddef>

#include "camscope/image/image.hpp"

namespace camscope {

/// A CAM with no positive evidence: no value above 0 (NaN counts as none), or a constant map. The
/// engine's maps are ReLU'd and min-maxed per image (cam -= min; cam /= max + 1e-7), so both
/// failure modes come out all zeros: a map whose target score has no positive contribution anywhere
/// (all <= 0 before the ReLU) and a constant one (a 1×1 layer's map always is). Drawn, such a map
/// looks like a flat "no preference" overlay and its statistics (centre share, top-region IoU) are
/// undefined, so the report marks it instead of showing it, and leaves it out of every CAM
/// statistic (metrics::degenerate_cam is this function). `map` has `size` values (0 values:
/// degenerate). A map at the layer's resolution and the same map brought to the input size
/// (cam_to_input_size: an upsampling, then ReLU + min-max) are degenerate alike.
bool degenerate_cam(const float* map, std::size_t size);

/// How a map with evidence is drawn: blended over the image, or the heat layer alone (what the
/// blend uses; the explorer lays it over the input itself, with its opacity slider).
enum class CamLayer { Overlay, Heat };

struct CamView {
    Image image;         // RGB, at the image's size (without an image: the map's)
    bool blank = false;  // the map has no positive evidence: `image` is no_evidence_image
};

/// A CAM `map` (h×w, at the model's input size, in [0, 1]: as cam_to_input_size gives it) as
/// shown over `img`: the map brought to the image's size when it differs (resize_map, half-pixel
/// bilinear), then
///  - blank (degenerate_cam(map)): no_evidence_image(img);
///  - CamLayer::Overlay: overlay_cam (= pytorch-grad-cam's show_cam_on_image); without an image
///    (`img` empty), the heat layer at h×w;
///  - CamLayer::Heat: the JET heat layer alone (colorize).
CamView view_cam(const Image& img, const float* map, int h, int w, CamLayer layer = CamLayer::Overlay);

/// The difference of two CAMs, `diff` = a − b (h×w, each side as view_cam takes it, or both
/// already at the image's size), on the diverging blue-white-red scale clamped to [-1, 1] at the
/// image's size (without an image: h×w). `blank`: either side has no positive evidence (the
/// caller's degenerate_cam of a and of b); the "difference" would then be the other map alone,
/// so no_evidence_image stands in (CamView::blank set, `diff` not read).
CamView view_cam_difference(const Image& img, const float* diff, int h, int w, bool blank);

}  // namespace camscope
