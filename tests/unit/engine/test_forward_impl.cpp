// A scripted model whose forward only calls a helper method (torchvision's ResNet:
// `return self._forward_impl(x)`): the layer probe must inline that method call like a submodule's
// forward. tests/fixtures/make_extra_fixtures.py saved the resnet fixture's weights in such a class
// (resnet_forward_impl_scripted.pt); its CAMs must equal the Python reference of the resnet cases
// (the low-resolution maps, cam_*.npy of manifest.json).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "camscope/engine/engine.hpp"
#include "camscope/util/npy.hpp"

using namespace camscope;

namespace {

const std::string kDir = CAMSCOPE_FIXTURES_DIR;

nlohmann::json read_json(const std::string& name) {
    std::ifstream f(kDir + "/" + name);
    return nlohmann::json::parse(f);
}

}  // namespace

TEST(EngineForwardImpl, LayersAndCamsMatchThePythonReference) {
    const auto manifest = read_json("manifest.json");
    const auto fi = read_json("extra_manifest.json")["forward_impl"];
    const auto& model = manifest["models"][fi["model"].get<std::string>()];
    EngineOptions opt;
    if (const char* d = std::getenv("CAMSCOPE_TEST_DEVICE"); d && *d) opt.device = d;  // as in test_engine.cpp
    opt.quiet = true;
    Model m = Model::load(kDir + "/" + fi["model_file"].get<std::string>(), opt);
    InputSpec spec;
    spec.channels = model["input_shape"][1];
    spec.height = model["input_shape"][2];
    spec.width = model["input_shape"][3];
    spec.norm.mean.assign(spec.channels, 0.f);
    spec.norm.std.assign(spec.channels, 1.f);

    EXPECT_EQ(m.resolve_layer("", spec), fi["auto_layer"].get<std::string>());
    bool listed = false;
    for (const auto& l : m.layers(spec))
        listed = listed || (l.path == "layer2.1.conv2" && l.shape == std::vector<std::int64_t>{1, 16, 16, 16});
    EXPECT_TRUE(listed);

    const int n = model["input_shape"][0];
    const auto x = read_npy(kDir + "/" + model["input"].get<std::string>()).as_float();
    int checked = 0;
    for (const auto& c : manifest["cases"]) {
        if (c["model"] != fi["model"] || c["layers"].size() != 1 || !c["expected"].contains("cam")) continue;
        SCOPED_TRACE(c["id"].get<std::string>());
        CamRequest req;
        req.method = c["method"];
        req.layers = c["layers"].get<std::vector<std::string>>();
        req.targets = {c["slot"] == "pred" ? std::vector<int>(n, -1) : c["targets"].get<std::vector<int>>()};
        BatchResult r;
        try {
            r = m.run(x.data(), n, spec, &req);
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
            continue;
        }
        // A map at the input's own resolution is final (both scalings): compare it with `up`.
        const bool final_map = r.fh == spec.height && r.fw == spec.width;
        const auto expected =
            read_npy(kDir + "/" + c["expected"][final_map ? "up" : "cam"].get<std::string>()).as_float();
        ASSERT_EQ(r.cams.size(), expected.size());
        double tol = 1e-4, diff = 0;
        if (c.contains("cancellation"))
            for (const auto& f : c["cancellation"])
                if (f.is_number()) tol = std::max(tol, 1e-6 * f.get<double>());
        for (size_t i = 0; i < expected.size(); ++i) diff = std::max(diff, double(std::abs(r.cams[i] - expected[i])));
        EXPECT_LT(diff, tol);
        ++checked;
    }
    EXPECT_GE(checked, 10);  // every method at layer3, the other single layers with Grad-CAM
}
