// resolve_input_spec (data/input_spec.hpp): for each source of the input, the mean/std chosen and
// the origin stated. The expected numbers are the published statistics, written out here.
#include <gtest/gtest.h>

#include "camscope/data/dataset.hpp"
#include "camscope/data/input_spec.hpp"
#include "camscope/report/identity.hpp"
#include "camscope/util/error.hpp"

using namespace camscope;

namespace {

const std::string kFix = CAMSCOPE_FIXTURES_DIR;
const std::vector<float> kCifarMean = {0.4914f, 0.4822f, 0.4465f}, kCifarStd = {0.2470f, 0.2435f, 0.2616f};
const std::vector<float> kImagenetMean = {0.485f, 0.456f, 0.406f}, kImagenetStd = {0.229f, 0.224f, 0.225f};

/// A model file without camscope metadata (a foreign TorchScript).
ModelInput foreign_file() { return ModelInput{std::nullopt, "m.pt", false}; }
/// A module from Python (Model.from_torch), without metadata.
ModelInput live_module() { return ModelInput{std::nullopt, "<Net>", true}; }
/// A camscope checkpoint whose metadata records 3×32×32 and (0.5, 0.25).
ModelInput with_metadata() {
    InputSpec s{3, 32, 32, {{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}}, ""};
    return ModelInput{s, "own.pt", false};
}
/// Arrays 3×32×32 (Python's from_arrays), named `name`: no preset.
DatasetInfo arrays(const std::string& name = "arrays") {
    DatasetInfo d;
    d.format = "arrays";
    d.name = name;
    d.preset = InputSpec{3, 32, 32, {}, ""};
    return d;
}
/// A torchvision dataset whose transform normalised with `n` (from_torchvision).
DatasetInfo normalised(Normalization n) {
    DatasetInfo d = arrays("cifar10");
    d.applied_norm = std::move(n);
    d.applied_by = "the torchvision transform (Normalize)";
    return d;
}

void expect_norm(const InputSpec& s, const std::vector<float>& mean, const std::vector<float>& sd) {
    ASSERT_EQ(s.norm.mean.size(), mean.size());
    ASSERT_EQ(s.norm.std.size(), sd.size());
    for (size_t c = 0; c < mean.size(); ++c) {
        EXPECT_FLOAT_EQ(s.norm.mean[c], mean[c]) << c;
        EXPECT_FLOAT_EQ(s.norm.std[c], sd[c]) << c;
    }
}

}  // namespace

TEST(InputSpec, DatasetFileGivesItsPresetToAModelFileAndSaysWhy) {
    auto ds = open_dataset(kFix + "/tiny_cifar10");
    const InputSpec s = resolve_input_spec(foreign_file(), ds->info(), {});
    EXPECT_EQ(s.channels, 3);
    EXPECT_EQ(s.height, 32);
    EXPECT_EQ(s.width, 32);
    expect_norm(s, kCifarMean, kCifarStd);
    EXPECT_EQ(s.norm_source, "dataset preset cifar10 (the CIFAR-10 binary format)");
}

TEST(InputSpec, ModuleFromPythonGetsNoDatasetPreset) {
    auto ds = open_dataset(kFix + "/tiny_cifar10");
    const InputSpec s = resolve_input_spec(live_module(), ds->info(), {});
    expect_norm(s, {0, 0, 0}, {1, 1, 1});
    EXPECT_EQ(s.norm_source, kNormNoneLiveModule);
}

TEST(InputSpec, ModelMetadataComesBeforeTheDatasetPreset) {
    auto ds = open_dataset(kFix + "/tiny_cifar10");
    const InputSpec s = resolve_input_spec(with_metadata(), ds->info(), {});
    expect_norm(s, {0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f});
    EXPECT_EQ(s.norm_source, "model metadata");
}

TEST(InputSpec, ArraysAndFoldersAreNotNormalisedByTheirName) {
    // Arrays named after a preset: the name picks nothing.
    InputSpec s = resolve_input_spec(foreign_file(), arrays("cifar10"), {});
    expect_norm(s, {0, 0, 0}, {1, 1, 1});
    EXPECT_EQ(s.norm_source, kNormNone);
    // A class folder not named after a preset: none either.
    auto folder = open_dataset(kFix + "/tiny_cifar10_folder");
    s = resolve_input_spec(foreign_file(), folder->info(), {});
    expect_norm(s, {0, 0, 0}, {1, 1, 1});
    EXPECT_EQ(s.norm_source, kNormNone);
    // With the model's metadata, the same as for every other source.
    s = resolve_input_spec(with_metadata(), arrays(), {});
    expect_norm(s, {0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f});
    EXPECT_EQ(s.norm_source, "model metadata");
}

