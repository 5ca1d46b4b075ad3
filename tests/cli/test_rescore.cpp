// `camscope rescore` (report/rescore.hpp) through the binary, on analyses of the fixture set: a
// small hand-written tags file whose effect is counted here, row by row, from the per-image
// predictions (NumPy's argmax of the store's logits) and the report's own tables (its confusion
// matrix, per-class table and likely label errors); an A/B ranking flip on a constructed case (the
// tags chosen from both models' predictions so that B overtakes A); the refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;
using nlohmann::json;

namespace {

const std::string kOpts = " -b 16 --faithfulness-n 0 --pair-figures 0 ";

/// Model A: the fixture model; model B: the same model fed ImageNet's normalisation (a second
/// configuration with other errors, as test_store.cpp's comparisons). Each made once.
const fs::path& report_a() {
    static const fs::path dir = [] {
        auto d = tmpdir("rescore_a");
        auto r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "-o " + d.string(), 300);
        EXPECT_EQ(r.code, 0) << r.out;
        return d;
    }();
    return dir;
}
const fs::path& report_b() {
    static const fs::path dir = [] {
        auto d = tmpdir("rescore_b");
        auto r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + " --norm imagenet" + kOpts + "-o " + d.string(),
                     300);
        EXPECT_EQ(r.code, 0) << r.out;
        return d;
    }();
    return dir;
}

/// The labels and both models' predictions, read with NumPy (argmax of logits.npy).
struct Preds {
    std::vector<int> y, a, b;
};
Preds preds() {
    const auto r = run_command("/usr/bin/python3 -c \"import json, sys, numpy as np; y = np.load(sys.argv[1] + "
                               "'/store/label.npy'); print(json.dumps({'y': y.tolist(), 'a': np.load(sys.argv[1] + "
                               "'/store/logits.npy').argmax(1).tolist(), 'b': np.load(sys.argv[2] + "
                               "'/store/logits.npy').argmax(1).tolist()}))\" " +
                               report_a().string() + " " + report_b().string());
    EXPECT_EQ(r.code, 0) << r.out;
    const json j = json::parse(r.out);
    return {j["y"].get<std::vector<int>>(), j["a"].get<std::vector<int>>(), j["b"].get<std::vector<int>>()};
}

fs::path write_tags(const std::string& name, const json& tags) {
    const fs::path p = tmpdir(name);
    std::ofstream(p) << json{{"tags", tags}}.dump();
    return p;
}

int correct(const std::vector<int>& labels, const std::vector<int>& pred) {
    int c = 0;
    for (size_t i = 0; i < labels.size(); ++i) c += labels[i] == pred[i];
    return c;
}

std::string rel(int k) { return "relabel:" + std::to_string(k); }

}  // namespace

