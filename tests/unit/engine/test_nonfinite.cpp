// NaN and infinite images: refused on every path, every call, naming the image. The optimised
// forwards (prediction, the CAMs' split head once the first call has warmed it) turned a NaN image
// into finite logits and ordinary-looking maps; only the cold first call refused.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "camscope/engine/engine.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/npy.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

using namespace camscope;
using support::error_of;

namespace {

const std::string kDir = CAMSCOPE_FIXTURES_DIR;

/// 1×3×32×32 raw tensors (no normalisation), as the fixture models are fed.
InputSpec spec_3x32() { return support::spec_of(nlohmann::json{1, 3, 32, 32}); }

}  // namespace

TEST(EngineNonFinite, NanAndInfImagesAreRefusedOnEveryCallAndPath) {
    const auto spec = spec_3x32();
    const auto x = read_npy(kDir + "/resnet_inputs.npy").as_float();  // 6 finite images
    const size_t per = 3 * 32 * 32;
    for (const std::string file : {"resnet_traced.pt", "resnet_scripted.pt"}) {
        EngineOptions o;
        o.quiet = true;
        Model m = Model::load(kDir + "/" + file, o);
        for (const std::string method : {"gradcam", "scorecam", "ablationcam"}) {
            CamRequest req;
            req.method = method;
            req.layers = {"layer3"};
            req.max_channels = 2;
            req.targets = {std::vector<int>(3, -1)};
            req.image_ids = {100, 101, 102};
            // Warm: the probe, the split forward and the prediction module have all run.
            ASSERT_NO_THROW(m.run(x.data(), 3, spec, &req)) << method;
            ASSERT_NO_THROW(m.run(x.data(), 3, spec, &req)) << method;
            ASSERT_NO_THROW(m.run(x.data(), 3, spec));
            for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
                SCOPED_TRACE(file + " / " + method + (std::isnan(bad) ? " / NaN" : " / +inf"));
                auto y = x;
                for (size_t j = 0; j < per; j += 7) y[1 * per + j] = bad;  // image 101 (row 1), not the first row
                std::string msg = error_of([&] { m.run(y.data(), 3, spec, &req); });
                EXPECT_NE(msg.find("image 101 "), std::string::npos) << msg;
                EXPECT_NE(msg.find("its logits are not finite"), std::string::npos) << msg;
                EXPECT_NE(msg.find(std::isnan(bad) ? "NaN" : "infinite"), std::string::npos) << msg;
                msg = error_of([&] { m.run(y.data(), 3, spec); });  // prediction: rows have no dataset index
                EXPECT_NE(msg.find("batch row 1 "), std::string::npos) << msg;
                EXPECT_NE(msg.find("its logits are not finite"), std::string::npos) << msg;
                // And the model still works on finite images afterwards.
                EXPECT_NO_THROW(m.run(x.data(), 3, spec, &req));
            }
        }
    }
}

// A model whose logits are NaN for finite images: the logits check names the image, on the
// prediction path and on the CAM paths (cold probe and warm split forward alike).
TEST(EngineNonFinite, NanLogitsNameTheImage) {
    EngineOptions o;
    o.quiet = true;
    Model m = Model::load(kDir + "/nan_model.pt", o);
    const auto layers = m.layers(spec_3x32());
    ASSERT_FALSE(layers.empty());
    const auto x = read_npy(kDir + "/resnet_inputs.npy").as_float();
    std::string msg = error_of([&] { m.run(x.data(), 2, spec_3x32()); });
    EXPECT_NE(msg.find("the logits of batch row 0 are not finite"), std::string::npos) << msg;
    CamRequest req;
    req.layers = {"conv"};
    req.targets = {{-1, -1}};
    req.image_ids = {7, 8};
    for (int call = 0; call < 2; ++call) {
        msg = error_of([&] { m.run(x.data(), 2, spec_3x32(), &req); });
        EXPECT_NE(msg.find("the logits of image 7 are not finite"), std::string::npos) << msg;
    }
}
