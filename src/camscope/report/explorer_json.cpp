// The explorer's typed model and its JSON (explorer.hpp): to_json for the writer, explorer_from_json
// for every reader (the results folder of `camscope serve --results`, the server). The reader trusts
// nothing: results folders are untrusted input, and it is fuzzed (fuzz_results). Over 500 lines:
// the writer and the checks of every field stay side by side, one file per format.
#include <cmath>
#include <cstdint>
#include <utility>

#include "camscope/report/explorer.hpp"
#include "camscope/report/thumbs.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/json_depth.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

using nlohmann::json;

namespace {

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json count_json(const ExplorerCount& c) { return {{"maps", c.maps}, {"degenerate", c.degenerate}}; }

}  // namespace

json to_json(const ExplorerThumbs& t) {
    return {{"tile", {t.tile_h, t.tile_w}}, {"cols", t.cols}, {"per_sheet", t.per_sheet}, {"sheets", t.sheets}};
}

json to_json(const ExplorerData& d) {
    const bool v2 = d.schema >= 2;
    json j;
    j["schema"] = d.schema;
    j["run"] = d.run;
    j["overall"] = d.overall;
    j["calibration"] = d.calibration;
    j["classes"] = d.classes;
    j["per_class"] = json(d.per_class);
    json confusion;
    if (d.confusion.sparse) {
        json cells = json::array();
        for (const auto& c : d.confusion.cells) cells.push_back(json(c));
        confusion["cells"] = cells;
    } else {
        confusion["counts"] = json(d.confusion.counts);
    }
    confusion["order"] = d.confusion.order;
    j["confusion"] = confusion;
    json pairs = json::array();
    for (const auto& p : d.pairs) {
        json e = {{"true", p.truth}, {"pred", p.pred}, {"count", p.count}, {"rate", p.rate}};
        if (p.rate_ci) e["rate_ci"] = json(*p.rate_ci);
        pairs.push_back(std::move(e));
    }
    j["pairs"] = pairs;

    const ExplorerRows& r = d.rows;
    json rows;
    rows["index"] = r.index;
    rows["label"] = r.label;
    rows["pred"] = r.pred;
    rows["conf"] = r.conf;
    rows["top"] = json(r.top);
    rows["top_p"] = json(r.top_p);
    if (r.blank) rows["blank"] = *r.blank;
    if (v2) {
        rows["p_true"] = r.p_true;
        rows["flags"] = r.flags;
        json lscore = json::array(), centre = json::array();
        for (const auto& v : r.lscore) lscore.push_back(optional_number(v));
        for (const auto& v : r.centre) centre.push_back(optional_number(v));
        rows["lscore"] = lscore;
        rows["centre"] = centre;
        if (r.mode) rows["mode"] = *r.mode;
        if (r.flip) rows["flip"] = *r.flip;
    }
    j["rows"] = rows;
    if (d.cam_health) {
        json h = count_json(*d.cam_health);
        h["warning"] = d.cam_health_warning;
        j["cam_health"] = h;
    }
    json galleries = json::array();
    for (const auto& g : d.galleries) galleries.push_back({{"cls", g.cls}, {"worst", g.worst}, {"best", g.best}});
    j["galleries"] = galleries;
    if (!v2) return j;

    j["superclasses"] = d.superclasses ? json{{"names", d.superclasses->names}, {"of_class", d.superclasses->of_class}}
                                       : json(nullptr);
    j["thresholds"] = {{"high_conf", d.high_conf}, {"low_conf", d.low_conf}};
    json faith = json::array();
    for (const auto& f : d.faithfulness)
        faith.push_back({{"method", f.method},
                         {"layer", f.layer},
                         {"mean_rank", optional_number(f.mean_rank)},
                         {"maps", f.maps},
                         {"degenerate", f.degenerate}});
    json by_pred = json::array();
    for (const auto& [cls, c] : d.degenerate_by_pred_class) {
        json e = count_json(c);
        e["cls"] = cls;
        by_pred.push_back(e);
    }
    json degenerate = count_json(d.degenerate);
    degenerate["by_pred_class"] = by_pred;
    j["lists"] = {{"label_issues", d.label_issues},
                  {"high_conf_errors", d.high_conf_errors},
                  {"low_conf_correct", d.low_conf_correct},
                  {"faithfulness", faith},
                  {"degenerate", degenerate}};
    j["thumbs"] = to_json(d.thumbs);
    j["tags_key"] = d.tags_key;
    if (d.failure_modes) {
        json modes = json::array();
        for (const auto& m : *d.failure_modes)
            modes.push_back({{"id", m.id}, {"cls", m.cls}, {"mode", m.mode}, {"errors", m.errors}, {"description", m.description}});
        j["failure_modes"] = modes;
    }
    if (d.flips)
        j["flips"] = {{"fraction", d.flips->fraction},     {"tested", d.flips->tested},   {"distractor", d.flips->distractor},
                      {"missing", d.flips->missing},       {"unstable", d.flips->unstable}, {"headline", d.flips->headline}};
    if (d.sanity) j["sanity"] = {{"passed", d.sanity->passed}, {"headline", d.sanity->headline}, {"warning", d.sanity->warning}};
    return j;
}

