// Malformed inputs (tests/malformed/, made by scripts/make_malformed.py): for every case in its
// manifest, the real binary must exit with the expected code, name the file and the problem, and
// leave no output behind (a failed run never leaves a file that looks complete).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"

namespace fs = std::filesystem;

namespace {

using camscope::testing::Run;
const std::string kFixtures = CAMSCOPE_FIXTURES_DIR;
const std::string kMalformed = (fs::path(CAMSCOPE_FIXTURES_DIR).parent_path() / "malformed").string();

const nlohmann::json& manifest() {
    static const nlohmann::json m = [] {
        std::ifstream f(kMalformed + "/manifest.json");
        if (!f) throw std::runtime_error(kMalformed + "/manifest.json: missing (run scripts/make_malformed.py)");
        return nlohmann::json::parse(f);
    }();
    return m;
}

std::vector<std::string> case_names() {
    std::vector<std::string> out;
    for (const auto& c : manifest()["cases"]) out.push_back(c["name"].get<std::string>());
    return out;
}

const nlohmann::json& find_case(const std::string& name) {
    for (const auto& c : manifest()["cases"])
        if (c["name"] == name) return c;
    throw std::runtime_error("no case " + name);
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

/// -q: no progress bars (the error message is printed regardless); a hang fails as exit 124.
Run run(const std::string& args) { return camscope::testing::run("-q " + args, 120); }

class Malformed : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(Malformed, ExitsWithACodeAMessageAndNoOutput) {
    const auto& c = find_case(GetParam());
    const fs::path out = fs::temp_directory_path() / ("camscope_malformed_" + GetParam());
    fs::remove_all(out);
    fs::create_directories(out);
    std::string args = c["args"].get<std::string>();
    replace_all(args, "{M}", kMalformed);
    replace_all(args, "{F}", kFixtures);
    replace_all(args, "{OUT}", out.string());

    const auto r = run(args);
    SCOPED_TRACE(c["problem"].get<std::string>() + "\n$ camscope " + args + "\n" + r.out);
    EXPECT_EQ(r.code, c["exit"].get<int>());
    for (const auto& s : c["expect"]) EXPECT_NE(r.out.find(s.get<std::string>()), std::string::npos) << s;
    EXPECT_EQ(r.out.find("terminate called"), std::string::npos);
    // One clear message, not LibTorch's C++ backtrace.
    EXPECT_EQ(r.out.find("Exception raised from"), std::string::npos);
    EXPECT_EQ(r.out.find("frame #"), std::string::npos);
    // Nothing that could pass for a result: no file at all (folders may have been created).
    for (const auto& e : fs::recursive_directory_iterator(out))
        EXPECT_FALSE(e.is_regular_file()) << "left behind: " << e.path();
    fs::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(Cases, Malformed, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

// A failed re-run into the folder of an earlier complete report leaves that report exactly as it
// was (the new one is built beside it and would only replace it when complete): summary.json
// and the pages still describe the earlier run, and nothing of the failed run is left.
TEST(MalformedRerun, FailedAnalyzeLeavesThePreviousReportAsItWas) {
    const fs::path root = fs::temp_directory_path() / "camscope_malformed_rerun";
    const fs::path out = root / "report";
    fs::remove_all(root);
    auto r = run("analyze -m " + kFixtures + "/tiny_cifar10_model.pt -d " + kFixtures + "/tiny_cifar10 -o " +
                 out.string() + " --faithfulness-n 0");
    ASSERT_EQ(r.code, 0) << r.out;
    const std::string summary = camscope::testing::slurp(out / "summary.json");
    const std::string data = camscope::testing::slurp(out / "explorer" / "data.js");
    r = run("analyze -m " + kFixtures + "/nan_model.pt -d " + kFixtures + "/tiny_cifar10 -o " + out.string());
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("NaN or infinite logits"), std::string::npos) << r.out;
    EXPECT_EQ(camscope::testing::slurp(out / "summary.json"), summary);
    EXPECT_EQ(camscope::testing::slurp(out / "explorer" / "data.js"), data);
    std::vector<std::string> entries;
    for (const auto& e : fs::directory_iterator(root)) entries.push_back(e.path().filename().string());
    EXPECT_EQ(entries, std::vector<std::string>{"report"});
    fs::remove_all(root);
}
