#pragma once
// Activation layouts of a CAM target layer, torch-free. A CAM method works on N×C×h×w; a layer's
// output may be laid out differently, and camscope reads it in its own layout instead of asking
// the user for pytorch-grad-cam's `reshape_transform`:
//   nchw    N×C×H×W                 convolutions (ResNet, ConvNeXt stage outputs)
//   nhwc    N×H×W×C (channels last) Swin stages, ConvNeXt blocks' inner layers, timm models
//   tokens  N×T×C, T = prefix + h·w  ViT/DeiT: 1 class token (DeiT distilled: 2; registers: more);
//                                    the prefix tokens are dropped, the rest is the h×w grid in
//                                    row-major order (pytorch-grad-cam's vit_reshape_transform);
//           T = h·w + suffix         a model that appends its class token(s) after the grid (the
//                                    graph shows it: token_suffix below): the last ones dropped
//   ncl     N×C×L, L = h·w           channels-first sequences (Conv1d, BatchNorm1d, 1-D pooling):
//                                    read as N×C×h×w row-major, 1×L by default (a sequence along
//                                    the width; pytorch-grad-cam's reshape_transform t.unsqueeze(2))
//
// Inference rule (infer_layout), from the output shape for an H×W input and the graph's evidence
// (layout_hint, graph_probe.cpp: the op that produced the value, through elementwise ops):
//   4-D: the graph decides when it can: a convolution, batch norm or pooling made it → nchw; a
//        linear / layer norm (over the last axis) or a permute to (0, 2, 3, 1) → nhwc. Without
//        evidence the shape decides when exactly one of the two readings has spatial axes
//        proportional to H×W (the axes an integer-ish downsampling of the input would give);
//        when both or neither do, it is an error naming what was seen and the flag to force it.
//   3-D: made by a channels-first op (convolution, batch norm, pooling) → ncl: L is 1×L when W is
//        a multiple of L, L×1 when H is, or an h×w grid with h:w = H:W and whole patches; exactly
//        one of these, else an error naming them and the flags. Otherwise tokens: T − extra = h·w
//        with h:w = H:W, H and W multiples of h and w (a whole patch size), extra < h·w and
//        extra ≤ 32; exactly one such split, else an error. The extra tokens are a prefix, or a
//        suffix where the graph shows the model appending a parameter token after the sequence
//        (an aten::cat along the tokens: token_suffix).
//   anything else: no spatial layout (a CAM is impossible there).
// `--layout nchw|nhwc|ncl|tokens[:PREFIX]` and `--grid HxW` force the reading of the CAM's layer.
// A forced --grid must hold the output's tokens (prefix + h·w = T, the prefix at most 32 and smaller
// than the grid unless tokens:PREFIX says otherwise) and have the input's aspect ratio (tokens), or
// h·w = L (ncl).
#include <cstdint>
#include <string>
#include <vector>

namespace camscope {

enum class LayoutKind { none, nchw, nhwc, tokens, ncl };

struct Layout {
    LayoutKind kind = LayoutKind::none;
    int prefix = 0;          // tokens dropped before the grid (tokens layout only)
    int suffix = 0;          // tokens dropped after the grid (tokens layout only)
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

/// Parses --layout ("" | nchw | nhwc | ncl | tokens | tokens:PREFIX) and --grid ("" | HxW); UsageError
/// naming the flag and the accepted forms otherwise.
LayoutOverride parse_layout_override(const std::string& layout, const std::string& grid);

/// The layout of an output of `shape` (batch first) for an in_h×in_w input. `hint` is the graph's
/// evidence ("nchw:<op>", "last:<op>", "" = none; graph_probe.hpp layout_hint); `token_suffix`,
/// when not empty, the graph's evidence that the model appends its extra tokens after the grid
/// (graph_probe.hpp ListingGraph::token_suffix). Never throws: kind none carries the reason in
/// `evidence`.
Layout infer_layout(const std::vector<int64_t>& shape, int64_t in_h, int64_t in_w, const std::string& hint,
                    const LayoutOverride& forced = {}, const std::string& token_suffix = "");

/// "nchw", "nhwc", "tokens", "ncl" or "-".
std::string layout_kind_name(LayoutKind k);
/// Short description for listings: "nchw 7x7", "nhwc 56x56", "tokens 1+14x14", "tokens 0+4x4+1"
/// (a suffix), "ncl 1x16", "-".
std::string describe(const Layout& l);

}  // namespace camscope
