// parse_model_metadata: the camscope.json of camscope's checkpoints (untrusted bytes).
#include <gtest/gtest.h>

#include "camscope/data/model_metadata.hpp"
#include "camscope/util/error.hpp"

using namespace camscope;

namespace {
std::string error_of(const std::string& json) {
    try {
        parse_model_metadata(json, "m.pt");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(ModelMetadata, ParsesWhatTrainWrites) {
    auto m = parse_model_metadata(
        R"({"format":"camscope-model","version":1,"arch":"resnet20","class_names":["a","b"],)"
        R"("input":{"channels":3,"height":32,"width":30,"mean":[0.5,0.4,0.3],"std":[0.2,0.2,0.25]},"seed":3})",
        "m.pt");
    EXPECT_EQ(m.arch, "resnet20");
    EXPECT_EQ(m.class_names, (std::vector<std::string>{"a", "b"}));
    ASSERT_TRUE(m.input.has_value());
    EXPECT_EQ(m.input->channels, 3);
    EXPECT_EQ(m.input->height, 32);
    EXPECT_EQ(m.input->width, 30);
    EXPECT_FLOAT_EQ(m.input->norm.std[2], 0.25f);
}

TEST(ModelMetadata, EverythingIsOptional) {
    auto m = parse_model_metadata("{}", "m.pt");
    EXPECT_EQ(m.arch, "?");
    EXPECT_TRUE(m.class_names.empty());
    EXPECT_FALSE(m.input.has_value());
}

TEST(ModelMetadata, ErrorsNameTheFileAndTheProblem) {
    const std::pair<const char*, const char*> cases[] = {
        {"{arch", "not valid JSON"},
        {"[1,2]", "expected a JSON object, found array"},
        {R"({"arch":3})", "\"arch\" is not a string"},
        {R"({"class_names":"a"})", "\"class_names\" is not an array"},
        {R"({"class_names":[1]})", "holds a non-string"},
        {R"({"input":[]})", "\"input\" is not an object"},
        {R"({"input":{"height":3,"width":3,"mean":[],"std":[]}})", "input.channels is missing"},
        {R"({"input":{"channels":2,"height":3,"width":3,"mean":[],"std":[]}})", "expected 1 or 3"},
        {R"({"input":{"channels":3,"height":3.5,"width":3,"mean":[],"std":[]}})", "input.height is not an integer"},
        {R"({"input":{"channels":3,"height":0,"width":3,"mean":[],"std":[]}})", "input.height = 0, expected 1..65536"},
        {R"({"input":{"channels":3,"height":3,"width":99999999999,"mean":[],"std":[]}})", "input.width = 99999999999"},
        {R"({"input":{"channels":3,"height":3,"width":3,"mean":[1,2],"std":[]}})", "input.mean has 2 values for 3"},
        {R"({"input":{"channels":3,"height":3,"width":3,"mean":["x"],"std":[]}})", "input.mean holds a non-number"},
        {R"({"input":{"channels":1,"height":3,"width":3,"mean":[0],"std":[-1]}})", "input.std holds -1"},
        {R"({"input":{"channels":1,"height":3,"width":3,"mean":[1e300],"std":[1]}})", "not a plausible value"},
    };
    for (const auto& [json, problem] : cases) {
        const auto msg = error_of(json);
        EXPECT_NE(msg.find("m.pt: camscope.json metadata is malformed"), std::string::npos) << json << " -> " << msg;
        EXPECT_NE(msg.find(problem), std::string::npos) << json << " -> " << msg;
    }
}
