// The CLI on transformer layouts: `layers` shows each layer's inferred layout and evidence and
// never fails for want of an automatic choice; `cam` reads token / channels-last layers, and
// --layout / --grid force a reading or are refused with a message that says why.
#include <gtest/gtest.h>

#include <string>

#include "camscope/util/npy.hpp"
#include "cli_helpers.hpp"

using namespace camscope;
using namespace camscope::testing;

namespace {

/// The line of `out` that starts with `layer` followed by a space.
std::string line_of(const std::string& out, const std::string& layer) {
    for (const auto& l : split(out, '\n'))
        if (l.rfind(layer + " ", 0) == 0) return l;
    return "";
}

}  // namespace

TEST(CliTransformers, LayersShowLayoutsEvidenceAndTheAutomaticLayer) {
    auto r = run("layers " + kDir + "/tf_vit_scripted.pt --input-size 16x16 --channels 3");
    ASSERT_EQ(r.code, 0) << r.out;
    const auto ln = line_of(r.out, "encoder.layers.encoder_layer_1.ln_1");
    EXPECT_NE(ln.find("1x17x16"), std::string::npos) << r.out;
    EXPECT_NE(ln.find("tokens 1+4x4"), std::string::npos) << ln;
    EXPECT_NE(ln.find("17 = 1 prefix + 4x4 grid (patch 4x4)"), std::string::npos) << ln;
    EXPECT_NE(ln.find("<- automatic CAM layer"), std::string::npos) << ln;
    EXPECT_NE(line_of(r.out, "heads.head").find("no spatial axes"), std::string::npos) << r.out;

    r = run("layers " + kDir + "/tf_swin_traced.pt --input-size 16x16 --channels 3");
    ASSERT_EQ(r.code, 0) << r.out;
    const auto stage = line_of(r.out, "features.1");
    EXPECT_NE(stage.find("8x8x8"), std::string::npos) << r.out;
    EXPECT_NE(stage.find("nhwc 8x8"), std::string::npos) << stage;
    EXPECT_NE(stage.find("channels last: made by aten::"), std::string::npos) << stage;
    EXPECT_EQ(r.out.find("traced in train mode"), std::string::npos) << r.out;  // Swin's p = 0 dropout
}

TEST(CliTransformers, LayersShowWhatForcedFlagsMakeOfEachLayer) {
    auto r = run("layers " + kDir + "/tf_vit_scripted.pt --input-size 16x16 --channels 3 --layout tokens:13");
    ASSERT_EQ(r.code, 0) << r.out;
    const auto forced = r.out.substr(r.out.find("with --layout 'tokens:13'"));
    EXPECT_NE(line_of(forced, "encoder.layers.encoder_layer_1.ln_1").find("tokens 13+2x2"), std::string::npos) << forced;
    EXPECT_NE(line_of(forced, "conv_proj").find("--layout tokens needs an N×T×C output"), std::string::npos) << forced;
    r = run("layers " + kDir + "/tf_vit_scripted.pt --input-size 16x16 --channels 3 --grid 4x4x");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--grid '4x4x': expected HxW"), std::string::npos) << r.out;
}

TEST(CliTransformers, LayersNeverFailForWantOfAnAutomaticLayer) {
    auto r = run("layers " + kDir + "/tf_mlp.pt --input-size 4x4 --channels 3");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(line_of(r.out, "1").find("1x10"), std::string::npos) << r.out;  // the Linear is listed
    EXPECT_NE(r.out.find("no automatic CAM layer: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("none of the 2 layers"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("<- automatic CAM layer"), std::string::npos) << r.out;
}

TEST(CliTransformers, CamOnTokensAndForcedLayouts) {
    const std::string base = "cam -m " + kDir + "/tf_vit_scripted.pt -d " + kDir +
                             "/tiny_cifar10 --input-size 16x16 --norm cifar10 -i 0,1 ";
    auto dir = tmpdir("tf_cam");
    auto r = run(base + "--method ablationcam -o " + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("layer encoder.layers.encoder_layer_1.ln_1"), std::string::npos) << r.out;
    const auto cams = read_npy((dir / "cams.npy").string());
    EXPECT_EQ(cams.shape, (std::vector<std::int64_t>{2, 16, 16}));

    // Forced readings: a legal one changes the grid; an impossible one is refused (exit 2).
    dir = tmpdir("tf_cam_forced");
    r = run(base + "--layout tokens:13 -o " + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(std::filesystem::exists(dir / "cams.npy")) << r.out;
    const auto bad = tmpdir("tf_cam_bad");
    r = run(base + "--layout nchw -o " + bad.string());
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("layer 'encoder.layers.encoder_layer_1.ln_1'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--layout nchw needs a 4-D output"), std::string::npos) << r.out;
    r = run(base + "--layout nwhc -o " + bad.string());
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("expected nchw, nhwc, ncl, tokens or tokens:PREFIX"), std::string::npos) << r.out;
    // Nothing written on a refused request (the folder may have been created, as for other errors).
    if (std::filesystem::exists(bad)) {
        for (const auto& e : std::filesystem::recursive_directory_iterator(bad)) {
            EXPECT_FALSE(e.is_regular_file()) << "left behind: " << e.path();
        }
    }
}
