// Which element of a tuple / dict model output holds the logits (EngineOptions::logits, --logits):
// the automatic rule (a tensor as it is; the one floating N×K element; ambiguity refused, naming
// every element and its shape), the selector by index and by key, and the selector's errors. The
// models and references come from tests/fixtures/make_output_fixtures.py (torch, eager module).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "camscope/engine/engine.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/npy.hpp"
#include "fixture_manifest.hpp"
#include "support/errors.hpp"

using namespace camscope;
using camscope::testing::fixture_manifest;
using camscope::testing::kFixtures;
using support::error_of;

namespace {

const nlohmann::json& manifest() { return fixture_manifest("out_manifest.json"); }

/// 1×3×32×32 raw tensors (no normalisation), as the fixture models are fed.
InputSpec spec_3x32() { return support::spec_of(nlohmann::json{1, 3, 32, 32}); }

Model load(const std::string& file, const std::string& logits = "") {
    EngineOptions o;
    o.quiet = true;
    o.logits = logits;
    return Model::load(std::string(kFixtures) + "/" + file, o);
}

std::vector<float> npy(const std::string& key) { return read_npy(std::string(kFixtures) + "/" + manifest()[key].get<std::string>()).as_float(); }

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    float d = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
    return d;
}

bool has(const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; }

CamRequest request(const std::string& method, int n) {
    CamRequest r;
    r.method = method;
    r.layers = {manifest()["layer"].get<std::string>()};
    r.targets = {std::vector<int>(n, -1), std::vector<int>(n, 3)};
    r.max_channels = 0;
    return r;
}

}  // namespace

// A tensor output and a tuple with one N×K element need no selector; the logits are torch's.
TEST(OutputSelector, AutomaticRuleUsesTheOnlyCandidate) {
    const auto x = npy("inputs");
    const auto want = npy("logits");
    for (const std::string file : {"out_plain.pt", "out_logits_map.pt"}) {
        SCOPED_TRACE(file);
        ASSERT_EQ(manifest()["models"][file]["automatic"], "ok");
        Model m = load(file);
        const auto r = m.run(x.data(), 2, spec_3x32());
        EXPECT_EQ(r.num_classes, 10);
        EXPECT_LT(max_diff(r.logits, want), 1e-5f);
        EXPECT_EQ(m.num_classes(spec_3x32()), 10);
    }
}

// Several floating N×K elements: refused on every path (prediction, CAM), naming each element with
// its shape and the choices.
TEST(OutputSelector, AmbiguousOutputsAreRefusedNamingEveryElement) {
    const auto x = npy("inputs");
    struct Case {
        std::string file;
        std::vector<std::string> parts;
    };
    for (const auto& c : std::vector<Case>{
             {"out_aux_logits.pt", {"a tuple of 2 elements", "[0] 1×5 float, [1] 1×10 float", "--logits 0 or --logits 1"}},
             {"out_logits_emb.pt", {"a tuple of 2 elements", "[0] 1×10 float, [1] 1×6 float", "--logits 0 or --logits 1"}},
             {"out_dict.pt",
              {"a dict of 2 elements", "['aux'] 1×5 float, ['logits'] 1×10 float", "--logits aux or --logits logits"}}}) {
        SCOPED_TRACE(c.file);
        ASSERT_EQ(manifest()["models"][c.file]["automatic"], "ambiguous");
        Model m = load(c.file);
        EXPECT_THROW(m.run(x.data(), 2, spec_3x32()), UsageError);
        for (const auto& msg : {error_of([&] { m.run(x.data(), 2, spec_3x32()); }),
                                error_of([&] { m.num_classes(spec_3x32()); }),
                                error_of([&] {
                                    auto req = request("gradcam", 2);
                                    m.run(x.data(), 2, spec_3x32(), &req);
                                })}) {
            EXPECT_TRUE(has(msg, c.file)) << msg;
            EXPECT_TRUE(has(msg, "ambiguous")) << msg;
            for (const auto& p : c.parts) EXPECT_TRUE(has(msg, p)) << p << " in " << msg;
        }
    }
}