// ---------------------------------------------------------------- reading it back

namespace {

constexpr int kMaxDepth = 32;
constexpr long long kMaxCount = 1ll << 53;

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
    const std::string& string(const json& v, const std::string& field) const {
        if (!v.is_string()) fail(field, "must be a string");
        return v.get_ref<const std::string&>();
    }
    static std::string snippet(const json& v) {
        std::string s = v.dump();
        return s.size() > 40 ? s.substr(0, 40) + "..." : s;
    }

private:
    std::string name_;
};

std::string idx(const std::string& field, size_t i) { return field + "[" + std::to_string(i) + "]"; }

ExplorerCount read_count(const Checker& c, const json& obj, const std::string& f) {
    ExplorerCount out;
    out.maps = c.integer(c.member(obj, "maps", f + "."), 0, kMaxCount, f + ".maps", "a count");
    out.degenerate = c.integer(c.member(obj, "degenerate", f + "."), 0, out.maps, f + ".degenerate", "a count of at most maps");
    return out;
}

// The top-level additions of schema 2 (explorer.hpp).
void read_schema2(const Checker& c, const json& j, ExplorerData& d, const std::string& class_range,
                  const std::string& row_range) {
    const size_t k = d.classes.size(), n = d.rows.size();
    const long long K = static_cast<long long>(k), N = static_cast<long long>(n);
    const json& sc = c.member(j, "superclasses", "");
    if (!sc.is_null()) {
        if (!sc.is_object()) c.fail("superclasses", "must be null or an object");
        ExplorerSuperclasses s;
        const json& names = c.array(sc, "names", "superclasses.");
        if (names.empty()) c.fail("superclasses.names", "empty");
        for (size_t i = 0; i < names.size(); ++i) s.names.push_back(c.string(names[i], idx("superclasses.names", i)));
        const json& of = c.array(sc, "of_class", "superclasses.");
        if (of.size() != k) c.fail("superclasses.of_class", format("%zu entries for %zu classes", of.size(), k));
        for (size_t i = 0; i < k; ++i)
            s.of_class.push_back(static_cast<int>(c.integer(of[i], 0, static_cast<long long>(names.size()) - 1,
                                                            idx("superclasses.of_class", i),
                                                            format("a superclass index (the data has %zu superclasses)", names.size()))));
        d.superclasses = std::move(s);
    }
    const json& th = c.object(j, "thresholds");
    d.high_conf = c.number(c.member(th, "high_conf", "thresholds."), 0, 1, "thresholds.high_conf");
    d.low_conf = c.number(c.member(th, "low_conf", "thresholds."), 0, 1, "thresholds.low_conf");

    const json& lists = c.object(j, "lists");
    for (auto [key, out] : {std::pair{"label_issues", &d.label_issues}, std::pair{"high_conf_errors", &d.high_conf_errors},
                            std::pair{"low_conf_correct", &d.low_conf_correct}}) {
        const json& list = c.array(lists, key, "lists.");
        if (list.size() > n) c.fail(std::string("lists.") + key, format("%zu entries for %zu rows", list.size(), n));
        for (size_t i = 0; i < list.size(); ++i)
            out->push_back(static_cast<size_t>(c.integer(list[i], 0, N - 1, idx(std::string("lists.") + key, i), row_range)));
    }
    const json& faith = c.array(lists, "faithfulness", "lists.");
    for (size_t i = 0; i < faith.size(); ++i) {
        const std::string f = idx("lists.faithfulness", i);
        if (!faith[i].is_object()) c.fail(f, "must be an object");
        ExplorerFaithfulness e;
        e.method = c.string(c.member(faith[i], "method", f + "."), f + ".method");
        e.layer = c.string(c.member(faith[i], "layer", f + "."), f + ".layer");
        const json& rank = c.member(faith[i], "mean_rank", f + ".");
        if (!rank.is_null()) e.mean_rank = c.number(rank, 0, 1e6, f + ".mean_rank");
        const ExplorerCount count = read_count(c, faith[i], f);
        e.maps = count.maps;
        e.degenerate = count.degenerate;
        d.faithfulness.push_back(std::move(e));
    }
    const json& deg = c.object(lists, "degenerate", "lists.");
    d.degenerate = read_count(c, deg, "lists.degenerate");
    const json& bp = c.array(deg, "by_pred_class", "lists.degenerate.");
    if (bp.size() > k) c.fail("lists.degenerate.by_pred_class", format("%zu entries for %zu classes", bp.size(), k));
    for (size_t i = 0; i < bp.size(); ++i) {
        const std::string f = idx("lists.degenerate.by_pred_class", i);
        if (!bp[i].is_object()) c.fail(f, "must be an object");
        const int cls = static_cast<int>(c.integer(c.member(bp[i], "cls", f + "."), 0, K - 1, f + ".cls", class_range));
        d.degenerate_by_pred_class.push_back({cls, read_count(c, bp[i], f)});
    }

    const json& th2 = c.object(j, "thumbs");
    const json& tile = c.array(th2, "tile", "thumbs.");
    if (tile.size() != 2) c.fail("thumbs.tile", "must be [h, w]");
    d.thumbs.tile_h = static_cast<int>(c.integer(tile[0], 1, kThumbMax, "thumbs.tile[0]", format("a tile height in [1, %d]", kThumbMax)));
    d.thumbs.tile_w = static_cast<int>(c.integer(tile[1], 1, kThumbMax, "thumbs.tile[1]", format("a tile width in [1, %d]", kThumbMax)));
    const long long cols = c.integer(c.member(th2, "cols", "thumbs."), 1, 4096, "thumbs.cols", "a column count in [1, 4096]");
    const long long per = c.integer(c.member(th2, "per_sheet", "thumbs."), 1, 4096, "thumbs.per_sheet", "a tile count in [1, 4096]");
    if (per % cols != 0) c.fail("thumbs.per_sheet", format("%lld is not a multiple of thumbs.cols (%lld)", per, cols));
    d.thumbs.cols = cols;
    d.thumbs.per_sheet = per;
    const json& sheets = c.array(th2, "sheets", "thumbs.");
    const size_t want = n == 0 ? 0 : (n + size_t(per) - 1) / size_t(per);
    if (sheets.size() != want)
        c.fail("thumbs.sheets", format("%zu sheets, %zu rows at %lld per sheet need %zu", sheets.size(), n, per, want));
    for (size_t i = 0; i < sheets.size(); ++i) d.thumbs.sheets.push_back(c.string(sheets[i], idx("thumbs.sheets", i)));
    d.tags_key = c.string(c.member(j, "tags_key", ""), "tags_key");
}

