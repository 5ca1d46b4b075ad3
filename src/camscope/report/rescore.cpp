// Re-scoring with reviewed labels (rescore.hpp).
#include "camscope/report/rescore.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "camscope/report/writers.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string num(double v) {
    if (!std::isfinite(v)) return "";
    return format("%.6g", v);
}

std::string pct(double v) { return format("%.2f%%", 100.0 * v); }

void check_complete(const Store& s) {
    if (s.manifest.begin != 0 || s.manifest.end != s.manifest.total)
        throw Error(where(s.path, format("holds images %zu..%zu of %zu (a shard): `camscope merge` the shards first "
                                         "and rescore the merged report",
                                         s.manifest.begin, s.manifest.end ? s.manifest.end - 1 : 0, s.manifest.total)));
}

// What compare_stores checks: the same images (fingerprint, count, split, class names, labels).
void check_same_data(const Store& a, const Store& b) {
    const RunIdentity &ia = a.manifest.identity, &ib = b.manifest.identity;
    std::vector<std::string> diff;
    if (ia.data_fingerprint != ib.data_fingerprint || ia.data_images != ib.data_images || ia.split != ib.split)
        diff.push_back(format("dataset: %s (%s, %llu images, fingerprint %.12s…) vs %s (%s, %llu images, %.12s…)",
                              ia.data_path.c_str(), ia.split.c_str(), static_cast<unsigned long long>(ia.data_images),
                              ia.data_fingerprint.c_str(), ib.data_path.c_str(), ib.split.c_str(),
                              static_cast<unsigned long long>(ib.data_images), ib.data_fingerprint.c_str()));
    if (a.manifest.total != b.manifest.total)
        diff.push_back(format("images analysed: %zu vs %zu (--limit)", a.manifest.total, b.manifest.total));
    if (a.manifest.class_names != b.manifest.class_names)
        diff.push_back("class names differ (" + join(a.manifest.class_names, ", ") + " vs " +
                       join(b.manifest.class_names, ", ") + ")");
    if (!diff.empty()) {
        std::string msg = b.path + " and " + a.path + " are not of the same data; rescoring two models needs the same images:";
        for (const auto& d : diff) msg += "\n  " + d;
        throw Error(msg);
    }
    for (size_t i = 0; i < a.rows.n; ++i)
        if (a.rows.labels[i] != b.rows.labels[i])
            throw Error(format("%s and %s: image %d has label %d in one and %d in the other", a.path.c_str(),
                               b.path.c_str(), a.rows.indices[i], a.rows.labels[i], b.rows.labels[i]));
}

RescoredModel score(const Store& s, const std::vector<int>& before, const std::vector<int>& after) {
    const AnalysisInput& in = s.rows;
    const int k = in.num_classes;
    RescoredModel m;
    m.path = s.path;
    m.identity = s.manifest.identity;
    m.preds = metrics::argmax_rows(in.probs.data(), in.n, k);
    m.confidence.resize(in.n);
    for (size_t i = 0; i < in.n; ++i) m.confidence[i] = in.probs[i * k + m.preds[i]];
    m.confusion_before = metrics::confusion_matrix(before.data(), m.preds.data(), in.n, k);
    m.confusion_after = metrics::confusion_matrix(after.data(), m.preds.data(), in.n, k);
    m.correct_before = m.confusion_before.trace();
    m.correct_after = m.confusion_after.trace();
    m.accuracy_before = in.n ? double(m.correct_before) / double(in.n) : 0.0;
    m.accuracy_after = in.n ? double(m.correct_after) / double(in.n) : 0.0;
    m.per_class_before = metrics::per_class_stats(m.confusion_before, before.data(), m.confidence.data(), in.n);
    m.per_class_after = metrics::per_class_stats(m.confusion_after, after.data(), m.confidence.data(), in.n);
    return m;
}

int ranking(long long a, long long b) { return a > b ? 1 : a < b ? -1 : 0; }

const char* ranking_words(int r) { return r > 0 ? "A ranks first" : r < 0 ? "B ranks first" : "a tie"; }

json model_json(const RescoredModel& m) {
    return {{"store", m.path},
            {"model", m.identity.model_path},
            {"model_sha256", m.identity.model_sha256},
            {"correct_before", m.correct_before},
            {"correct_after", m.correct_after},
            {"accuracy_before", m.accuracy_before},
            {"accuracy_after", m.accuracy_after},
            {"accuracy_change", m.accuracy_after - m.accuracy_before}};
}

}  // namespace

