// The run identity's "model.logits" (the output element chosen with --logits / logits=): written
// only when a choice was made (every other run's summary.json and store are as before), read back,
// absent = the automatic choice, and a difference that resume, merge and serve --results name.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "camscope/report/identity.hpp"
#include "camscope/util/error.hpp"

using namespace camscope;

namespace {

RunIdentity some_identity() {
    RunIdentity id;
    id.model_path = "/m.pt";
    id.model_sha256 = id.data_fingerprint = std::string(64, 'a');
    return id;
}

}  // namespace

TEST(IdentityLogits, WrittenOnlyWhenChosenAndComparedWhenDifferent) {
    RunIdentity automatic = some_identity();
    EXPECT_FALSE(identity_json(automatic)["model"].contains("logits"));
    EXPECT_EQ(parse_identity(identity_json(automatic), "summary.json").model_logits, "");

    RunIdentity chosen = some_identity();
    chosen.model_logits = "logits";
    const nlohmann::json j = identity_json(chosen);
    EXPECT_EQ(j["model"]["logits"], "logits");
    EXPECT_EQ(parse_identity(j, "summary.json").model_logits, "logits");
    EXPECT_TRUE(identity_differences(parse_identity(j, "summary.json"), chosen).empty());

    const auto diffs = identity_differences(automatic, chosen, {"chunk-000000 was computed with", "this run uses"});
    ASSERT_EQ(diffs.size(), 1u);
    EXPECT_EQ(diffs[0], "logits (the model output's element): chunk-000000 was computed with the automatic choice; "
                        "this run uses element 'logits'");

    nlohmann::json bad = j;
    bad["model"]["logits"] = 1;
    EXPECT_THROW(parse_identity(bad, "bad/manifest.json"), Error);
}