TEST(Rescore, CountedByHandOnASmallTaggedSet) {
    const fs::path rep = report_a();
    const Preds p = preds();
    const size_t n = p.y.size();
    ASSERT_EQ(n, 200u);
    const json summary = json::parse(slurp(rep / "summary.json"));
    const json& likely = summary["label_issues"]["items"];
    ASSERT_GE(likely.size(), 4u) << "the fixture's report lists fewer than 4 likely label errors";
    std::set<size_t> listed;
    for (const auto& it : likely) listed.insert(it["row"].get<size_t>());

    // Rows off the likely list: two errors given the predicted class as their label (they become
    // right), one right image given another class (it becomes wrong).
    std::vector<size_t> wrong, right;
    for (size_t r = 0; r < n; ++r)
        if (!listed.count(r)) (p.a[r] != p.y[r] ? wrong : right).push_back(r);
    ASSERT_GE(wrong.size(), 2u);
    const size_t w1 = wrong[0], w2 = wrong[1], c1 = right[0];
    // Likely label errors: relabelled to the suggested class, marked ok, flagged without a label,
    // given the label they had.
    const size_t l1 = likely[0]["row"], l2 = likely[1]["row"], l3 = likely[2]["row"], l4 = likely[3]["row"];
    const int s1 = likely[0]["suggested"];
    const size_t amb = right[1];
    const json tags = {{std::to_string(w1), {"relabel", rel(p.a[w1])}},
                       {std::to_string(w2), {rel(p.a[w2])}},
                       {std::to_string(c1), {"relabel", rel((p.y[c1] + 1) % 10)}},
                       {std::to_string(l1), {"relabel", rel(s1)}},
                       {std::to_string(l2), {"ok"}},
                       {std::to_string(l3), {"relabel", "ambiguous"}},
                       {std::to_string(l4), {rel(p.y[l4])}},
                       {std::to_string(amb), {"ambiguous"}}};
    const fs::path tags_file = write_tags("rescore_tags.json", tags);

    const auto before = files_with_bytes(rep);
    auto r = run("rescore " + rep.string() + " --tags " + tags_file.string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("1 tagged \"relabel\" without a chosen label: not applied"), std::string::npos) << r.out;
    // The report's own files: not one byte changed; the rescoring beside them.
    auto after = files_with_bytes(rep);
    for (auto it = after.begin(); it != after.end();) it = it->first.rfind("rescored/", 0) == 0 ? after.erase(it) : std::next(it);
    EXPECT_TRUE(before == after);
    const fs::path out = rep / "rescored";
    for (const char* f : {"rescored_summary.json", "per_class_rescored.csv", "confusion_matrix_rescored.csv", "changed_images.csv"})
        EXPECT_TRUE(fs::exists(out / f)) << f;

    // The labels after the review, by hand.
    std::vector<int> y2 = p.y;
    y2[w1] = p.a[w1], y2[w2] = p.a[w2], y2[c1] = (p.y[c1] + 1) % 10, y2[l1] = s1;
    const int correct_before = correct(p.y, p.a);
    EXPECT_EQ(correct_before, summary["overall"]["correct"].get<int>());
    const int expect_after = correct_before + 2 - 1 + (p.a[l1] == s1) - (p.a[l1] == p.y[l1]);
    ASSERT_EQ(correct(y2, p.a), expect_after);

    const json s = json::parse(slurp(out / "rescored_summary.json"));
    EXPECT_EQ(s["images"], 200);
    EXPECT_EQ(s["tagged"], 8);
    EXPECT_EQ(s["relabelled"], 4);
    EXPECT_EQ(s["a"]["correct_before"], correct_before);
    EXPECT_EQ(s["a"]["correct_after"], expect_after);
    EXPECT_DOUBLE_EQ(s["a"]["accuracy_after"].get<double>(), expect_after / 200.0);
    EXPECT_EQ(s["flagged_no_label"]["rows"], json::array({l3}));
    EXPECT_EQ(s["kept_label"]["rows"], json::array({l4}));
    EXPECT_EQ(s["marked_ok"], 1);
    EXPECT_FALSE(s.contains("ranking"));  // one analysis: no A/B
    const json& le = s["likely_label_errors"];
    EXPECT_EQ(le["count"], likely.size());  // the report's own list
    EXPECT_EQ(le["confirmed"], 1);
    EXPECT_EQ(le["confirmed_as_suggested"], 1);
    EXPECT_EQ(le["marked_ok"], 1);
    EXPECT_EQ(le["flagged_no_label"], 1);
    EXPECT_EQ(le["kept_label"], 1);
    EXPECT_EQ(le["unreviewed"], likely.size() - 4);
    EXPECT_EQ(le["relabelled_not_listed"], 3);

    // changed_images.csv: the four relabelled rows, in row order, each with its labels and A's prediction.
    const auto changed = read_csv(out / "changed_images.csv");
    std::vector<size_t> rows{w1, w2, c1, l1};
    std::sort(rows.begin(), rows.end());
    ASSERT_EQ(changed.size(), 5u);
    EXPECT_EQ(changed[0][0], "row");
    for (size_t i = 0; i < rows.size(); ++i) {
        const auto& c = changed[i + 1];
        const size_t row = rows[i];
        EXPECT_EQ(c[0], std::to_string(row));
        EXPECT_EQ(c[2], std::to_string(p.y[row]));
        EXPECT_EQ(c[4], std::to_string(y2[row]));
        EXPECT_EQ(c[6], std::to_string(p.a[row]));
        EXPECT_EQ(c[8], p.a[row] == p.y[row] ? "1" : "0");
        EXPECT_EQ(c[9], p.a[row] == y2[row] ? "1" : "0");
        EXPECT_EQ(c[10], row == l1 ? "1" : "0");
    }

    // The confusion matrix: the report's, with each relabelled image moved from its old row to its new one.
    const auto cm0 = read_csv(rep / "confusion_matrix.csv");
    const auto cm1 = read_csv(out / "confusion_matrix_rescored.csv");
    ASSERT_EQ(cm0.size(), 11u);
    ASSERT_EQ(cm1.size(), 11u);
    EXPECT_EQ(cm1[0], cm0[0]);
    std::vector<std::vector<long long>> want(10, std::vector<long long>(10));
    for (int t = 0; t < 10; ++t)
        for (int q = 0; q < 10; ++q) want[t][q] = std::stoll(cm0[t + 1][q + 1]);
    for (const size_t row : rows) --want[p.y[row]][p.a[row]], ++want[y2[row]][p.a[row]];
    for (int t = 0; t < 10; ++t)
        for (int q = 0; q < 10; ++q) EXPECT_EQ(std::stoll(cm1[t + 1][q + 1]), want[t][q]) << t << "," << q;

    // The per-class table: support and accuracy counted from the reviewed labels; the originals
    // as the report's per-class table has them.
    const auto pc0 = read_csv(rep / "per_class_accuracy.csv");
    const auto pc1 = read_csv(out / "per_class_rescored.csv");
    ASSERT_EQ(pc1.size(), 11u);
    EXPECT_EQ(pc1[0][2], "support");
    EXPECT_EQ(pc1[0][3], "accuracy");
    EXPECT_EQ(pc1[0][9], "support_original");
    EXPECT_EQ(pc1[0][10], "accuracy_original");
    for (int k = 0; k < 10; ++k) {
        int support = 0, hits = 0;
        for (size_t i = 0; i < n; ++i)
            if (y2[i] == k) ++support, hits += p.a[i] == k;
        EXPECT_EQ(std::stoi(pc1[k + 1][2]), support) << k;
        EXPECT_NEAR(std::stod(pc1[k + 1][3]), support ? double(hits) / support : 0.0, 1e-6) << k;
        EXPECT_EQ(pc1[k + 1][9], pc0[k + 1][2]) << k;   // support
        EXPECT_EQ(pc1[k + 1][10], pc0[k + 1][3]) << k;  // accuracy
    }

    // The offline explorer's "tagged JSON" download (web/explorer/export.js) gives the same rescoring.
    json images = json::array();
    for (const auto& [row, list] : tags.items())
        images.push_back({{"row", std::stoul(row)}, {"index", std::stoul(row)}, {"label", p.y[std::stoul(row)]}, {"tags", list}});
    const fs::path exported = tmpdir("rescore_export.json");
    std::ofstream(exported) << json{{"run", kTinyModel}, {"images", images}}.dump();
    const fs::path out2 = tmpdir("rescore_export_out");
    r = run("-q rescore " + rep.string() + " --tags " + exported.string() + " --out " + out2.string());
    ASSERT_EQ(r.code, 0) << r.out;
    json s2 = json::parse(slurp(out2 / "rescored_summary.json")), s_file = s;
    s_file.erase("tags"), s2.erase("tags");
    EXPECT_EQ(s_file, s2);
    EXPECT_EQ(slurp(out2 / "changed_images.csv"), slurp(out / "changed_images.csv"));

    // Again: the rescoring folder is replaced whole.
    r = run("-q rescore " + rep.string() + " --tags " + write_tags("rescore_tags_none.json", json::object()).string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(json::parse(slurp(out / "rescored_summary.json"))["relabelled"], 0);
    EXPECT_EQ(read_csv(out / "changed_images.csv").size(), 1u);
}

TEST(Rescore, TheRankingOfTwoModelsFlipsOnAConstructedCase) {
    const Preds p = preds();
    const size_t n = p.y.size();
    int ca = correct(p.y, p.a), cb = correct(p.y, p.b);
    ASSERT_GT(ca, cb) << "A is expected to lead on the fixture";
    // Constructed: images A gets right and B wrong take B's answer as their label (A loses one, B
    // gains one), then images both get wrong take B's answer (B gains one), until B leads.
    json tags = json::object();
    std::vector<int> y2 = p.y;
    for (int pass = 0; pass < 2 && ca >= cb; ++pass)
        for (size_t r = 0; r < n && ca >= cb; ++r) {
            const bool take = pass == 0 ? (p.a[r] == p.y[r] && p.b[r] != p.y[r]) : (p.a[r] != p.y[r] && p.b[r] != p.y[r] && p.b[r] != p.a[r]);
            if (!take) continue;
            tags[std::to_string(r)] = {"relabel", rel(p.b[r])};
            y2[r] = p.b[r];
            ca = correct(y2, p.a), cb = correct(y2, p.b);
        }
    ASSERT_LT(ca, cb) << "no tags make B lead";
    const fs::path tags_file = write_tags("rescore_flip.json", tags);
    const fs::path out = tmpdir("rescore_flip_out");
    auto r = run("rescore " + report_a().string() + " --other " + report_b().string() + " --tags " + tags_file.string() +
                 " --out " + out.string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("A ranks first with the given labels, B ranks first with the reviewed ones: the ranking CHANGES"),
              std::string::npos)
        << r.out;
    const json s = json::parse(slurp(out / "rescored_summary.json"));
    EXPECT_EQ(s["a"]["correct_before"], correct(p.y, p.a));
    EXPECT_EQ(s["b"]["correct_before"], correct(p.y, p.b));
    EXPECT_EQ(s["a"]["correct_after"], ca);
    EXPECT_EQ(s["b"]["correct_after"], cb);
    EXPECT_EQ(s["ranking"]["before"], "A ranks first");
    EXPECT_EQ(s["ranking"]["after"], "B ranks first");
    EXPECT_EQ(s["ranking"]["changes"], true);
    EXPECT_EQ(read_csv(out / "changed_images.csv")[0][10], "pred_b");

    // One relabelled image does not change it.
    json one = json::object();
    one[tags.begin().key()] = tags.begin().value();
    r = run("-q rescore " + report_a().string() + " --other " + report_b().string() + " --tags " +
            write_tags("rescore_one.json", one).string() + " --out " + out.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const json s1 = json::parse(slurp(out / "rescored_summary.json"));
    EXPECT_EQ(s1["ranking"]["after"], "A ranks first");
    EXPECT_EQ(s1["ranking"]["changes"], false);
}

TEST(Rescore, RefusesWhatItCannotApply) {
    const std::string rep = report_a().string();
    const fs::path out = tmpdir("rescore_refused");
    auto refused = [&](const json& tags_or_text, const std::string& want, const std::string& extra = "") {
        const fs::path f = tmpdir("rescore_bad.json");
        std::ofstream(f) << (tags_or_text.is_string() ? tags_or_text.get<std::string>() : json{{"tags", tags_or_text}}.dump());
        const auto r = run("rescore " + rep + " --tags " + f.string() + " --out " + out.string() + extra);
        EXPECT_NE(r.code, 0) << r.out;
        EXPECT_NE(r.out.find(want), std::string::npos) << r.out;
        EXPECT_NE(r.out.find(f.string()), std::string::npos) << "names the tags file: " << r.out;
        EXPECT_FALSE(fs::exists(out)) << "nothing written";
    };
    refused(json{{"3", {"relabel:10"}}}, "tags[\"3\"][0] chooses class 10; the classes are 0..9");
    refused(json{{"3", {"relabel:1", "relabel:2"}}}, "one chosen label per image");
    refused(json{{"3", {"relabel:01"}}}, "relabel:<class index>");
    refused(json{{"200", {"relabel:1"}}}, "\"200\" is not an image row in [0, 200)");
    refused(std::string("{\"tags\": [1, 2]}"), "not a tags file");
    refused(std::string("{\"tags\": {\"1\": [\"relabel:1\"]"), "not a tags file");
    refused(std::string(R"({"images": [{"row": 4, "tags": ["ok"]}, {"row": 4, "tags": ["relabel:2"]}]})"),
            "images[1].row: row 4 appears twice");
    refused(std::string(R"({"images": [{"row": 4, "tags": ["relabel:12"]}]})"), "images[0].tags[0] chooses class 12");

    // A report without its store: what is missing and how to get it.
    const fs::path bare = tmpdir("rescore_nostore");
    fs::create_directories(bare);
    fs::copy_file(report_a() / "summary.json", bare / "summary.json");
    const fs::path tags = write_tags("rescore_ok.json", json{{"1", {"ok"}}});
    auto r = run("rescore " + bare.string() + " --tags " + tags.string());
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("is a report without its store (store/"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("store=True"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(bare / "rescored"));

    // A second analysis of other images (the first 100 only).
    const fs::path half = tmpdir("rescore_half");
    ASSERT_EQ(run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "--limit 100 -o " + half.string(), 300).code, 0);
    r = run("rescore " + rep + " --other " + half.string() + " --tags " + tags.string() + " --out " + out.string());
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("images analysed: 200 vs 100"), std::string::npos) << r.out;

    // An --out folder of other files is not replaced.
    const fs::path foreign = tmpdir("rescore_foreign");
    fs::create_directories(foreign);
    std::ofstream(foreign / "notes.txt") << "mine";
    r = run("rescore " + rep + " --tags " + tags.string() + " --out " + foreign.string());
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("not a camscope rescoring"), std::string::npos) << r.out;
    EXPECT_EQ(slurp(foreign / "notes.txt"), "mine");
}