Store read_rescore_store(const std::string& dir) {
    if (!is_store(dir) && !is_store((fs::path(dir) / "store").string())) {
        if (fs::exists(fs::path(dir) / "summary.json"))
            throw Error(where(dir, "is a report without its store (store/: the per-image predictions rescoring "
                                   "needs); `camscope analyze` writes it into every report, Python's "
                                   "camscope.analyze(..., store=True) too: analyze again"));
        throw Error(where(dir, "not a camscope report or store (expected a report folder holding store/manifest.json, "
                               "or a store folder)"));
    }
    Store s = read_store(dir);
    check_complete(s);
    return s;
}

std::string default_rescore_out(const std::string& report) {
    if (is_store(report)) return "";  // a bare store: no report folder to write beside
    return (fs::path(report) / "rescored").string();
}

Rescore rescore(const Store& a, const serve::TagMap& tags, const Store* b) {
    check_complete(a);
    if (b) {
        check_complete(*b);
        check_same_data(a, *b);
    }
    const AnalysisInput& in = a.rows;
    const int k = in.num_classes;
    Rescore r;
    r.class_names = a.manifest.class_names;
    r.n = in.n;
    r.labels_before = in.labels;
    r.labels_after = in.labels;
    std::vector<int> chosen(in.n, -1);
    std::vector<std::uint8_t> flagged(in.n, 0), ok(in.n, 0);
    for (const auto& [row, list] : tags) {
        if (row >= in.n)
            throw Error(format("the tags name image row %zu; %s has %zu rows (tags of another analysis?)", row,
                               a.path.c_str(), in.n));
        if (list.empty()) continue;
        ++r.tagged;
        const int c = serve::chosen_label(list);
        if (c >= k)
            throw Error(format("the tags of row %zu choose class %d; %s has the classes 0..%d", row, c, a.path.c_str(),
                               k - 1));
        chosen[row] = c;
        flagged[row] = std::find(list.begin(), list.end(), "relabel") != list.end();
        ok[row] = std::find(list.begin(), list.end(), "ok") != list.end();
        if (ok[row]) ++r.marked_ok;
        if (c >= 0) {
            if (c == in.labels[row]) r.kept_label.push_back(row);
            else r.labels_after[row] = c;
        } else if (flagged[row]) {
            r.flagged_no_label.push_back(row);
        }
    }
    r.a = score(a, r.labels_before, r.labels_after);
    if (b) {
        r.b = score(*b, r.labels_before, r.labels_after);
        r.ranking_before = ranking(r.a.correct_before, r.b->correct_before);
        r.ranking_after = ranking(r.a.correct_after, r.b->correct_after);
    }
    // The report's likely label errors (the same function on the same probabilities as the report).
    const metrics::LabelIssues issues = metrics::find_label_issues(in.probs.data(), in.labels.data(), in.n, k);
    std::vector<int> suggested(in.n, -1);
    for (const auto& is : issues.issues) suggested[is.row] = is.suggested;
    LabelErrorReview& v = r.review;
    v.likely = static_cast<long long>(issues.issues.size());
    for (const auto& is : issues.issues) {
        const size_t row = is.row;
        const int c = chosen[row];
        if (c >= 0 && c != in.labels[row]) {
            ++v.confirmed;
            v.confirmed_as_suggested += c == is.suggested;
        } else if (c >= 0) {
            ++v.kept_label;
        } else if (flagged[row]) {
            ++v.flagged_no_label;
        } else if (ok[row]) {
            ++v.marked_ok;
        } else {
            ++v.unreviewed;
        }
    }
    for (size_t row = 0; row < in.n; ++row) {
        if (r.labels_after[row] == r.labels_before[row]) continue;
        ChangedImage c;
        c.row = row;
        c.index = in.indices[row];
        c.label_before = r.labels_before[row];
        c.label_after = r.labels_after[row];
        c.pred_a = r.a.preds[row];
        c.pred_b = r.b ? r.b->preds[row] : -1;
        c.suggested = suggested[row];
        c.likely_error = c.suggested >= 0;
        if (!c.likely_error) ++v.relabelled_elsewhere;
        r.changed.push_back(c);
    }
    return r;
}