// The selector picks the element: predictions equal torch's, and the CAMs (gradient, perturbed
// inputs, ablated layer; the cold probe and the warm split forward) equal those of the model that
// returns only the logits, same weights.
TEST(OutputSelector, SelectedElementGivesTheReferenceLogitsAndCams) {
    const auto x = npy("inputs");
    const auto want = npy("logits");
    Model plain = load("out_plain.pt");
    for (const auto& [file, info] : manifest()["models"].items()) {
        const std::string choose = info["logits"];
        if (choose.empty()) continue;
        SCOPED_TRACE(file + " --logits " + choose);
        Model m = load(file, choose);
        EXPECT_EQ(m.info().logits, choose);
        const auto r = m.run(x.data(), 2, spec_3x32());
        EXPECT_EQ(r.num_classes, 10);
        EXPECT_LT(max_diff(r.logits, want), 1e-5f);
        for (const std::string method : {"gradcam", "scorecam", "ablationcam"}) {
            auto req = request(method, 2);
            for (int call = 0; call < 2; ++call) {  // cold (probe), then warm (split forward)
                const auto got = m.run(x.data(), 2, spec_3x32(), &req);
                const auto ref = plain.run(x.data(), 2, spec_3x32(), &req);
                ASSERT_EQ(got.cams.size(), ref.cams.size());
                EXPECT_LT(max_diff(got.cams, ref.cams), 1e-6f) << method << " call " << call;
                EXPECT_LT(max_diff(got.logits, want), 1e-5f) << method;
            }
        }
    }
    // The other elements by index: the aux head (5 classes), and -1 = the last element.
    Model aux = load("out_aux_logits.pt", "0");
    const auto ra = aux.run(x.data(), 2, spec_3x32());
    EXPECT_EQ(ra.num_classes, 5);
    EXPECT_LT(max_diff(ra.logits, npy("aux")), 1e-5f);
    EXPECT_EQ(load("out_aux_logits.pt", "-1").num_classes(spec_3x32()), 10);
    EXPECT_EQ(load("out_dict.pt", "aux").num_classes(spec_3x32()), 5);
}

// A selector that names nothing: UsageError naming the choices; one that names a value that is
// not N×K logits: the usual shape error, naming the element.
TEST(OutputSelector, BadSelectorsNameTheChoices) {
    const auto x = npy("inputs");
    auto msg_of = [&](const std::string& file, const std::string& sel) {
        Model m = load(file, sel);
        EXPECT_THROW(m.run(x.data(), 2, spec_3x32()), Error);
        return error_of([&] { m.run(x.data(), 2, spec_3x32()); });
    };
    std::string msg = msg_of("out_aux_logits.pt", "2");
    EXPECT_TRUE(has(msg, "--logits 2: the model returns a tuple of 2 elements")) << msg;
    EXPECT_TRUE(has(msg, "[0] 1×5 float, [1] 1×10 float")) << msg;
    EXPECT_TRUE(has(msg, "index 0..1")) << msg;
    EXPECT_THROW(load("out_aux_logits.pt", "-3").run(x.data(), 2, spec_3x32()), UsageError);
    msg = msg_of("out_aux_logits.pt", "logits");
    EXPECT_TRUE(has(msg, "chosen by position, not by key")) << msg;
    EXPECT_TRUE(has(msg, "--logits 0 or --logits 1")) << msg;
    msg = msg_of("out_dict.pt", "scores");
    EXPECT_TRUE(has(msg, "no key 'scores'")) << msg;
    EXPECT_TRUE(has(msg, "['aux'] 1×5 float, ['logits'] 1×10 float")) << msg;
    EXPECT_TRUE(has(msg, "--logits aux or --logits logits")) << msg;
    msg = msg_of("out_dict.pt", "1");  // a dict is chosen by key, never by position
    EXPECT_TRUE(has(msg, "no key '1'")) << msg;
    msg = msg_of("out_plain.pt", "1");
    EXPECT_TRUE(has(msg, "--logits 1 chooses an element of a tuple, list or dict output")) << msg;
    EXPECT_TRUE(has(msg, "one tensor (1×10 float)")) << msg;
    EXPECT_TRUE(has(msg, "leave out --logits")) << msg;
    EXPECT_THROW(load("out_plain.pt", "0").run(x.data(), 2, spec_3x32()), UsageError);
    msg = msg_of("out_logits_map.pt", "1");  // the feature map is no logits
    EXPECT_TRUE(has(msg, "model output [1] has shape [1x8x8x8], expected N×C logits (2-D)")) << msg;
}
