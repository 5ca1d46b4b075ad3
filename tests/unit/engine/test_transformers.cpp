// Activation layouts (engine/layout.hpp) and CAMs of transformers: the inference rule on shapes
// of real models, and every CAM method on tiny torchvision VisionTransformer / SwinTransformer
// models (traced and scripted) against pytorch-grad-cam's formulas with the reshape transforms of
// its documentation (tests/fixtures/make_transformer_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

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

const nlohmann::json& manifest() { return camscope::testing::fixture_manifest("transformer_manifest.json"); }

Model load(const std::string& file, const std::string& layout = "", const std::string& grid = "") {
    EngineOptions o;
    o.quiet = true;
    o.layout = layout;
    o.grid = grid;
    return Model::load(kDir + "/" + file, o);
}

/// Largest over images of each image's distance to the reference map, or to the reference of the
/// other sign where the fixture has one (EigenCAM: pytorch-grad-cam's projection has no sign of its
/// own, so either map is the library's answer). Maps n×h×w, flattened.
double max_diff_up_to_sign(const std::vector<float>& got, const nlohmann::json& expected, int n) {
    const auto ref = read_npy(kDir + "/" + expected["cam"].get<std::string>()).as_float();
    if (!expected.contains("cam_other_sign")) return max_abs_diff(got, ref);
    const auto other = read_npy(kDir + "/" + expected["cam_other_sign"].get<std::string>()).as_float();
    EXPECT_EQ(got.size(), ref.size());
    EXPECT_EQ(got.size(), other.size());
    const size_t per = ref.size() / n;
    double worst = 0;
    for (int i = 0; i < n; ++i) {
        double a = 0, b = 0;
        for (size_t j = i * per; j < (i + 1) * per && j < got.size(); ++j) {
            a = std::max(a, std::abs(double(got[j]) - ref[j]));
            b = std::max(b, std::abs(double(got[j]) - other[j]));
        }
        worst = std::max(worst, std::min(a, b));
    }
    return worst;
}

Layout infer(std::vector<int64_t> shape, int64_t h, int64_t w, const std::string& hint = "",
             const std::string& layout = "", const std::string& grid = "") {
    return infer_layout(shape, h, w, hint, parse_layout_override(layout, grid));
}

}  // namespace

TEST(Layout, TokensOfRealModels) {
    auto l = infer({1, 197, 768}, 224, 224);  // ViT-B/16: class token + 14x14
    EXPECT_EQ(describe(l), "tokens 1+14x14") << l.evidence;
    EXPECT_EQ(l.channels, 768);
    EXPECT_NE(l.evidence.find("patch 16x16"), std::string::npos) << l.evidence;
    EXPECT_EQ(describe(infer({1, 198, 768}, 224, 224)), "tokens 2+14x14");  // DeiT distilled
    EXPECT_EQ(describe(infer({1, 261, 384}, 224, 224)), "tokens 5+16x16");  // class + 4 registers, patch 14
    EXPECT_EQ(describe(infer({1, 49, 768}, 224, 224)), "tokens 0+7x7");      // timm Swin N x L x C
    EXPECT_EQ(describe(infer({1, 141, 192}, 224, 160)), "tokens 1+14x10");  // non-square input
    EXPECT_EQ(describe(infer({1, 17, 16}, 16, 16)), "tokens 1+4x4");        // 13 + 2x2 refused: prefix >= grid
    // Forced: the prefix, or the grid (prefix = the rest).
    EXPECT_EQ(describe(infer({1, 17, 16}, 16, 16, "", "tokens:13")), "tokens 13+2x2");
    EXPECT_EQ(describe(infer({1, 197, 768}, 224, 224, "", "", "14x14")), "tokens 1+14x14");
    EXPECT_EQ(describe(infer({1, 197, 768}, 224, 224, "", "tokens:0", "14x14")), "-");
    // Impossible: an error reason naming what was seen and the flags.
    l = infer({1, 768, 196}, 224, 224);
    EXPECT_EQ(l.kind, LayoutKind::none);
    EXPECT_NE(l.evidence.find("[1x768x196]"), std::string::npos) << l.evidence;
    EXPECT_NE(l.evidence.find("--layout"), std::string::npos) << l.evidence;
    EXPECT_EQ(infer({1, 10}, 224, 224).kind, LayoutKind::none);
    EXPECT_EQ(infer({1, 197, 768}, 224, 224, "", "nchw").kind, LayoutKind::none);
}