void read_rows(const Checker& c, const json& rows, ExplorerData& d, const std::string& class_range) {
    const size_t k = d.classes.size();
    const long long K = static_cast<long long>(k);
    ExplorerRows& r = d.rows;
    const json& index = c.array(rows, "index", "rows.");
    const size_t n = index.size();
    for (const char* key : {"label", "pred", "conf", "top", "top_p"}) {
        const json& col = c.array(rows, key, "rows.");
        if (col.size() != n) c.fail(std::string("rows.") + key, format("%zu entries, rows.index has %zu", col.size(), n));
    }
    r.index.resize(n), r.label.resize(n), r.pred.resize(n), r.conf.resize(n), r.top.resize(n), r.top_p.resize(n);
    for (size_t i = 0; i < n; ++i) {
        r.index[i] = c.integer(index[i], 0, kMaxCount, idx("rows.index", i), "a dataset index");
        r.label[i] = static_cast<int>(c.integer(rows["label"][i], 0, K - 1, idx("rows.label", i), class_range));
        r.pred[i] = static_cast<int>(c.integer(rows["pred"][i], 0, K - 1, idx("rows.pred", i), class_range));
        r.conf[i] = c.number(rows["conf"][i], 0, 1, idx("rows.conf", i));
        const json& top = rows["top"][i];
        const json& top_p = rows["top_p"][i];
        if (!top.is_array() || top.size() > k) c.fail(idx("rows.top", i), format("must be a list of at most %zu classes", k));
        if (!top_p.is_array() || top_p.size() != top.size())
            c.fail(idx("rows.top_p", i), format("must be a list of %zu probabilities (one per rows.top entry)", top.size()));
        for (size_t t = 0; t < top.size(); ++t) {
            r.top[i].push_back(static_cast<int>(c.integer(top[t], 0, K - 1, idx(idx("rows.top", i), t), class_range)));
            r.top_p[i].push_back(c.number(top_p[t], 0, 1, idx(idx("rows.top_p", i), t)));
        }
    }
    if (rows.contains("blank")) {  // absent in files written before it
        const json& col = c.array(rows, "blank", "rows.");
        if (col.size() != n) c.fail("rows.blank", format("%zu entries, rows.index has %zu", col.size(), n));
        r.blank.emplace(n);
        for (size_t i = 0; i < n; ++i) (*r.blank)[i] = static_cast<int>(c.integer(col[i], 0, 3, idx("rows.blank", i), "a set of flags (0 to 3)"));
    }
    if (d.schema < 2) return;
    for (const char* key : {"p_true", "flags", "lscore", "centre"}) {
        const json& col = c.array(rows, key, "rows.");
        if (col.size() != n) c.fail(std::string("rows.") + key, format("%zu entries, rows.index has %zu", col.size(), n));
    }
    r.p_true.resize(n), r.flags.resize(n), r.lscore.resize(n), r.centre.resize(n);
    for (size_t i = 0; i < n; ++i) {
        r.p_true[i] = c.number(rows["p_true"][i], 0, 1, idx("rows.p_true", i));
        r.flags[i] = static_cast<int>(c.integer(rows["flags"][i], 0, 7, idx("rows.flags", i), "a set of flags (0 to 7)"));
        if (!rows["lscore"][i].is_null()) r.lscore[i] = c.number(rows["lscore"][i], -1, 1, idx("rows.lscore", i));
        if (!rows["centre"][i].is_null()) r.centre[i] = c.number(rows["centre"][i], 0, 1, idx("rows.centre", i));
    }
}