std::string per_class_rescored_csv(const Rescore& r) {
    std::string s =
        "class_index,class_name,support,accuracy,precision,f1,mean_confidence,most_confused_with,most_confused_count,"
        "support_original,accuracy_original,accuracy_change\n";
    for (size_t i = 0; i < r.a.per_class_after.size(); ++i) {
        const auto& c = r.a.per_class_after[i];
        const auto& o = r.a.per_class_before[i];
        s += std::to_string(c.cls) + "," + csv_field(r.class_names[c.cls]) + "," + std::to_string(c.support) + "," +
             num(c.recall) + "," + num(c.precision) + "," + num(c.f1) + "," + num(c.mean_confidence) + "," +
             (c.most_confused_with >= 0 ? csv_field(r.class_names[c.most_confused_with]) : "") + "," +
             std::to_string(c.most_confused_count) + "," + std::to_string(o.support) + "," + num(o.recall) + "," +
             num(c.recall - o.recall) + "\n";
    }
    return s;
}

std::string confusion_rescored_csv(const Rescore& r) {
    return report_detail::confusion_csv(r.a.confusion_after, r.class_names);
}

std::string changed_images_csv(const Rescore& r) {
    std::string s = "row,index,label_before,label_before_name,label_after,label_after_name,pred_a,pred_a_name,"
                    "correct_a_before,correct_a_after";
    if (r.b) s += ",pred_b,pred_b_name,correct_b_before,correct_b_after";
    s += ",likely_label_error,suggested,suggested_name\n";
    for (const auto& c : r.changed) {
        s += format("%zu,%d,%d,", c.row, c.index, c.label_before) + csv_field(r.class_names[c.label_before]) +
             format(",%d,", c.label_after) + csv_field(r.class_names[c.label_after]) + format(",%d,", c.pred_a) +
             csv_field(r.class_names[c.pred_a]) +
             format(",%d,%d", c.pred_a == c.label_before ? 1 : 0, c.pred_a == c.label_after ? 1 : 0);
        if (r.b)
            s += format(",%d,", c.pred_b) + csv_field(r.class_names[c.pred_b]) +
                 format(",%d,%d", c.pred_b == c.label_before ? 1 : 0, c.pred_b == c.label_after ? 1 : 0);
        s += format(",%d,", c.likely_error ? 1 : 0) + (c.suggested >= 0 ? std::to_string(c.suggested) : "") + "," +
             (c.suggested >= 0 ? csv_field(r.class_names[c.suggested]) : "") + "\n";
    }
    return s;
}

std::string rescored_summary_json(const Rescore& r, const std::string& tags_path) {
    json changed = json::array();
    for (const auto& c : r.changed) {
        json o = {{"row", c.row},
                  {"index", c.index},
                  {"label_before", c.label_before},
                  {"label_after", c.label_after},
                  {"pred_a", c.pred_a},
                  {"likely_label_error", c.likely_error},
                  {"suggested", c.suggested >= 0 ? json(c.suggested) : json(nullptr)}};
        if (r.b) o["pred_b"] = c.pred_b;
        changed.push_back(o);
    }
    json per_class = json::array();
    for (size_t i = 0; i < r.a.per_class_after.size(); ++i) {
        const auto& c = r.a.per_class_after[i];
        const auto& o = r.a.per_class_before[i];
        per_class.push_back({{"index", c.cls},
                             {"name", r.class_names[c.cls]},
                             {"support", c.support},
                             {"correct", c.correct},
                             {"accuracy", c.recall},
                             {"precision", c.precision},
                             {"f1", c.f1},
                             {"support_original", o.support},
                             {"accuracy_original", o.recall}});
    }
    const LabelErrorReview& v = r.review;
    json j = {{"schema", 1},
              {"tags", tags_path},
              {"images", r.n},
              {"tagged", r.tagged},
              {"relabelled", r.changed.size()},
              {"flagged_no_label",
               {{"count", r.flagged_no_label.size()},
                {"rows", r.flagged_no_label},
                {"note", "tagged \"relabel\" without a chosen label (\"relabel:<class>\"): not applied"}}},
              {"kept_label", {{"count", r.kept_label.size()}, {"rows", r.kept_label}}},
              {"marked_ok", r.marked_ok},
              {"a", model_json(r.a)},
              {"per_class", per_class},
              {"likely_label_errors",
               {{"method", "confident learning (Northcutt et al. 2021), as the report's label_issues"},
                {"count", v.likely},
                {"confirmed", v.confirmed},
                {"confirmed_as_suggested", v.confirmed_as_suggested},
                {"flagged_no_label", v.flagged_no_label},
                {"marked_ok", v.marked_ok},
                {"kept_label", v.kept_label},
                {"unreviewed", v.unreviewed},
                {"relabelled_not_listed", v.relabelled_elsewhere}}},
              {"changed_images", changed}};
    if (r.b) {
        j["b"] = model_json(*r.b);
        j["ranking"] = {{"by", "top-1 accuracy"},
                        {"before", ranking_words(r.ranking_before)},
                        {"after", ranking_words(r.ranking_after)},
                        {"changes", r.ranking_changes()}};
    }
    return j.dump(1) + "\n";
}

