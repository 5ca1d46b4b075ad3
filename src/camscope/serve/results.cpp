// The results folder of `camscope serve --results` (results.hpp): read, checked, trusted after.
#include "camscope/serve/results.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <utility>
#include <vector>

#include "camscope/report/thumbs.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::serve {

using nlohmann::json;

namespace {

constexpr int kMaxDepth = 32;
constexpr std::string_view kDataPrefix = "window.CAMSCOPE_DATA = ";  // report/write_explorer.cpp writes it

class Checker {
public:
    explicit Checker(std::string name) : name_(std::move(name)) {}

    [[noreturn]] void fail(const std::string& field, const std::string& what) const {
        throw Error(where(name_, field + ": " + what));
    }

    const json& member(const json& obj, const char* key, const std::string& at) const {
        if (!obj.is_object() || !obj.contains(key)) fail(at + key, "missing");
        return obj.at(key);
    }
    const json& object(const json& obj, const char* key, const std::string& at = "") const {
        const json& v = member(obj, key, at);
        if (!v.is_object()) fail(at + key, "must be an object");
        return v;
    }
    const json& array(const json& obj, const char* key, const std::string& at = "") const {
        const json& v = member(obj, key, at);
        if (!v.is_array()) fail(at + key, "must be a list");
        return v;
    }
    /// An integer in [lo, hi] (a JSON integer; 3.0 or "3" is not one).
    long long integer(const json& v, long long lo, long long hi, const std::string& field, const std::string& range) const {
        long long x = 0;
        if (v.is_number_unsigned()) {
            const auto u = v.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(hi)) fail(field, v.dump() + " is not " + range);
            x = static_cast<long long>(u);
        } else if (v.is_number_integer()) {
            x = v.get<std::int64_t>();
        } else {
            fail(field, "must be an integer, got " + snippet(v));
        }
        if (x < lo || x > hi) fail(field, v.dump() + " is not " + range);
        return x;
    }
    double number(const json& v, double lo, double hi, const std::string& field) const {
        if (!v.is_number()) fail(field, "must be a number, got " + snippet(v));
        const double x = v.get<double>();
        if (!std::isfinite(x) || x < lo || x > hi) fail(field, v.dump() + format(" is not in [%g, %g]", lo, hi));
        return x;
    }
    static std::string snippet(const json& v) {
        std::string s = v.dump();
        return s.size() > 40 ? s.substr(0, 40) + "..." : s;
    }

private:
    std::string name_;
};

std::string idx(const std::string& field, size_t i) { return field + "[" + std::to_string(i) + "]"; }

/// Nesting depth, without recursion (a document 10^5 levels deep must not exhaust the stack of
/// whatever walks it later, e.g. json::dump).
int depth_of(const json& root) {
    int deepest = 0;
    std::vector<std::pair<const json*, int>> stack{{&root, 1}};
    while (!stack.empty()) {
        const auto [v, d] = stack.back();
        stack.pop_back();
        deepest = std::max(deepest, d);
        if (d > kMaxDepth) return d;
        if (v->is_structured())
            for (const auto& child : *v) stack.push_back({&child, d + 1});
    }
    return deepest;
}

