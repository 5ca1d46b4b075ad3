// The results folder of `camscope serve --results` (results.hpp): read, checked, trusted after.
#include "camscope/serve/results.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <utility>
#include <vector>

#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/json_depth.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::serve {

using nlohmann::json;

namespace {

constexpr int kMaxDepth = 32;  // of summary.json (the explorer data's own check: explorer_from_json)

}  // namespace

ResultsFolder parse_results(std::string_view summary_text, std::string_view data_text, const std::string& summary_name,
                            const std::string& data_name) {
    ResultsFolder r;
    r.summary_path = summary_name;
    r.data_path = data_name;

    const json summary = json::parse(summary_text.begin(), summary_text.end(), nullptr, false);
    if (summary.is_discarded() || !summary.is_object()) throw Error(where(summary_name, "not valid JSON (a JSON object)"));
    if (json_depth(summary, kMaxDepth) > kMaxDepth)
        throw Error(where(summary_name, format("nested more than %d levels deep", kMaxDepth)));
    if (!summary.contains("generator") || summary["generator"] != "camscope")
        throw Error(where(summary_name, "not a camscope summary (no \"generator\": \"camscope\")"));
    if (!summary.contains("identity"))
        throw Error(where(summary_name, "records no identity of the model and dataset (written by an older camscope): "
                                        "run `camscope analyze` again"));
    r.identity = parse_identity(summary["identity"], summary_name);

    r.data = explorer_data_js_json(data_text, data_name);
    r.explorer = explorer_from_json(r.data, data_name);

    // The two files must describe the same run.
    const size_t k = r.explorer.classes.size(), n = r.explorer.rows.size();
    if (!summary.contains("classes") || summary["classes"] != json(r.explorer.classes))
        throw Error(where(data_name, "its classes differ from those of " + summary_name + " (files of different runs?)"));
    if (r.identity.data_classes != k)
        throw Error(where(summary_name, format("identity: dataset.classes is %llu, the explorer data has %zu classes",
                                               static_cast<unsigned long long>(r.identity.data_classes), k)));
    if (r.identity.data_images < n)
        throw Error(where(summary_name, format("identity: dataset.images is %llu, the explorer data has %zu rows",
                                               static_cast<unsigned long long>(r.identity.data_images), n)));
    const json* run = summary.contains("run") && summary["run"].is_object() ? &summary["run"] : nullptr;
    if (!run || !run->contains("num_images") || !(*run)["num_images"].is_number_integer() ||
        (*run)["num_images"].get<std::int64_t>() < 0 || (*run)["num_images"].get<std::uint64_t>() != n)
        throw Error(where(summary_name, format("run.num_images does not match the %zu rows of %s (files of different runs?)",
                                               n, data_name.c_str())));
    for (size_t i = 0; i < n; ++i)
        if (static_cast<std::uint64_t>(r.explorer.rows.index[i]) >= r.identity.data_images)
            throw Error(where(data_name, format("rows.index[%zu]: %llu is not an index of the %llu dataset images", i,
                                                static_cast<unsigned long long>(r.explorer.rows.index[i]),
                                                static_cast<unsigned long long>(r.identity.data_images))));
    return r;
}

ResultsFolder read_results_folder(const std::string& dir) {
    namespace fs = std::filesystem;
    fs::path root(dir);
    std::error_code ec;
    if (!fs::is_regular_file(root / "explorer" / "data.js", ec) && fs::is_regular_file(root / "data.js", ec) &&
        root.lexically_normal().filename() == "explorer")
        root = root.lexically_normal().parent_path();  // the explorer/ folder itself was given
    if (!fs::is_directory(root, ec)) throw Error(where(dir, "no such folder (expected the --out folder of `camscope analyze`)"));
    const fs::path summary = root / "summary.json", data = root / "explorer" / "data.js";
    // Present (a link is followed) and then read as regular files of bounded size: a FIFO or a
    // link to /dev/zero under either name is refused by read_file, naming it.
    if (!fs::exists(summary, ec))
        throw Error(where(dir, "no summary.json: not a complete report (an interrupted or failed `camscope analyze`, "
                               "or not its --out folder)"));
    if (!fs::exists(data, ec)) throw Error(where(dir, "no explorer/data.js (expected the --out folder of `camscope analyze`)"));
    const auto s = read_file(summary.string(), kMaxSummaryBytes);
    const auto d = read_file(data.string(), kMaxDataJsBytes);
    return parse_results(std::string_view(reinterpret_cast<const char*>(s.data()), s.size()),
                         std::string_view(reinterpret_cast<const char*>(d.data()), d.size()), summary.string(), data.string());
}

}  // namespace camscope::serve