TEST(InputSpec, UserChoiceComesBeforeModelAndDataAndIsNamed) {
    auto ds = open_dataset(kFix + "/tiny_cifar10");
    SpecOverrides preset;
    preset.preset = "ImageNet";
    InputSpec s = resolve_input_spec(with_metadata(), ds->info(), preset);
    expect_norm(s, kImagenetMean, kImagenetStd);
    EXPECT_EQ(s.norm_source, "user norm preset imagenet");

    SpecOverrides both;
    both.mean = std::vector<float>{0.1f};  // one value: every channel
    both.std = std::vector<float>{0.2f, 0.3f, 0.4f};
    s = resolve_input_spec(live_module(), arrays(), both);
    expect_norm(s, {0.1f, 0.1f, 0.1f}, {0.2f, 0.3f, 0.4f});
    EXPECT_EQ(s.norm_source, "user mean/std");

    SpecOverrides mean_only;
    mean_only.mean = std::vector<float>{0.f, 0.f, 0.f};
    s = resolve_input_spec(with_metadata(), arrays(), mean_only);
    expect_norm(s, {0, 0, 0}, {0.25f, 0.25f, 0.25f});
    EXPECT_EQ(s.norm_source, "mean: user mean; std: model metadata");

    SpecOverrides unknown;
    unknown.preset = "cifar11";
    EXPECT_THROW(resolve_input_spec(foreign_file(), arrays(), unknown), UsageError);
}

TEST(InputSpec, ImagesAlreadyNormalisedAreFedAsTheyCame) {
    const Normalization cifar{kCifarMean, kCifarStd};
    // Whatever the model: the transform's numbers, said so. A model file on a "cifar10"-named set
    // gets no second normalisation.
    InputSpec s = resolve_input_spec(foreign_file(), normalised(cifar), {});
    expect_norm(s, kCifarMean, kCifarStd);
    EXPECT_EQ(s.norm_source, "already normalised by the torchvision transform (Normalize)");
    s = resolve_input_spec(live_module(), normalised(cifar), {});
    EXPECT_EQ(s.norm_source, "already normalised by the torchvision transform (Normalize)");
    // Metadata that asks for other numbers is named, not applied.
    s = resolve_input_spec(with_metadata(), normalised(cifar), {});
    expect_norm(s, kCifarMean, kCifarStd);
    EXPECT_EQ(s.norm_source.rfind("already normalised by the torchvision transform (Normalize); the model's metadata "
                                  "asks for mean [0.5, 0.5, 0.5], std [0.25, 0.25, 0.25]",
                                  0),
              0u)
        << s.norm_source;
    // The user giving the same numbers again is fine; other numbers are refused.
    SpecOverrides same;
    same.preset = "cifar10";
    s = resolve_input_spec(foreign_file(), normalised(cifar), same);
    EXPECT_EQ(s.norm_source, "already normalised by the torchvision transform (Normalize)");
    SpecOverrides other;
    other.preset = "imagenet";
    try {
        resolve_input_spec(foreign_file(), normalised(cifar), other);
        FAIL() << "a second normalisation was accepted";
    } catch (const UsageError& e) {
        EXPECT_NE(std::string(e.what()).find("already normalised by the torchvision transform"), std::string::npos)
            << e.what();
    }
}

TEST(InputSpec, SizeAndValuesAreChecked) {
    EXPECT_THROW(resolve_input_spec(foreign_file(), DatasetInfo{}, {}), UsageError);  // size unknown
    SpecOverrides big;
    big.height = 100000;
    big.width = 100000;
    EXPECT_THROW(resolve_input_spec(foreign_file(), arrays(), big), UsageError);
    SpecOverrides bad;
    bad.mean = std::vector<float>{0.f, 0.f};
    bad.std = std::vector<float>{1.f, 1.f, 1.f};
    EXPECT_THROW(resolve_input_spec(foreign_file(), arrays(), bad), UsageError);
    bad.mean = std::vector<float>{0.f};
    bad.std = std::vector<float>{0.f};
    EXPECT_THROW(resolve_input_spec(foreign_file(), arrays(), bad), UsageError);
    SpecOverrides sized;
    sized.height = 16;
    sized.width = 24;
    const InputSpec s = resolve_input_spec(with_metadata(), arrays(), sized);
    EXPECT_EQ(s.height, 16);
    EXPECT_EQ(s.width, 24);
    EXPECT_EQ(s.channels, 3);
}

TEST(InputSpec, TheRunIdentityStatesItAndReadsRunsThatDidNot) {
    auto ds = open_dataset(kFix + "/tiny_cifar10");
    RunIdentity id;
    id.model_sha256 = id.data_fingerprint = std::string(64, 'a');
    identify_input(id, resolve_input_spec(foreign_file(), ds->info(), {}));
    nlohmann::json j = identity_json(id);
    EXPECT_EQ(j["input"]["normalisation"], "dataset preset cifar10 (the CIFAR-10 binary format)");
    RunIdentity back = parse_identity(j, "summary.json");
    EXPECT_EQ(back.norm_source, id.norm_source);
    EXPECT_TRUE(identity_differences(back, id).empty());
    // A run made before the statement (no "normalisation"): read as unknown, the same run for
    // --resume, merge and serve --results, and written back without it.
    j["input"].erase("normalisation");
    back = parse_identity(j, "old/manifest.json");
    EXPECT_EQ(back.norm_source, "");
    EXPECT_TRUE(identity_differences(back, id).empty());
    EXPECT_FALSE(identity_json(back)["input"].contains("normalisation"));
    j["input"]["normalisation"] = 3;
    EXPECT_THROW(parse_identity(j, "bad/manifest.json"), Error);
}