// The top-level additions of schema 2 (report/explorer.hpp).
void validate_schema2(const Checker& c, const json& j, size_t k, size_t n, const std::string& class_range,
                      const std::string& row_range) {
    const long long K = static_cast<long long>(k), N = static_cast<long long>(n);
    const json& sc = c.member(j, "superclasses", "");
    if (!sc.is_null()) {
        if (!sc.is_object()) c.fail("superclasses", "must be null or an object");
        const json& names = c.array(sc, "names", "superclasses.");
        if (names.empty()) c.fail("superclasses.names", "empty");
        for (size_t i = 0; i < names.size(); ++i)
            if (!names[i].is_string()) c.fail(idx("superclasses.names", i), "must be a string");
        const json& of = c.array(sc, "of_class", "superclasses.");
        if (of.size() != k) c.fail("superclasses.of_class", format("%zu entries for %zu classes", of.size(), k));
        for (size_t i = 0; i < k; ++i)
            c.integer(of[i], 0, static_cast<long long>(names.size()) - 1, idx("superclasses.of_class", i),
                      format("a superclass index (the data has %zu superclasses)", names.size()));
    }
    const json& th = c.object(j, "thresholds");
    c.number(c.member(th, "high_conf", "thresholds."), 0, 1, "thresholds.high_conf");
    c.number(c.member(th, "low_conf", "thresholds."), 0, 1, "thresholds.low_conf");

    const json& lists = c.object(j, "lists");
    for (const char* key : {"label_issues", "high_conf_errors", "low_conf_correct"}) {
        const json& list = c.array(lists, key, "lists.");
        if (list.size() > n) c.fail(std::string("lists.") + key, format("%zu entries for %zu rows", list.size(), n));
        for (size_t i = 0; i < list.size(); ++i) c.integer(list[i], 0, N - 1, idx(std::string("lists.") + key, i), row_range);
    }
    const json& faith = c.array(lists, "faithfulness", "lists.");
    for (size_t i = 0; i < faith.size(); ++i) {
        const std::string f = idx("lists.faithfulness", i);
        if (!faith[i].is_object()) c.fail(f, "must be an object");
        for (const char* key : {"method", "layer"})
            if (!c.member(faith[i], key, f + ".").is_string()) c.fail(f + "." + key, "must be a string");
        const json& rank = c.member(faith[i], "mean_rank", f + ".");
        if (!rank.is_null()) c.number(rank, 0, 1e6, f + ".mean_rank");
        const long long maps = c.integer(c.member(faith[i], "maps", f + "."), 0, (1ll << 53), f + ".maps", "a count");
        c.integer(c.member(faith[i], "degenerate", f + "."), 0, maps, f + ".degenerate", "a count of at most maps");
    }
    const json& deg = c.object(lists, "degenerate", "lists.");
    const long long maps = c.integer(c.member(deg, "maps", "lists.degenerate."), 0, (1ll << 53), "lists.degenerate.maps", "a count");
    c.integer(c.member(deg, "degenerate", "lists.degenerate."), 0, maps, "lists.degenerate.degenerate", "a count of at most maps");
    const json& bp = c.array(deg, "by_pred_class", "lists.degenerate.");
    if (bp.size() > k) c.fail("lists.degenerate.by_pred_class", format("%zu entries for %zu classes", bp.size(), k));
    for (size_t i = 0; i < bp.size(); ++i) {
        const std::string f = idx("lists.degenerate.by_pred_class", i);
        if (!bp[i].is_object()) c.fail(f, "must be an object");
        c.integer(c.member(bp[i], "cls", f + "."), 0, K - 1, f + ".cls", class_range);
        const long long m = c.integer(c.member(bp[i], "maps", f + "."), 0, (1ll << 53), f + ".maps", "a count");
        c.integer(c.member(bp[i], "degenerate", f + "."), 0, m, f + ".degenerate", "a count of at most maps");
    }

    const json& th2 = c.object(j, "thumbs");
    const json& tile = c.array(th2, "tile", "thumbs.");
    if (tile.size() != 2) c.fail("thumbs.tile", "must be [h, w]");
    c.integer(tile[0], 1, kThumbMax, "thumbs.tile[0]", format("a tile height in [1, %d]", kThumbMax));
    c.integer(tile[1], 1, kThumbMax, "thumbs.tile[1]", format("a tile width in [1, %d]", kThumbMax));
    const long long cols = c.integer(c.member(th2, "cols", "thumbs."), 1, 4096, "thumbs.cols", "a column count in [1, 4096]");
    const long long per = c.integer(c.member(th2, "per_sheet", "thumbs."), 1, 4096, "thumbs.per_sheet", "a tile count in [1, 4096]");
    if (per % cols != 0) c.fail("thumbs.per_sheet", format("%lld is not a multiple of thumbs.cols (%lld)", per, cols));
    const json& sheets = c.array(th2, "sheets", "thumbs.");
    const size_t want = n == 0 ? 0 : (n + size_t(per) - 1) / size_t(per);
    if (sheets.size() != want)
        c.fail("thumbs.sheets", format("%zu sheets, %zu rows at %lld per sheet need %zu", sheets.size(), n, per, want));
    for (size_t i = 0; i < sheets.size(); ++i)
        if (!sheets[i].is_string()) c.fail(idx("thumbs.sheets", i), "must be a string");
    if (!c.member(j, "tags_key", "").is_string()) c.fail("tags_key", "must be a string");
}

}  // namespace