TEST(Layout, FourDimensionalReadings) {
    // The shape decides when only one reading is proportional to the input.
    auto l = infer({1, 56, 56, 96}, 224, 224);  // Swin-T stage 1, channels last
    EXPECT_EQ(describe(l), "nhwc 56x56") << l.evidence;
    EXPECT_EQ(l.channels, 96);
    EXPECT_EQ(describe(infer({1, 768, 7, 7}, 224, 224)), "nchw 7x7");
    EXPECT_EQ(describe(infer({1, 512, 1, 1}, 224, 224)), "nchw 1x1");
    EXPECT_EQ(describe(infer({1, 64, 57, 57}, 225, 225)), "nchw 57x57");  // rounding of odd sizes
    // A cube is ambiguous by shape: the graph decides, and without evidence it is an error.
    l = infer({1, 16, 16, 16}, 32, 32);
    EXPECT_EQ(l.kind, LayoutKind::none);
    EXPECT_NE(l.evidence.find("both"), std::string::npos) << l.evidence;
    EXPECT_NE(l.evidence.find("--layout nchw|nhwc"), std::string::npos) << l.evidence;
    EXPECT_EQ(describe(infer({1, 16, 16, 16}, 32, 32, "nchw:aten::conv2d")), "nchw 16x16");
    l = infer({1, 8, 8, 8}, 16, 16, "last:aten::layer_norm");
    EXPECT_EQ(describe(l), "nhwc 8x8");
    EXPECT_NE(l.evidence.find("aten::layer_norm"), std::string::npos);
    EXPECT_EQ(describe(infer({1, 16, 16, 16}, 32, 32, "", "nhwc")), "nhwc 16x16");
    EXPECT_EQ(describe(infer({1, 56, 56, 96}, 224, 224, "", "nchw")), "nchw 56x96");  // forced is forced
    EXPECT_EQ(infer({1, 56, 56, 96}, 224, 224, "", "tokens").kind, LayoutKind::none);
}

TEST(Layout, FlagsAreChecked) {
    for (const auto& bad : {"nwhc", "tokens:", "tokens:-1", "tokens:x", "NCHW"})
        EXPECT_THROW(parse_layout_override(bad, ""), UsageError) << bad;
    for (const auto& bad : {"14", "14x", "x14", "0x4", "4x-1", "4x4x4"})
        EXPECT_THROW(parse_layout_override("", bad), UsageError) << bad;
    try {
        parse_layout_override("chw", "");
        FAIL();
    } catch (const UsageError& e) {
        EXPECT_NE(std::string(e.what()).find("nchw, nhwc, ncl, tokens or tokens:PREFIX"), std::string::npos) << e.what();
    }
    const auto o = parse_layout_override("tokens:2", "7x9");
    EXPECT_EQ(o.kind, LayoutKind::tokens);
    EXPECT_EQ(o.prefix, 2);
    EXPECT_EQ(o.grid_h, 7);
    EXPECT_EQ(o.grid_w, 9);
}

TEST(EngineTransformers, ListingShowsLayoutsAndTheAutomaticLayer) {
    for (const auto& [name, model] : manifest()["models"].items()) {
        for (const auto& file : model["files"]) {
            SCOPED_TRACE(file.get<std::string>());
            Model m = load(file);
            const auto spec = spec_of(model["input_shape"]);
            const auto layers = m.layers(spec);
            for (const auto& [layer, want] : model["layouts"].items()) {
                auto it = std::find_if(layers.begin(), layers.end(), [&](const LayerInfo& l) { return l.path == layer; });
                ASSERT_NE(it, layers.end()) << layer;
                EXPECT_EQ(layout_kind_name(it->layout.kind), want["layout"].get<std::string>()) << layer << ": " << it->layout.evidence;
                EXPECT_EQ(it->layout.prefix, want["prefix"].get<int>()) << layer;
                EXPECT_EQ(it->layout.h, want["grid"][0].get<int>()) << layer;
                EXPECT_EQ(it->layout.w, want["grid"][1].get<int>()) << layer;
            }
            if (name == "swin") {
                // features.1 is N x 8 x 8 x 8: only the graph (the stage's layer norms / linears
                // through the residual adds) can say the channels are last.
                auto it = std::find_if(layers.begin(), layers.end(), [](const LayerInfo& l) { return l.path == "features.1"; });
                ASSERT_NE(it, layers.end());
                EXPECT_EQ(it->shape, (std::vector<int64_t>{1, 8, 8, 8}));
                EXPECT_NE(it->layout.evidence.find("made by aten::"), std::string::npos) << it->layout.evidence;
                // The automatic layer: the last spatial output (the final permute back to channels first).
                EXPECT_EQ(m.resolve_layer("", spec), "permute");
            } else {
                EXPECT_EQ(m.resolve_layer("", spec), model["auto_layer"].get<std::string>());
            }
        }
    }
}

