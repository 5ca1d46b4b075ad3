// --logits: a model whose forward returns a tuple or a dict (tests/fixtures/make_output_fixtures.py).
// An ambiguous output is refused with the choices and their shapes, before anything is written; the
// chosen element gives torch's predictions; the choice is part of the run's identity (summary.json,
// the shards' stores) only when one was made, and merge reads it from the stores.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "camscope/util/npy.hpp"
#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;
using nlohmann::json;

namespace {

std::string predict(const std::string& model, const fs::path& csv, const std::string& extra = "") {
    return "-q predict -m " + kDir + "/" + model + " -d " + kTinyData + " -o " + csv.string() + " " + extra;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

json identity_model(const fs::path& summary) { return json::parse(slurp(summary))["identity"]["model"]; }

float max_diff(const fs::path& a, const fs::path& b) {
    const auto x = read_npy(a.string()).as_float(), y = read_npy(b.string()).as_float();
    EXPECT_EQ(x.size(), y.size());
    float d = x.size() == y.size() ? 0.f : 1.f;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) d = std::max(d, std::abs(x[i] - y[i]));
    return d;
}

}  // namespace

TEST(LogitsSelector, HelpNamesTheFlagOnEveryModelCommand) {
    for (const char* c : {"predict", "cam", "analyze", "evaluate-cams", "layers", "serve"}) {
        const auto r = run(std::string(c) + " --help");
        EXPECT_EQ(r.code, 0) << c << r.out;
        EXPECT_TRUE(has(r.out, "--logits")) << c << "\n" << r.out;
    }
}