void validate_explorer_data(const json& j, const std::string& name) {
    const Checker c(name);
    if (!j.is_object()) c.fail("the explorer data", "must be an object");
    if (depth_of(j) > kMaxDepth) c.fail("the explorer data", format("nested more than %d levels deep", kMaxDepth));
    if (!j.contains("schema") || !j["schema"].is_number_integer() ||
        (j["schema"].get<std::int64_t>() != 1 && j["schema"].get<std::int64_t>() != 2))
        c.fail("schema", "this camscope reads explorer data schemas 1 and 2, the file has " +
                             (j.contains("schema") ? Checker::snippet(j["schema"]) : std::string("none")));
    const bool v2 = j["schema"].get<std::int64_t>() == 2;
    const json& run = c.object(j, "run");
    for (const char* key : {"method", "layer", "model_path", "dataset_path"})
        if (run.contains(key) && !run[key].is_string()) c.fail(std::string("run.") + key, "must be a string");
    c.object(j, "overall");
    c.object(j, "calibration");

    const json& classes = c.array(j, "classes");
    const size_t k = classes.size();
    if (k == 0) c.fail("classes", "empty");
    if (k > 100000) c.fail("classes", format("%zu classes (at most 100000)", k));
    for (size_t i = 0; i < k; ++i)
        if (!classes[i].is_string()) c.fail(idx("classes", i), "must be a string");
    const long long K = static_cast<long long>(k);
    const std::string class_range = format("a class index (the data has %zu classes)", k);

    const json& per_class = c.array(j, "per_class");
    if (per_class.size() != k) c.fail("per_class", format("%zu entries for %zu classes", per_class.size(), k));
    for (size_t i = 0; i < k; ++i)
        if (!per_class[i].is_object()) c.fail(idx("per_class", i), "must be an object");

    const json& confusion = c.object(j, "confusion");
    if (v2 && confusion.contains("cells")) {  // many classes: [[true, pred, count], ...], non-zero only
        const json& cells = c.array(confusion, "cells", "confusion.");
        if (cells.size() > k * k) c.fail("confusion.cells", format("%zu cells for %zu classes", cells.size(), k));
        for (size_t i = 0; i < cells.size(); ++i) {
            const std::string f = idx("confusion.cells", i);
            if (!cells[i].is_array() || cells[i].size() != 3) c.fail(f, "must be [true, pred, count]");
            c.integer(cells[i][0], 0, K - 1, idx(f, 0), class_range);
            c.integer(cells[i][1], 0, K - 1, idx(f, 1), class_range);
            c.integer(cells[i][2], 1, (1ll << 53), idx(f, 2), "a positive count");
        }
    } else {
        const json& counts = c.array(confusion, "counts", "confusion.");
        if (counts.size() != k) c.fail("confusion.counts", format("%zu rows for %zu classes", counts.size(), k));
        for (size_t t = 0; t < k; ++t) {
            const std::string f = idx("confusion.counts", t);
            if (!counts[t].is_array() || counts[t].size() != k) c.fail(f, format("must be a list of %zu counts", k));
            for (size_t p = 0; p < k; ++p) c.integer(counts[t][p], 0, (1ll << 53), idx(f, p), "a count");
        }
    }
    const json& order = c.array(confusion, "order", "confusion.");
    if (order.size() != k) c.fail("confusion.order", format("%zu entries for %zu classes", order.size(), k));
    std::vector<char> seen(k, 0);
    for (size_t i = 0; i < k; ++i) {
        const auto v = static_cast<size_t>(c.integer(order[i], 0, K - 1, idx("confusion.order", i), class_range));
        if (seen[v]) c.fail(idx("confusion.order", i), format("class %zu appears twice (the order must list each class once)", v));
        seen[v] = 1;
    }

    const json& pairs = c.array(j, "pairs");
    for (size_t i = 0; i < pairs.size(); ++i) {
        const std::string f = idx("pairs", i);
        if (!pairs[i].is_object()) c.fail(f, "must be an object");
        c.integer(c.member(pairs[i], "true", f + "."), 0, K - 1, f + ".true", class_range);
        c.integer(c.member(pairs[i], "pred", f + "."), 0, K - 1, f + ".pred", class_range);
        c.integer(c.member(pairs[i], "count", f + "."), 0, (1ll << 53), f + ".count", "a count");
        c.number(c.member(pairs[i], "rate", f + "."), 0, 1, f + ".rate");
    }

    const json& rows = c.object(j, "rows");
    const json& index = c.array(rows, "index", "rows.");
    const size_t n = index.size();
    for (const char* key : {"label", "pred", "conf", "top", "top_p"}) {
        const json& col = c.array(rows, key, "rows.");
        if (col.size() != n) c.fail(std::string("rows.") + key, format("%zu entries, rows.index has %zu", col.size(), n));
    }
    for (size_t i = 0; i < n; ++i) {
        c.integer(index[i], 0, (1ll << 53), idx("rows.index", i), "a dataset index");
        c.integer(rows["label"][i], 0, K - 1, idx("rows.label", i), class_range);
        c.integer(rows["pred"][i], 0, K - 1, idx("rows.pred", i), class_range);
        c.number(rows["conf"][i], 0, 1, idx("rows.conf", i));
        const json& top = rows["top"][i];
        const json& top_p = rows["top_p"][i];
        if (!top.is_array() || top.size() > k) c.fail(idx("rows.top", i), format("must be a list of at most %zu classes", k));
        if (!top_p.is_array() || top_p.size() != top.size())
            c.fail(idx("rows.top_p", i), format("must be a list of %zu probabilities (one per rows.top entry)", top.size()));
        for (size_t t = 0; t < top.size(); ++t) {
            c.integer(top[t], 0, K - 1, idx(idx("rows.top", i), t), class_range);
            c.number(top_p[t], 0, 1, idx(idx("rows.top_p", i), t));
        }
    }

    if (v2) {
        for (const char* key : {"p_true", "flags", "lscore", "centre"}) {
            const json& col = c.array(rows, key, "rows.");
            if (col.size() != n) c.fail(std::string("rows.") + key, format("%zu entries, rows.index has %zu", col.size(), n));
        }
        for (size_t i = 0; i < n; ++i) {
            c.number(rows["p_true"][i], 0, 1, idx("rows.p_true", i));
            c.integer(rows["flags"][i], 0, 7, idx("rows.flags", i), "a set of flags (0 to 7)");
            if (!rows["lscore"][i].is_null()) c.number(rows["lscore"][i], -1, 1, idx("rows.lscore", i));
            if (!rows["centre"][i].is_null()) c.number(rows["centre"][i], 0, 1, idx("rows.centre", i));
        }
    }

    const json& galleries = c.array(j, "galleries");
    if (galleries.size() != k) c.fail("galleries", format("%zu galleries for %zu classes", galleries.size(), k));
    const std::string row_range = format("a row (the data has %zu rows)", n);
    for (size_t g = 0; g < k; ++g) {
        const std::string f = idx("galleries", g);
        if (!galleries[g].is_object()) c.fail(f, "must be an object");
        if (c.integer(c.member(galleries[g], "cls", f + "."), 0, K - 1, f + ".cls", class_range) != static_cast<long long>(g))
            c.fail(f + ".cls", format("gallery %zu is for class %s (galleries are in class order)", g,
                                      galleries[g]["cls"].dump().c_str()));
        for (const char* key : {"worst", "best"}) {
            const json& list = c.array(galleries[g], key, f + ".");
            for (size_t i = 0; i < list.size(); ++i)
                c.integer(list[i], 0, static_cast<long long>(n) - 1, idx(f + "." + key, i), row_range);
        }
    }
    if (v2) validate_schema2(c, j, k, n, class_range, row_range);
}