void read_confusion(const Checker& c, const json& j, ExplorerData& d, const std::string& class_range) {
    const size_t k = d.classes.size();
    const long long K = static_cast<long long>(k);
    const json& confusion = c.object(j, "confusion");
    ExplorerConfusion& out = d.confusion;
    if (d.schema >= 2 && confusion.contains("cells")) {  // many classes: [[true, pred, count], ...], non-zero only
        out.sparse = true;
        const json& cells = c.array(confusion, "cells", "confusion.");
        if (cells.size() > k * k) c.fail("confusion.cells", format("%zu cells for %zu classes", cells.size(), k));
        for (size_t i = 0; i < cells.size(); ++i) {
            const std::string f = idx("confusion.cells", i);
            if (!cells[i].is_array() || cells[i].size() != 3) c.fail(f, "must be [true, pred, count]");
            out.cells.push_back({c.integer(cells[i][0], 0, K - 1, idx(f, 0), class_range),
                                 c.integer(cells[i][1], 0, K - 1, idx(f, 1), class_range),
                                 c.integer(cells[i][2], 1, kMaxCount, idx(f, 2), "a positive count")});
        }
    } else {
        const json& counts = c.array(confusion, "counts", "confusion.");
        if (counts.size() != k) c.fail("confusion.counts", format("%zu rows for %zu classes", counts.size(), k));
        out.counts.assign(k, std::vector<long long>(k, 0));
        for (size_t t = 0; t < k; ++t) {
            const std::string f = idx("confusion.counts", t);
            if (!counts[t].is_array() || counts[t].size() != k) c.fail(f, format("must be a list of %zu counts", k));
            for (size_t p = 0; p < k; ++p) out.counts[t][p] = c.integer(counts[t][p], 0, kMaxCount, idx(f, p), "a count");
        }
    }
    const json& order = c.array(confusion, "order", "confusion.");
    if (order.size() != k) c.fail("confusion.order", format("%zu entries for %zu classes", order.size(), k));
    std::vector<char> seen(k, 0);
    for (size_t i = 0; i < k; ++i) {
        const auto v = static_cast<size_t>(c.integer(order[i], 0, K - 1, idx("confusion.order", i), class_range));
        if (seen[v]) c.fail(idx("confusion.order", i), format("class %zu appears twice (the order must list each class once)", v));
        seen[v] = 1;
        out.order.push_back(static_cast<int>(v));
    }
}