std::string rescore_text(const Rescore& r, const std::string& out_dir) {
    std::string s = format("%zu of %zu images tagged; %zu relabelled (label changed)", r.tagged, r.n, r.changed.size());
    if (!r.kept_label.empty()) s += format(", %zu given the label they had", r.kept_label.size());
    s += "\n";
    if (!r.flagged_no_label.empty())
        s += format("%zu tagged \"relabel\" without a chosen label: not applied (choose the label in the explorer's "
                    "image view, or tag \"relabel:<class index>\")\n",
                    r.flagged_no_label.size());
    auto line = [&](const char* who, const RescoredModel& m) {
        s += format("%stop-1: %s -> %s (%+.2f pp; %lld -> %lld correct)\n", who, pct(m.accuracy_before).c_str(),
                    pct(m.accuracy_after).c_str(), 100 * (m.accuracy_after - m.accuracy_before), m.correct_before,
                    m.correct_after);
    };
    line(r.b ? "A " : "", r.a);
    if (r.b) {
        line("B ", *r.b);
        s += format("ranking: %s with the given labels, %s with the reviewed ones: %s\n", ranking_words(r.ranking_before),
                    ranking_words(r.ranking_after), r.ranking_changes() ? "the ranking CHANGES" : "unchanged");
    }
    const LabelErrorReview& v = r.review;
    s += format("likely label errors: %lld; the review relabelled %lld (%lld to the suggested class), marked %lld ok, "
                "flagged %lld without a label, left %lld unreviewed; %lld images off the list relabelled\n",
                v.likely, v.confirmed, v.confirmed_as_suggested, v.marked_ok, v.flagged_no_label, v.unreviewed,
                v.relabelled_elsewhere);
    if (!out_dir.empty()) s += "rescored: " + out_dir + "/rescored_summary.json\n";
    return s;
}

void write_rescore(const Rescore& r, const std::string& tags_path, const std::string& out_dir) {
    std::error_code ec;
    if (out_dir.empty()) throw UsageError("the rescoring's folder (--out) is an empty path");
    if (fs::exists(out_dir, ec) && !fs::is_empty(out_dir, ec) && !fs::exists(fs::path(out_dir) / "rescored_summary.json"))
        throw Error(where(out_dir, "exists and holds files that are not a camscope rescoring: choose a new or empty folder"));
    StagedDir stage(out_dir);
    write_file_atomic(stage.path() + "/per_class_rescored.csv", per_class_rescored_csv(r));
    write_file_atomic(stage.path() + "/confusion_matrix_rescored.csv", confusion_rescored_csv(r));
    write_file_atomic(stage.path() + "/changed_images.csv", changed_images_csv(r));
    write_file_atomic(stage.path() + "/rescored_summary.json", rescored_summary_json(r, tags_path));
    stage.commit();
}

std::pair<Rescore, std::string> rescore_and_write(const RescoreRequest& q) {
    const Store a = read_rescore_store(q.report);
    std::optional<Store> b;
    if (!q.other.empty()) b = read_rescore_store(q.other);
    const std::string out = q.out.empty() ? default_rescore_out(q.report) : q.out;
    if (out.empty()) throw UsageError(q.report + " is a store, not a report folder: name the folder for the rescoring (--out)");
    const size_t rows = a.rows.n, classes = static_cast<size_t>(a.rows.num_classes);
    const serve::TagMap tags = q.tags_text.empty() ? serve::read_tags_file(q.tags_path, rows, classes, true)
                                                   : serve::parse_tags(q.tags_text, q.tags_path, rows, classes, true);
    Rescore r = rescore(a, tags, b ? &*b : nullptr);
    write_rescore(r, q.tags_path, out);
    return {std::move(r), out};
}

}  // namespace camscope