ResultsFolder parse_results(std::string_view summary_text, std::string_view data_text, const std::string& summary_name,
                            const std::string& data_name) {
    ResultsFolder r;
    r.summary_path = summary_name;
    r.data_path = data_name;

    const json summary = json::parse(summary_text.begin(), summary_text.end(), nullptr, false);
    if (summary.is_discarded() || !summary.is_object()) throw Error(where(summary_name, "not valid JSON (a JSON object)"));
    if (depth_of(summary) > kMaxDepth)
        throw Error(where(summary_name, format("nested more than %d levels deep", kMaxDepth)));
    if (!summary.contains("generator") || summary["generator"] != "camscope")
        throw Error(where(summary_name, "not a camscope summary (no \"generator\": \"camscope\")"));
    if (!summary.contains("identity"))
        throw Error(where(summary_name, "records no identity of the model and dataset (written by an older camscope): "
                                        "run `camscope analyze` again"));
    r.identity = parse_identity(summary["identity"], summary_name);

    const size_t at = data_text.find(kDataPrefix);
    const size_t end = data_text.rfind('}');
    if (at == std::string_view::npos || end == std::string_view::npos || end < at + kDataPrefix.size())
        throw Error(where(data_name, "not an explorer data file (expected `window.CAMSCOPE_DATA = {...};`)"));
    for (size_t i = end + 1; i < data_text.size(); ++i)
        if (data_text[i] != ';' && data_text[i] != '\n' && data_text[i] != '\r' && data_text[i] != ' ')
            throw Error(where(data_name, format("unexpected bytes after the data (offset %zu)", i)));
    const auto body = data_text.substr(at + kDataPrefix.size(), end + 1 - at - kDataPrefix.size());
    r.data = json::parse(body.begin(), body.end(), nullptr, false);
    if (r.data.is_discarded()) throw Error(where(data_name, "the explorer data is not valid JSON"));
    validate_explorer_data(r.data, data_name);

    // The two files must describe the same run.
    const size_t k = r.data["classes"].size(), n = r.data["rows"]["index"].size();
    if (!summary.contains("classes") || summary["classes"] != r.data["classes"])
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
        if (r.data["rows"]["index"][i].get<std::uint64_t>() >= r.identity.data_images)
            throw Error(where(data_name, format("rows.index[%zu]: %llu is not an index of the %llu dataset images", i,
                                                static_cast<unsigned long long>(r.data["rows"]["index"][i].get<std::uint64_t>()),
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
