#include "camscope/data/model_metadata.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "camscope/util/error.hpp"

namespace camscope {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
    throw Error(where(source, "camscope.json metadata is malformed: " + what));
}

int dimension(const json& in, const char* key, int lo, int hi, const std::string& source) {
    if (!in.contains(key)) fail(source, std::string("input.") + key + " is missing");
    const auto& v = in[key];
    if (!v.is_number_integer()) fail(source, std::string("input.") + key + " is not an integer");
    const auto n = v.get<long long>();
    if (n < lo || n > hi)
        fail(source, std::string("input.") + key + " = " + std::to_string(n) + ", expected " + std::to_string(lo) +
                         ".." + std::to_string(hi));
    return static_cast<int>(n);
}

std::vector<float> floats(const json& in, const char* key, int channels, const std::string& source) {
    if (!in.contains(key)) fail(source, std::string("input.") + key + " is missing");
    const auto& v = in[key];
    if (!v.is_array()) fail(source, std::string("input.") + key + " is not an array");
    if (!(v.empty() || v.size() == 1 || v.size() == static_cast<std::size_t>(channels)))
        fail(source, std::string("input.") + key + " has " + std::to_string(v.size()) + " values for " +
                         std::to_string(channels) + " channels (expected 0, 1 or " + std::to_string(channels) + ")");
    std::vector<float> out;
    for (const auto& x : v) {
        if (!x.is_number()) fail(source, std::string("input.") + key + " holds a non-number");
        const double d = x.get<double>();
        if (!std::isfinite(d) || std::fabs(d) > 1e6)
            fail(source, std::string("input.") + key + " holds " + std::to_string(d) + ", not a plausible value");
        out.push_back(static_cast<float>(d));
    }
    return out;
}

}  // namespace

ModelMetadata parse_model_metadata(std::string_view text, const std::string& source) {
    json j;
    try {
        j = json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
        fail(source, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) fail(source, std::string("expected a JSON object, found ") + j.type_name());
    ModelMetadata m;
    m.arch = "?";
    if (j.contains("arch")) {
        if (!j["arch"].is_string()) fail(source, "\"arch\" is not a string");
        m.arch = j["arch"].get<std::string>();
    }
    if (j.contains("class_names")) {
        const auto& names = j["class_names"];
        if (!names.is_array()) fail(source, "\"class_names\" is not an array");
        for (const auto& n : names) {
            if (!n.is_string()) fail(source, "\"class_names\" holds a non-string");
            m.class_names.push_back(n.get<std::string>());
        }
    }
    if (j.contains("input")) {
        const auto& in = j["input"];
        if (!in.is_object()) fail(source, "\"input\" is not an object");
        InputSpec spec;
        spec.channels = dimension(in, "channels", 1, 3, source);
        if (spec.channels == 2) fail(source, "input.channels = 2, expected 1 or 3");
        spec.height = dimension(in, "height", 1, 65536, source);
        spec.width = dimension(in, "width", 1, 65536, source);
        spec.norm.mean = floats(in, "mean", spec.channels, source);
        spec.norm.std = floats(in, "std", spec.channels, source);
        for (float s : spec.norm.std)
            if (!(s > 0)) fail(source, "input.std holds " + std::to_string(s) + ", expected > 0");
        m.input = spec;
    }
    return m;
}

}  // namespace camscope