// "flips" and rows.flip (schema 2, optional): a class or -1 per row, errors only, the counts those
// of the rows (each kind as rows.flip says: the true class, the predicted one, another).
void read_flips(const Checker& c, const json& j, ExplorerData& d, long long K) {
    const json& fl = c.object(j, "flips");
    ExplorerFlips out;
    out.fraction = c.number(c.member(fl, "fraction", "flips."), 0, 1, "flips.fraction");
    long long* counts[] = {&out.tested, &out.distractor, &out.missing, &out.unstable};
    const char* names[] = {"tested", "distractor", "missing", "unstable"};
    for (int i = 0; i < 4; ++i)
        *counts[i] = c.integer(c.member(fl, names[i], "flips."), 0, kMaxCount, std::string("flips.") + names[i], "a count");
    out.headline = c.string(c.member(fl, "headline", "flips."), "flips.headline");
    const size_t n = d.rows.size();
    const json& col = c.array(j["rows"], "flip", "rows.");
    if (col.size() != n) c.fail("rows.flip", format("%zu entries, rows.index has %zu", col.size(), n));
    d.rows.flip.emplace(n);
    long long seen[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; ++i) {
        const int v = static_cast<int>(c.integer(col[i], -1, K - 1, idx("rows.flip", i), "a class index or -1"));
        (*d.rows.flip)[i] = v;
        if (v < 0) continue;
        if (d.rows.label[i] == d.rows.pred[i]) c.fail(idx("rows.flip", i), "a correct row (the flip test tests errors only)");
        ++seen[0];
        ++seen[v == d.rows.label[i] ? 1 : v == d.rows.pred[i] ? 2 : 3];
    }
    for (int i = 0; i < 4; ++i)
        if (seen[i] != *counts[i])
            c.fail(std::string("flips.") + names[i], format("%lld, rows.flip has %lld", *counts[i], seen[i]));
    d.flips = std::move(out);
}

}  // namespace

