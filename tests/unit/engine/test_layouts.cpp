// Layouts the shape alone cannot tell (tests/fixtures/make_layout_fixtures.py): a Conv1d's N×C×L
// output (channels first: ncl), a ViT that appends its class token after the grid (a suffix), a ViT
// whose tokens split two ways (the automatic layer falls back, and says so), and the checks on a
// forced --grid.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "camscope/engine/engine.hpp"
#include "camscope/engine/layout.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/npy.hpp"
#include "fixture_manifest.hpp"

using namespace camscope;

using camscope::testing::max_abs_diff;
using camscope::testing::spec_of;

namespace {

const std::string kDir = CAMSCOPE_FIXTURES_DIR;

const nlohmann::json& manifest() { return camscope::testing::fixture_manifest("layout_manifest.json"); }

Model load(const std::string& file, const std::string& layout = "", const std::string& grid = "", bool quiet = true) {
    EngineOptions o;
    o.quiet = quiet;
    o.layout = layout;
    o.grid = grid;
    return Model::load(kDir + "/" + file, o);
}

Layout infer(std::vector<int64_t> shape, int64_t h, int64_t w, const std::string& hint = "",
             const std::string& layout = "", const std::string& grid = "", const std::string& suffix = "") {
    return infer_layout(shape, h, w, hint, parse_layout_override(layout, grid), suffix);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(Layout, ChannelsFirstSequences) {
    // The graph's evidence (a convolution made it) reads N×C×L channels first; without it, tokens.
    auto l = infer({1, 8, 16}, 12, 16, "nchw:aten::conv1d");
    EXPECT_EQ(describe(l), "ncl 1x16") << l.evidence;
    EXPECT_EQ(l.channels, 8);
    EXPECT_TRUE(has(l.evidence, "made by aten::conv1d")) << l.evidence;
    EXPECT_EQ(describe(infer({1, 8, 6}, 12, 16, "nchw:aten::_convolution")), "ncl 6x1");     // along the height
    EXPECT_EQ(describe(infer({1, 64, 49}, 224, 224, "nchw:aten::conv1d")), "ncl 7x7");      // a flattened grid
    EXPECT_EQ(describe(infer({1, 8, 8}, 12, 16, "nchw:aten::max_pool1d")), "ncl 1x8");      // stride 2
    // A square input: 1xL, Lx1 and 4x4 all fit. Refused with the alternatives and the flags.
    l = infer({1, 8, 16}, 16, 16, "nchw:aten::conv1d");
    EXPECT_EQ(l.kind, LayoutKind::none);
    EXPECT_TRUE(has(l.evidence, "fits several grids (1x16, 16x1, 4x4)")) << l.evidence;
    EXPECT_TRUE(has(l.evidence, "--layout ncl --grid HxW")) << l.evidence;
    EXPECT_EQ(infer({1, 8, 7}, 12, 16, "nchw:aten::conv1d").kind, LayoutKind::none);  // 7 fits nothing
    // Forced: ncl alone is 1×L; --grid picks another reading and must hold L.
    EXPECT_EQ(describe(infer({1, 8, 16}, 16, 16, "", "ncl")), "ncl 1x16");
    EXPECT_EQ(describe(infer({1, 8, 16}, 16, 16, "nchw:aten::conv1d", "", "16x1")), "ncl 16x1");
    EXPECT_EQ(describe(infer({1, 8, 16}, 16, 16, "", "ncl", "4x4")), "ncl 4x4");
    l = infer({1, 8, 16}, 16, 16, "", "ncl", "4x5");
    EXPECT_TRUE(has(l.evidence, "h·w must be 16")) << l.evidence;
    EXPECT_EQ(infer({1, 8, 4, 4}, 16, 16, "", "ncl").kind, LayoutKind::none);
    // --layout nchw on N×C×L names the layout that reads it.
    l = infer({1, 8, 16}, 12, 16, "nchw:aten::conv1d", "nchw");
    EXPECT_TRUE(has(l.evidence, "--layout nchw needs a 4-D output")) << l.evidence;
    EXPECT_TRUE(has(l.evidence, "--layout ncl")) << l.evidence;
    EXPECT_EQ(parse_layout_override("ncl", "").kind, LayoutKind::ncl);
}

TEST(Layout, ForcedGridIsChecked) {
    // Token count and aspect ratio: 17 tokens on a 16x16 input are 1 + 4x4; 1 + 2x8 has the count
    // but not the input's shape, and 13 + 2x2 leaves more extra tokens than grid ones.
    EXPECT_EQ(describe(infer({1, 17, 16}, 16, 16, "", "", "4x4")), "tokens 1+4x4");
    auto l = infer({1, 17, 16}, 16, 16, "", "", "2x8");
    EXPECT_EQ(l.kind, LayoutKind::none);
    EXPECT_TRUE(has(l.evidence, "--grid 2x8 does not have the aspect ratio of the input 16x16")) << l.evidence;
    l = infer({1, 17, 16}, 16, 16, "", "", "2x2");
    EXPECT_EQ(l.kind, LayoutKind::none);
    EXPECT_TRUE(has(l.evidence, "leaves 13 of the 17 tokens")) << l.evidence;
    EXPECT_TRUE(has(l.evidence, "--layout tokens:PREFIX")) << l.evidence;
    EXPECT_EQ(describe(infer({1, 17, 16}, 16, 16, "", "tokens:13", "2x2")), "tokens 13+2x2");  // both forced
    EXPECT_EQ(describe(infer({1, 141, 192}, 224, 160, "", "", "14x10")), "tokens 1+14x10");
    EXPECT_EQ(infer({1, 141, 192}, 224, 160, "", "", "10x14").kind, LayoutKind::none);  // transposed
}

TEST(Layout, SuffixTokens) {
    const std::string why = "aten::cat puts the parameter 'class_token' after the computed tokens";
    auto l = infer({1, 17, 16}, 16, 16, "last:aten::layer_norm", "", "", why);
    EXPECT_EQ(describe(l), "tokens 0+4x4+1") << l.evidence;
    EXPECT_EQ(l.prefix, 0);
    EXPECT_EQ(l.suffix, 1);
    EXPECT_TRUE(has(l.evidence, why)) << l.evidence;
    EXPECT_EQ(describe(infer({1, 17, 16}, 16, 16, "", "", "4x4", why)), "tokens 0+4x4+1");
    EXPECT_EQ(describe(infer({1, 17, 16}, 16, 16, "", "tokens:1", "", why)), "tokens 1+4x4");  // forced is forced
}

// A Conv1d along the image rows' width: read channels first from the graph (not as 8 tokens of 16
// channels), at a named layer and automatically. Its maps: CasesMatchThePytorchGradCamCodePath.
TEST(EngineLayouts, Conv1dIsReadChannelsFirst) {
    const auto& model = manifest()["models"]["conv1d"];
    const auto spec = spec_of(model["input_shape"]);
    for (const auto& file : model["files"]) {
        SCOPED_TRACE(file.get<std::string>());
        Model m = load(file);
        const auto layers = m.layers(spec);
        for (const auto& [layer, want] : model["layouts"].items()) {
            auto it = std::find_if(layers.begin(), layers.end(), [&](const LayerInfo& l) { return l.path == layer; });
            ASSERT_NE(it, layers.end()) << layer;
            EXPECT_EQ(it->shape, (std::vector<int64_t>{1, 8, 16})) << layer;
            EXPECT_EQ(layout_kind_name(it->layout.kind), want["layout"].get<std::string>()) << it->layout.evidence;
            EXPECT_EQ(it->layout.h, want["grid"][0].get<int>()) << layer;
            EXPECT_EQ(it->layout.w, want["grid"][1].get<int>()) << layer;
            EXPECT_TRUE(has(it->layout.evidence, "channels first: made by aten::")) << it->layout.evidence;
        }
        EXPECT_EQ(m.resolve_layer("", spec), model["auto_layer"].get<std::string>());
    }
}

// Every reference case (the Conv1d's conv2, the suffix ViT's ln_1), both model files, the probe and
// then the split forward: the maps at the layer and at the input size.
TEST(EngineLayouts, CasesMatchThePytorchGradCamCodePath) {
    int checked = 0;
    for (const auto& c : manifest()["cases"]) {
        const auto x = read_npy(kDir + "/" + c["input"].get<std::string>()).as_float();
        const InputSpec spec2 = spec_of(c["input_shape"]);
        const int n = c["input_shape"][0];
        for (const auto& file : c["model_files"]) {
            Model m = load(file);
            for (int pass = 0; pass < 2; ++pass) {  // the probe, then the split forward
                SCOPED_TRACE(c["id"].get<std::string>() + " / " + file.get<std::string>() + (pass ? " / split" : " / probe"));
                CamRequest req;
                req.method = c["method"];
                req.layers = c["layers"].get<std::vector<std::string>>();
                req.targets = {c["slot"] == "pred" ? std::vector<int>(n, -1) : c["targets"].get<std::vector<int>>()};
                const auto r = m.run(x.data(), n, spec2, &req);
                ASSERT_EQ(r.fh, c["cam_shape"][1].get<int>());
                ASSERT_EQ(r.fw, c["cam_shape"][2].get<int>());
                double tol = 1e-4;
                for (const auto& f : c["cancellation"])
                    if (f.is_number()) tol = std::max(tol, 1e-6 * f.get<double>());
                EXPECT_LT(max_abs_diff(r.cams, read_npy(kDir + "/" + c["expected"]["cam"].get<std::string>()).as_float()), tol);
                const auto up = cams_at_input_size(r.cams.data(), n, r.fh, r.fw, spec2.height, spec2.width);
                EXPECT_LT(max_abs_diff(up, read_npy(kDir + "/" + c["expected"]["up"].get<std::string>()).as_float()), tol);
                ++checked;
            }
        }
    }
    EXPECT_EQ(checked, 8 * 2 * 2);
}

// A ViT that appends its class token: the graph shows the aten::cat, the tokens are read as 4x4 + 1
// suffix (not 1 prefix + 4x4, the first grid token dropped; its maps differ from the right ones by
// up to 0.89). Grad-CAM against the reference with the class token taken from the end:
// CasesMatchThePytorchGradCamCodePath.
TEST(EngineLayouts, SuffixClassTokenIsDetected) {
    const auto& model = manifest()["models"]["suffix"];
    const auto spec = spec_of(model["input_shape"]);
    const std::string layer = model["auto_layer"];
    for (const auto& file : model["files"]) {
        SCOPED_TRACE(file.get<std::string>());
        Model m = load(file);
        EXPECT_EQ(m.resolve_layer("", spec), layer);
        const auto l = m.layer_layout(layer, spec);
        EXPECT_EQ(describe(l), "tokens 0+4x4+1") << l.evidence;
        EXPECT_TRUE(has(l.evidence, "'class_token' after the computed tokens")) << l.evidence;
    }
}

// Tokens with two readings (17 = 1 + 4x4 = 8 + 3x3 on 12x12): the automatic layer cannot be the
// token LayerNorm; the fallback (the patch embedding) is named on stderr with the reason.
TEST(EngineLayouts, AmbiguousTokensFallbackIsNamed) {
    const auto& model = manifest()["models"]["vit12"];
    const auto spec = spec_of(model["input_shape"]);
    Model m = load(model["files"][0], "", "", /*quiet=*/false);
    ::testing::internal::CaptureStderr();
    const auto pick = m.resolve_layer("", spec);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(pick, model["fallback"].get<std::string>());
    EXPECT_TRUE(has(err, "falls back to '" + pick + "'")) << err;
    const std::string token_layer = model["token_layer"].get<std::string>();
    EXPECT_TRUE(has(err, token_layer + "' has no reading")) << err;  // (not "'" + ...: GCC 12 -Wrestrict)
    EXPECT_TRUE(has(err, "several splits fit (1 + 4x4, 8 + 3x3)")) << err;
    EXPECT_TRUE(has(err, "--layout tokens:PREFIX or --grid HxW")) << err;
    // Quiet: no note; a forced grid gives the token layer its reading.
    Model q = load(model["files"][0], "", "4x4");
    EXPECT_EQ(describe(q.layer_layout(model["token_layer"], spec)), "tokens 1+4x4");
}