TEST(EngineTransformers, ForcedLayoutsAreAppliedAndImpossibleOnesRefused) {
    const auto& vit = manifest()["models"]["vit"];
    const auto spec = spec_of(vit["input_shape"]);
    const std::string ln = "encoder.layers.encoder_layer_1.ln_1";
    {
        Model m = load(vit["files"][0], "nchw");
        try {
            m.resolve_layer(ln, spec);
            FAIL() << "no error";
        } catch (const UsageError& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find("'" + ln + "'"), std::string::npos) << msg;
            EXPECT_NE(msg.find("--layout nchw needs a 4-D output"), std::string::npos) << msg;
            EXPECT_NE(msg.find("[1x17x16]"), std::string::npos) << msg;
        }
    }
    {
        Model m = load(vit["files"][1], "tokens:13");  // a legal but different reading: 13 prefix + 2x2
        EXPECT_EQ(describe(m.layer_layout(ln, spec)), "tokens 13+2x2");
        const auto x = read_npy(kDir + "/" + vit["input"].get<std::string>()).as_float();
        CamRequest req;
        req.layers = {ln};
        req.targets = {std::vector<int>(4, -1)};
        auto r = m.run(x.data(), 4, spec, &req);
        EXPECT_EQ(r.fh, 2);
        EXPECT_EQ(r.fw, 2);
    }
    {
        Model m = load(vit["files"][0], "", "5x5");
        EXPECT_THROW(m.resolve_layer(ln, spec), UsageError);  // 17 tokens cannot hold a 5x5 grid
    }
}

// Every method, both target slots, traced and scripted, the probe path and then the split forward,
// against pytorch-grad-cam's formulas with its documented reshape transforms.
TEST(EngineTransformers, AllMethodsMatchTheLibraryWithReshapeTransforms) {
    int checked = 0;
    std::map<std::string, int> per_method;
    for (const auto& c : manifest()["cases"]) {
        const auto x = read_npy(kDir + "/" + c["input"].get<std::string>()).as_float();
        const InputSpec spec = spec_of(c["input_shape"]);
        const int n = c["input_shape"][0];
        for (const auto& file : c["model_files"]) {
            Model m = load(file);
            for (int pass = 0; pass < 2; ++pass) {
                SCOPED_TRACE(c["id"].get<std::string>() + " / " + file.get<std::string>() + (pass ? " / split" : " / probe"));
                CamRequest req;
                req.method = c["method"];
                req.layers = c["layers"].get<std::vector<std::string>>();
                req.perturb_batch = 5;
                req.targets = {c["slot"] == "pred" ? std::vector<int>(n, -1) : c["targets"].get<std::vector<int>>(),
                               c["targets"].get<std::vector<int>>()};
                BatchResult r;
                try {
                    r = m.run(x.data(), n, spec, &req);
                } catch (const std::exception& e) {
                    ADD_FAILURE() << e.what();
                    continue;
                }
                ASSERT_EQ(r.slots, 2);
                const size_t per = static_cast<size_t>(n) * r.fh * r.fw;
                std::vector<float> s0(r.cams.begin(), r.cams.begin() + per), s1(r.cams.begin() + per, r.cams.end());
                EXPECT_LT(max_abs_diff(s0, s1), 1e-6);
                double tol = 1e-4;
                if (c.contains("cancellation"))
                    for (const auto& f : c["cancellation"])
                        if (f.is_number()) tol = std::max(tol, 1e-6 * f.get<double>());
                const auto e = read_npy(kDir + "/" + c["expected"]["cam"].get<std::string>());
                ASSERT_EQ(e.shape[1], r.fh);
                ASSERT_EQ(e.shape[2], r.fw);
                EXPECT_LT(max_diff_up_to_sign(s0, c["expected"], n), tol);
                if (c["expected"].contains("up")) {
                    const auto up = cams_at_input_size(s0.data(), n, r.fh, r.fw, spec.height, spec.width);
                    EXPECT_LT(max_abs_diff(up, read_npy(kDir + "/" + c["expected"]["up"].get<std::string>()).as_float()), tol);
                }
                ++checked;
                ++per_method[c["method"]];
            }
        }
    }
    EXPECT_GE(checked, 150);
    EXPECT_EQ(per_method.size(), 9u);  // every registered method
    EXPECT_EQ(per_method.size(), cam_methods().size());
}

