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
    require(d.at("confusion").at("order").size() == k);
    if (d["confusion"].contains("counts")) {
        require(d["confusion"]["counts"].size() == k);
        for (const auto& row : d["confusion"]["counts"]) require(row.size() == k);
    } else {  // schema 2, many classes: [true, pred, count] cells
        require(d["schema"] == 2);
        for (const auto& c : d["confusion"].at("cells")) require(c.size() == 3 && in_range(c[0], k) && in_range(c[1], k));
    }
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
    if (d["schema"] == 2) {
        for (const char* col : {"p_true", "flags", "lscore", "centre"}) require(rows.at(col).size() == n);
        for (std::uint64_t i = 0; i < n; ++i) {
            require(in_range(rows["flags"][i], 8));
            const double p = rows["p_true"][i].get<double>();
            require(p >= 0 && p <= 1);
        }
        const auto& lists = d.at("lists");
        for (const char* key : {"label_issues", "high_conf_errors", "low_conf_correct"})
            for (const auto& r : lists.at(key)) require(in_range(r, n));
        for (const auto& e : lists.at("degenerate").at("by_pred_class")) require(in_range(e.at("cls"), k));
        if (!d.at("superclasses").is_null()) {
            const std::uint64_t m = d["superclasses"].at("names").size();
            require(d["superclasses"].at("of_class").size() == k);
            for (const auto& c : d["superclasses"]["of_class"]) require(in_range(c, m));
        }
        const auto& th = d.at("thumbs");
        require(in_range(th.at("tile")[0], 49) && in_range(th["tile"][1], 49) && in_range(th.at("per_sheet"), 4097));
        require(th.at("sheets").size() == (n + th["per_sheet"].get<std::uint64_t>() - 1) / th["per_sheet"].get<std::uint64_t>());
        require(d.at("tags_key").is_string());
    }
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
