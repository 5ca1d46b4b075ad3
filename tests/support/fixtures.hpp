#pragma once
// Test support for the suites that read the committed fixtures (their targets define
// CAMSCOPE_FIXTURES_DIR): the manifests the fixture scripts write (tests/fixtures/*.py), the input
// spec of a fixture model's recorded input shape, and max |a - b|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/data/dataset.hpp"

namespace camscope::support {

inline const std::string kFixtures = CAMSCOPE_FIXTURES_DIR;

/// tests/fixtures/<name> parsed once per process (manifest.json, transformer_manifest.json, ...).
inline const nlohmann::json& fixture_manifest(const std::string& name) {
    static std::map<std::string, nlohmann::json> loaded;
    auto it = loaded.find(name);
    if (it == loaded.end()) {
        std::ifstream f(kFixtures + "/" + name);
        it = loaded.emplace(name, nlohmann::json::parse(f)).first;
    }
    return it->second;
}

/// C×H×W of an N×C×H×W input shape, without normalisation (the fixtures feed raw tensors).
inline InputSpec spec_of(const nlohmann::json& shape) {
    InputSpec s;
    s.channels = shape[1];
    s.height = shape[2];
    s.width = shape[3];
    s.norm.mean.assign(s.channels, 0.f);
    s.norm.std.assign(s.channels, 1.f);
    return s;
}

/// max |a - b| over the common length; a size difference is a test failure.
inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double m = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
    return m;
}

}  // namespace camscope::support