ExplorerData explorer_from_json(const json& j, const std::string& name) {
    const Checker c(name);
    ExplorerData d;
    if (!j.is_object()) c.fail("the explorer data", "must be an object");
    if (json_depth(j, kMaxDepth) > kMaxDepth) c.fail("the explorer data", format("nested more than %d levels deep", kMaxDepth));
    if (!j.contains("schema") || !j["schema"].is_number_integer() ||
        (j["schema"].get<std::int64_t>() != 1 && j["schema"].get<std::int64_t>() != 2))
        c.fail("schema", "this camscope reads explorer data schemas 1 and 2, the file has " +
                             (j.contains("schema") ? Checker::snippet(j["schema"]) : std::string("none")));
    d.schema = static_cast<int>(j["schema"].get<std::int64_t>());
    d.run = c.object(j, "run");
    for (const char* key : {"method", "layer", "model_path", "dataset_path"})
        if (d.run.contains(key)) c.string(d.run[key], std::string("run.") + key);
    d.method = d.run.value("method", "");
    d.layer = d.run.value("layer", "");
    d.overall = c.object(j, "overall");
    d.calibration = c.object(j, "calibration");

    const json& classes = c.array(j, "classes");
    const size_t k = classes.size();
    if (k == 0) c.fail("classes", "empty");
    if (k > 100000) c.fail("classes", format("%zu classes (at most 100000)", k));
    for (size_t i = 0; i < k; ++i) d.classes.push_back(c.string(classes[i], idx("classes", i)));
    const long long K = static_cast<long long>(k);
    const std::string class_range = format("a class index (the data has %zu classes)", k);

    const json& per_class = c.array(j, "per_class");
    if (per_class.size() != k) c.fail("per_class", format("%zu entries for %zu classes", per_class.size(), k));
    for (size_t i = 0; i < k; ++i) {
        if (!per_class[i].is_object()) c.fail(idx("per_class", i), "must be an object");
        d.per_class.push_back(per_class[i]);
    }

    read_confusion(c, j, d, class_range);

    const json& pairs = c.array(j, "pairs");
    for (size_t i = 0; i < pairs.size(); ++i) {
        const std::string f = idx("pairs", i);
        if (!pairs[i].is_object()) c.fail(f, "must be an object");
        ExplorerPair p;
        p.truth = static_cast<int>(c.integer(c.member(pairs[i], "true", f + "."), 0, K - 1, f + ".true", class_range));
        p.pred = static_cast<int>(c.integer(c.member(pairs[i], "pred", f + "."), 0, K - 1, f + ".pred", class_range));
        p.count = c.integer(c.member(pairs[i], "count", f + "."), 0, kMaxCount, f + ".count", "a count");
        p.rate = c.number(c.member(pairs[i], "rate", f + "."), 0, 1, f + ".rate");
        if (pairs[i].contains("rate_ci") && !pairs[i]["rate_ci"].is_null()) {
            const json& ci = pairs[i]["rate_ci"];
            if (!ci.is_array() || ci.size() != 2) c.fail(f + ".rate_ci", "must be a list [lo, hi]");
            p.rate_ci = std::array<double, 2>{c.number(ci[0], 0, 1, f + ".rate_ci[0]"),
                                              c.number(ci[1], 0, 1, f + ".rate_ci[1]")};
        }
        d.pairs.push_back(p);
    }

    read_rows(c, c.object(j, "rows"), d, class_range);
    const size_t n = d.rows.size();

    if (j.contains("cam_health")) {  // not read by the server; checked where present
        const json& h = c.object(j, "cam_health");
        d.cam_health = read_count(c, h, "cam_health");
        const json& w = c.array(h, "warning", "cam_health.");
        for (size_t i = 0; i < w.size(); ++i) d.cam_health_warning.push_back(c.string(w[i], idx("cam_health.warning", i)));
    }

    const json& galleries = c.array(j, "galleries");
    if (galleries.size() != k) c.fail("galleries", format("%zu galleries for %zu classes", galleries.size(), k));
    const std::string row_range = format("a row (the data has %zu rows)", n);
    for (size_t g = 0; g < k; ++g) {
        const std::string f = idx("galleries", g);
        if (!galleries[g].is_object()) c.fail(f, "must be an object");
        ExplorerGallery gallery;
        gallery.cls = static_cast<int>(c.integer(c.member(galleries[g], "cls", f + "."), 0, K - 1, f + ".cls", class_range));
        if (gallery.cls != static_cast<long long>(g))
            c.fail(f + ".cls", format("gallery %zu is for class %s (galleries are in class order)", g,
                                      galleries[g]["cls"].dump().c_str()));
        for (auto [key, out] : {std::pair{"worst", &gallery.worst}, std::pair{"best", &gallery.best}}) {
            const json& list = c.array(galleries[g], key, f + ".");
            for (size_t i = 0; i < list.size(); ++i)
                out->push_back(static_cast<size_t>(c.integer(list[i], 0, static_cast<long long>(n) - 1, idx(f + "." + key, i), row_range)));
        }
        d.galleries.push_back(std::move(gallery));
    }
    if (d.schema >= 2) read_schema2(c, j, d, class_range, row_range);
    if (d.schema >= 2 && j.contains("failure_modes")) {  // absent in files written before
        const json& modes = c.array(j, "failure_modes");
        std::vector<ExplorerFailureMode> out;
        for (size_t i = 0; i < modes.size(); ++i) {
            const std::string f = idx("failure_modes", i);
            if (!modes[i].is_object()) c.fail(f, "must be an object");
            ExplorerFailureMode m;
            m.id = static_cast<int>(c.integer(c.member(modes[i], "id", f + "."), static_cast<long long>(i),
                                              static_cast<long long>(i), f + ".id", "its position in the list"));
            m.cls = static_cast<int>(c.integer(c.member(modes[i], "cls", f + "."), 0, K - 1, f + ".cls", class_range));
            m.mode = static_cast<int>(c.integer(c.member(modes[i], "mode", f + "."), 1, 1000, f + ".mode", "a mode number"));
            m.errors = c.integer(c.member(modes[i], "errors", f + "."), 0, kMaxCount, f + ".errors", "a count");
            m.description = c.string(c.member(modes[i], "description", f + "."), f + ".description");
            out.push_back(std::move(m));
        }
        const json& rows = j["rows"];
        const json& col = c.array(rows, "mode", "rows.");
        if (col.size() != n) c.fail("rows.mode", format("%zu entries, rows.index has %zu", col.size(), n));
        d.rows.mode.emplace(n);
        const long long last = static_cast<long long>(out.size()) - 1;
        for (size_t i = 0; i < n; ++i)
            (*d.rows.mode)[i] = static_cast<int>(c.integer(col[i], -1, last, idx("rows.mode", i), "a failure mode id or -1"));
        d.failure_modes = std::move(out);
    }
    if (d.schema >= 2 && j.contains("flips")) read_flips(c, j, d, K);  // absent in files written before
    if (d.schema >= 2 && j.contains("sanity")) {
        const json& s = c.object(j, "sanity");
        ExplorerSanity out;
        const json& passed = c.member(s, "passed", "sanity.");
        if (!passed.is_boolean()) c.fail("sanity.passed", "must be true or false");
        out.passed = passed.get<bool>();
        out.headline = c.string(c.member(s, "headline", "sanity."), "sanity.headline");
        const json& w = c.array(s, "warning", "sanity.");
        for (size_t i = 0; i < w.size(); ++i) out.warning.push_back(c.string(w[i], idx("sanity.warning", i)));
        d.sanity = std::move(out);
    }
    return d;
}

json explorer_data_js_json(std::string_view text, const std::string& name) {
    const size_t at = text.find(kExplorerDataPrefix);
    const size_t end = text.rfind('}');
    if (at == std::string_view::npos || end == std::string_view::npos || end < at + kExplorerDataPrefix.size())
        throw Error(where(name, "not an explorer data file (expected `window.CAMSCOPE_DATA = {...};`)"));
    for (size_t i = end + 1; i < text.size(); ++i)
        if (text[i] != ';' && text[i] != '\n' && text[i] != '\r' && text[i] != ' ')
            throw Error(where(name, format("unexpected bytes after the data (offset %zu)", i)));
    const auto body = text.substr(at + kExplorerDataPrefix.size(), end + 1 - at - kExplorerDataPrefix.size());
    json j = json::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_discarded()) throw Error(where(name, "the explorer data is not valid JSON"));
    return j;
}

json parse_explorer_data_js(const std::string& text, const std::string& name) {
    json j = explorer_data_js_json(text, name);
    (void)explorer_from_json(j, name);
    return j;
}

}  // namespace camscope
