#pragma once
// Activation layouts of a CAM target layer, torch-free. A CAM method works on N×C×h×w; a layer's
// output may be laid out differently, and camscope reads it in its own layout instead of asking
// the user for pytorch-grad-cam's `reshape_transform`:
//   nchw    N×C×H×W                 convolutions (ResNet, ConvNeXt stage outputs)
//   nhwc    N×H×W×C (channels last) Swin stages, ConvNeXt blocks' inner layers, timm models
//   tokens  N×T×C, T = prefix + h·w  ViT/DeiT: 1 class token (DeiT distilled: 2; registers: more);
//                                    the prefix tokens are dropped, the rest is the h×w grid in
//                                    row-major order (pytorch-grad-cam's vit_reshape_transform)
//
// Inference rule (infer_layout), from the output shape for an H×W input and the graph's evidence
// (layout_hint, graph_probe.cpp: the op that produced the value, through elementwise ops):
//   4-D: the graph decides when it can: a convolution, batch norm or pooling made it → nchw; a
//        linear / layer norm (over the last axis) or a permute to (0, 2, 3, 1) → nhwc. Without
//        evidence the shape decides when exactly one of the two readings has spatial axes
//        proportional to H×W (the axes an integer-ish downsampling of the input would give);
//        when both or neither do, it is an error naming what was seen and the flag to force it.
//   3-D: tokens. T − prefix = h·w with h:w = H:W, H and W multiples of h and w (a whole patch
//        size), prefix < h·w and prefix ≤ 32; exactly one such split, else an error.
//   anything else: no spatial layout (a CAM is impossible there).
// `--layout nchw|nhwc|tokens[:PREFIX]` and `--grid HxW` force the reading of the CAM's layer.
#include <cstdint>
#include <string>
#include <vector>

namespace camscope {

enum class LayoutKind { none, nchw, nhwc, tokens };

struct Layout {
    LayoutKind kind = LayoutKind::none;
    int prefix = 0;          // tokens dropped before the grid (tokens layout only)
    int64_t h = 0, w = 0;    // the grid the CAM is computed on
    int64_t channels = 0;
    /// Why this reading (the evidence), or, for kind none, why no reading was possible.
    std::string evidence;
};

/// What the user forced (--layout, --grid); empty = infer.
struct LayoutOverride {
    LayoutKind kind = LayoutKind::none;  // none = not forced
    int prefix = -1;                     // tokens:PREFIX; −1 = infer
    int64_t grid_h = 0, grid_w = 0;      // --grid HxW; 0 = infer
    bool empty() const { return kind == LayoutKind::none && grid_h == 0; }
};

/// Parses --layout ("" | nchw | nhwc | tokens | tokens:PREFIX) and --grid ("" | HxW); UsageError
/// naming the flag and the accepted forms otherwise.
LayoutOverride parse_layout_override(const std::string& layout, const std::string& grid);

/// The layout of an output of `shape` (batch first) for an in_h×in_w input. `hint` is the graph's
/// evidence ("nchw:<op>", "last:<op>", "" = none; graph_probe.hpp layout_hint). Never throws: kind
/// none carries the reason in `evidence`.
Layout infer_layout(const std::vector<int64_t>& shape, int64_t in_h, int64_t in_w, const std::string& hint,
                    const LayoutOverride& forced = {});

/// "nchw", "nhwc", "tokens" or "-".
std::string layout_kind_name(LayoutKind k);
/// Short description for listings: "nchw 7x7", "nhwc 56x56", "tokens 1+14x14", "-".
std::string describe(const Layout& l);

}  // namespace camscope