// A model saved by a newer PyTorch (archive version record 99): a clear error naming the LibTorch
// camscope was built with and the fix, not a crash or "not a TorchScript model".
TEST(EngineModel, TooNewFileNamesTheFix) {
    const std::string file = kDir + "/" + manifest()["too_new"]["file"].get<std::string>();
    try {
        EngineOptions o;
        o.quiet = true;
        Model::load(file, o);
        FAIL() << "loaded";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(file), std::string::npos) << msg;
        EXPECT_NE(msg.find("newer PyTorch"), std::string::npos) << msg;
        EXPECT_NE(msg.find("version 99"), std::string::npos) << msg;
        EXPECT_NE(msg.find("CMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')"),
                  std::string::npos)
            << msg;
        EXPECT_EQ(msg.find("not a TorchScript model"), std::string::npos) << msg;
    }
}

// Why the automatic ViT layer is the last block's ln_1 and not the encoder's output: after the last
// attention only the class token reaches the head, so the grid tokens' gradients are exactly zero
// there and every Grad-CAM is blank; at ln_1 the attention still mixes the grid into the class
// token. Measured on the tiny ViT (both slots' targets, raw maps).
TEST(EngineTransformers, GradCamAfterTheLastAttentionIsBlank) {
    const auto& vit = manifest()["models"]["vit"];
    const auto spec = spec_of(vit["input_shape"]);
    const auto x = read_npy(kDir + "/" + vit["input"].get<std::string>()).as_float();
    Model m = load(vit["files"][1]);
    auto raw_peak = [&](const std::string& layer) {
        CamRequest req;
        req.layers = {layer};
        req.raw = true;
        req.targets = {std::vector<int>(4, -1), {0, 1, 2, 3}};
        double peak = 0;
        for (float v : m.run(x.data(), 4, spec, &req).cams) peak = std::max(peak, double(std::abs(v)));
        return peak;
    };
    EXPECT_EQ(raw_peak("encoder.layers.encoder_layer_1"), 0.0);
    EXPECT_GT(raw_peak("encoder.layers.encoder_layer_1.ln_1"), 1e-3);
}

// EigenCAM's orientation is camscope's own (engine/cam/registry.cpp, eigen_projection), not the
// SVD's: the same on every CPU. At the ViT's ln_1 the channel sum of the LayerNorm output is
// constant, so the rule's second part decides (largest entry positive): the first part alone
// followed rounding noise and flipped these maps on an AVX-512 CPU. At Swin's features.1 the plain
// map decides. The fixture asserts that each image is far from the rule's ties.
TEST(EngineTransformers, EigenCamOrientationIsTheDocumentedRule) {
    int largest = 0, agreement = 0;
    for (const auto& c : manifest()["cases"]) {
        if (c["method"] != "eigencam") continue;
        const auto x = read_npy(kDir + "/" + c["input"].get<std::string>()).as_float();
        const InputSpec spec = spec_of(c["input_shape"]);
        const int n = c["input_shape"][0];
        const auto ref = read_npy(kDir + "/" + c["expected"]["cam"].get<std::string>()).as_float();
        const auto& orient = c["eigen_orientation"];
        ASSERT_EQ(static_cast<int>(orient.size()), n);
        for (const auto& file : c["model_files"]) {
            Model m = load(file);
            for (int pass = 0; pass < 2; ++pass) {
                SCOPED_TRACE(c["id"].get<std::string>() + " / " + file.get<std::string>() + (pass ? " / split" : " / probe"));
                CamRequest req;
                req.method = "eigencam";
                req.layers = c["layers"].get<std::vector<std::string>>();
                req.targets = {std::vector<int>(n, -1)};
                req.also_raw = true;
                const auto r = m.run(x.data(), n, spec, &req);
                EXPECT_LT(max_abs_diff(r.cams, ref), 1e-4);  // camscope's sign, not either
                const size_t per = static_cast<size_t>(r.fh) * r.fw;
                for (int i = 0; i < n; ++i) {
                    if (orient[i]["rule"] != "largest") {
                        ++agreement;
                        continue;
                    }
                    ++largest;
                    float top = 0;
                    for (size_t j = i * per; j < (i + 1) * per; ++j)
                        if (std::abs(r.raw_cams[j]) > std::abs(top)) top = r.raw_cams[j];
                    EXPECT_GT(top, 0.f) << "image " << i << ": the entry of largest magnitude of the raw map";
                }
            }
        }
    }
    EXPECT_GT(largest, 0);
    EXPECT_GT(agreement, 0);
}