TEST(LogitsSelector, AmbiguousOutputIsRefusedNamingTheChoices) {
    const fs::path dir = tmpdir("logits_ambiguous");
    auto r = run(predict("out_aux_logits.pt", dir / "p.csv"), 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_TRUE(has(r.out, "out_aux_logits.pt: which element holds the logits is ambiguous: the model returns a "
                           "tuple of 2 elements, and 2 could be N×C logits")) << r.out;
    EXPECT_TRUE(has(r.out, "[0] 1×5 float, [1] 1×10 float")) << r.out;
    EXPECT_TRUE(has(r.out, "Choose one with --logits INDEX (--logits 0 or --logits 1)")) << r.out;
    EXPECT_FALSE(fs::exists(dir / "p.csv"));
    r = run("-q analyze --faithfulness-n 0 -m " + kDir + "/out_dict.pt -d " + kTinyData + " -o " + (dir / "rep").string(),
            120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_TRUE(has(r.out, "['aux'] 1×5 float, ['logits'] 1×10 float")) << r.out;
    EXPECT_TRUE(has(r.out, "--logits KEY (--logits aux or --logits logits)")) << r.out;
    EXPECT_FALSE(fs::exists(dir / "rep"));
}

// Each tuple / dict model with its selector predicts what torch computed for the logits element
// (the eager module on the same images, CIFAR-10 normalisation), and writes the CSV the
// logits-only model writes, byte for byte; a (logits, feature map) output needs no selector.
TEST(LogitsSelector, SelectedElementPredictsAsTorch) {
    const fs::path dir = tmpdir("logits_predict");
    auto r = run(predict("out_plain.pt", dir / "plain.csv"), 120);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto plain = slurp(dir / "plain.csv");
    const auto logits = read_npy(kDir + "/out_tiny_cifar10_logits.npy").as_float();
    const auto rows = read_csv(dir / "plain.csv");
    ASSERT_EQ(rows.size(), 201u);
    for (size_t i = 1; i < rows.size(); ++i) {
        const float* l = &logits[(i - 1) * 10];
        EXPECT_EQ(std::stoi(rows[i][3]), static_cast<int>(std::max_element(l, l + 10) - l)) << "row " << i;
    }
    int count = 0;
    for (const auto& [model, flag] : std::vector<std::pair<std::string, std::string>>{
             {"out_aux_logits.pt", "--logits 1"},
             {"out_aux_logits.pt", "--logits -1"},
             {"out_logits_emb.pt", "--logits 0"},
             {"out_dict.pt", "--logits logits"},
             {"out_logits_map.pt", ""}}) {
        const fs::path csv = dir / (model + std::to_string(++count) + ".csv");
        r = run(predict(model, csv, flag), 120);
        ASSERT_EQ(r.code, 0) << model << " " << flag << "\n" << r.out;
        EXPECT_EQ(slurp(csv), plain) << model << " " << flag;
    }
}

// `layers` lists any model; with --logits it also checks the choice and says what it gives.
TEST(LogitsSelector, LayersChecksTheChoice) {
    auto r = run("-q layers " + kDir + "/out_aux_logits.pt --input-size 32x32 --channels 3", 120);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(has(r.out, "features")) << r.out;
    EXPECT_FALSE(has(r.out, "logits:")) << r.out;
    r = run("-q layers " + kDir + "/out_aux_logits.pt --input-size 32x32 --channels 3 --logits 0", 120);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(has(r.out, "logits: output element '0', 5 classes")) << r.out;
    r = run("-q layers " + kDir + "/out_dict.pt --input-size 32x32 --channels 3 --logits scores", 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_TRUE(has(r.out, "no key 'scores'")) << r.out;
}

TEST(LogitsSelector, BadSelectorsAreUsageErrorsNamingTheChoices) {
    const fs::path dir = tmpdir("logits_bad");
    auto r = run(predict("out_aux_logits.pt", dir / "p.csv", "--logits 2"), 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_TRUE(has(r.out, "--logits 2: the model returns a tuple of 2 elements ([0] 1×5 float, [1] 1×10 float), "
                           "index 0..1")) << r.out;
    r = run(predict("out_dict.pt", dir / "p.csv", "--logits scores"), 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_TRUE(has(r.out, "no key 'scores'")) << r.out;
    EXPECT_TRUE(has(r.out, "--logits aux or --logits logits")) << r.out;
    r = run(predict("out_plain.pt", dir / "p.csv", "--logits 0"), 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_TRUE(has(r.out, "the model returns one tensor (1×10 float): leave out --logits")) << r.out;
    EXPECT_FALSE(fs::exists(dir / "p.csv"));
}

// The choice is recorded where it was made (and only then: every other run's summary.json is as
// before), guards the shards' merge, and merge runs the model with the stores' choice.
TEST(LogitsSelector, ChoiceIsPartOfTheRunIdentity) {
    const fs::path root = tmpdir("logits_identity");
    const std::string base = "-q analyze --faithfulness-n 0 --limit 64 -b 16 -d " + kTinyData + " ";
    auto r = run(base + "-m " + kDir + "/out_plain.pt -o " + (root / "plain").string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_FALSE(identity_model(root / "plain" / "summary.json").contains("logits"));
    r = run(base + "-m " + kDir + "/out_aux_logits.pt --logits 1 -o " + (root / "aux").string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(identity_model(root / "aux" / "summary.json")["logits"], "1");
    EXPECT_EQ(slurp(root / "aux" / "store" / "pred.npy"), slurp(root / "plain" / "store" / "pred.npy"));
    EXPECT_EQ(slurp(root / "aux" / "confusion_matrix.csv"), slurp(root / "plain" / "confusion_matrix.csv"));
    EXPECT_LT(max_diff(root / "aux" / "store" / "cam_pred.npy", root / "plain" / "store" / "cam_pred.npy"), 1e-6f);

    // serve --results: the report's choice is checked against the server's (before it listens).
    r = run("-q serve -m " + kDir + "/out_aux_logits.pt -d " + kTinyData + " --logits -1 --port 0 --results " +
                (root / "aux").string(),
            120);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_TRUE(has(r.out, "logits (the model output's element): the results were made with element '1'; this "
                           "server runs element '-1'")) << r.out;

    // Shards made with different choices are not one run; the same choice merges, with it.
    const std::string m = "-m " + kDir + "/out_aux_logits.pt ";
    r = run(base + m + "--logits 1 --shard 0/2 -o " + (root / "s0").string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    r = run(base + m + "--logits 1 --shard 1/2 -o " + (root / "s1").string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    r = run(base + m + "--logits -1 --shard 1/2 -o " + (root / "s1b").string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    r = run("-q merge " + (root / "s0").string() + " " + (root / "s1b").string() + " -o " + (root / "mixed").string(),
            300);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_TRUE(has(r.out, "logits (the model output's element)")) << r.out;
    EXPECT_TRUE(has(r.out, "element '1'")) << r.out;
    EXPECT_TRUE(has(r.out, "element '-1'")) << r.out;
    r = run("-q merge " + (root / "s0").string() + " " + (root / "s1").string() + " --faithfulness-n 0 -o " +
                (root / "merged").string(),
            300);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(identity_model(root / "merged" / "summary.json")["logits"], "1");
    EXPECT_EQ(slurp(root / "merged" / "store" / "pred.npy"), slurp(root / "plain" / "store" / "pred.npy"));
}
