// libFuzzer target: the results folder `camscope serve --results` reads (camscope/serve/results.cpp):
// summary.json (the completion marker and the run's identity) and explorer/data.js (every index
// the server later uses). Input layout: 2-byte big-endian length of summary.json, summary.json,
// then data.js. Only camscope::Error may escape; whatever is accepted must hold every index the
// server reads within range (checked here again, independently of the validator).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "camscope/serve/results.hpp"
#include "camscope/util/error.hpp"

using nlohmann::json;

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

bool in_range(const json& v, std::uint64_t limit) {
    return (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) && v.get<std::uint64_t>() < limit;
}

void check(const json& d) {
    const std::uint64_t k = d.at("classes").size();
    const auto& rows = d.at("rows");
    const std::uint64_t n = rows.at("index").size();
    require(k > 0 && d.at("per_class").size() == k && d.at("galleries").size() == k);
    require(d.at("confusion").at("counts").size() == k && d.at("confusion").at("order").size() == k);
    for (const auto& row : d["confusion"]["counts"]) require(row.size() == k);
    for (const auto& o : d["confusion"]["order"]) require(in_range(o, k));
    for (const char* col : {"label", "pred", "conf", "top", "top_p"}) require(rows.at(col).size() == n);
    for (std::uint64_t i = 0; i < n; ++i) {
        require(in_range(rows["label"][i], k) && in_range(rows["pred"][i], k));
        const double c = rows["conf"][i].get<double>();
        require(c >= 0 && c <= 1);
        require(rows["top"][i].size() == rows["top_p"][i].size());
        for (const auto& t : rows["top"][i]) require(in_range(t, k));
    }
    for (std::uint64_t g = 0; g < k; ++g) {
        require(in_range(d["galleries"][g]["cls"], k) && d["galleries"][g]["cls"].get<std::uint64_t>() == g);
        for (const char* key : {"worst", "best"})
            for (const auto& r : d["galleries"][g].at(key)) require(in_range(r, n));
    }
    for (const auto& p : d.at("pairs")) require(in_range(p.at("true"), k) && in_range(p.at("pred"), k));
    for (const char* key : {"overall", "calibration", "run"}) require(d.at(key).is_object());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t len = std::min<std::size_t>((std::size_t(data[0]) << 8) | data[1], size - 2);
    const std::string_view summary(reinterpret_cast<const char*>(data) + 2, len);
    const std::string_view js(reinterpret_cast<const char*>(data) + 2 + len, size - 2 - len);
    try {
        const auto r = camscope::serve::parse_results(summary, js, "summary.json", "data.js");
        check(r.data);
        require(r.identity.model_sha256.size() == 64 && r.identity.data_fingerprint.size() == 64);
        require(r.identity.data_classes == r.data["classes"].size());
    } catch (const camscope::Error&) {
    }
    return 0;
}
