// The analysis store (report/store.hpp) through the binary: what `analyze` stores beside its
// report (read back with NumPy too), shards merged into the report a single process writes (N = 1,
// 3, 4 with uneven slices), merges refused (missing or doubled shard, another model, overlapping
// slices), --shard auto from a scheduler's environment, and --resume after a kill at several points.
// ~540 lines: one suite for the store's life through the binary (write, merge, resume, compare
// refusals), whose cases share the analysed runs they make; safety cases: test_store_safety.cpp.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <map>
#include <set>
#include <regex>

#include <nlohmann/json.hpp>

#include "camscope/util/npy.hpp"
#include "camscope/util/sha256.hpp"
#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;
using nlohmann::json;

namespace {

const std::string kOtherModel = kDir + "/resnet_traced.pt";  // 10 classes, 3x32x32 too
// Batches of 16: 13 batches (the last of 8 images), so 3 and 4 shards get uneven slices
// (5/4/4 and 4/3/3/3 batches) and chunks of 32 images do not divide the set.
const std::string kOpts = " -b 16 --faithfulness-n 6 --pair-figures 2 ";

json manifest() { return json::parse(slurp(kDir + "/manifest.json")); }

/// The report's files with their bytes, minus what differs between any two runs: wall-clock
/// times (summary.json "run.timings_s", the faithfulness "seconds", the "Timings:" line of the text, the
/// store's "seconds").
std::map<std::string, std::string> report_files(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        const std::string name = fs::relative(e.path(), dir).string();
        std::string bytes = slurp(e.path());
        if (name == "summary.json" || name == "store/manifest.json") {
            json j = json::parse(bytes);
            if (j.contains("run")) j["run"].erase("timings_s");
            j.erase("seconds");
            if (j.contains("faithfulness")) j["faithfulness"].erase("seconds");
            bytes = j.dump(1);
        } else if (name == "analysis_summary.txt" || name == "index.html") {
            bytes = std::regex_replace(bytes, std::regex("Timings:[^\n<]*"), "Timings: -");
        }
        out[name] = bytes;
    }
    return out;
}

/// Names of the files whose content differs (or that only one side has).
std::vector<std::string> differing(const std::map<std::string, std::string>& a,
                                   const std::map<std::string, std::string>& b) {
    std::vector<std::string> out;
    for (const auto& [k, v] : a)
        if (!b.count(k) || b.at(k) != v) out.push_back(k);
    for (const auto& [k, v] : b)
        if (!a.count(k)) out.push_back(k + " (only in the second)");
    return out;
}

/// The single-process report, made once for the tests that compare against it.
const fs::path& single_report() {
    static const fs::path dir = [] {
        auto d = tmpdir("store_single");
        auto r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "-o " + d.string(), 300);
        EXPECT_EQ(r.code, 0) << r.out;
        return d;
    }();
    return dir;
}

/// Runs Debian's python3 (numpy) on `script` with `args`; its stdout+stderr and exit status.
std::pair<int, std::string> python(const std::string& script, const std::string& args) {
    const fs::path file = tmpdir("store_check.py");
    { std::ofstream(file) << script; }
    FILE* p = popen(("/usr/bin/python3 " + file.string() + " " + args + " 2>&1").c_str(), "r");
    std::string out;
    char buf[512];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = p ? pclose(p) : -1;
    return {status, out};
}

/// Model B of the comparisons: the fixture model fed ImageNet's normalisation instead of CIFAR-10's:
/// a second configuration that gets some images right that A gets wrong, and the reverse
/// (resnet_traced.pt, untrained, would only break). Made once.
const fs::path& model_b_report() {
    static const fs::path dir = [] {
        auto d = tmpdir("store_compare_b");
        auto r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + " --norm imagenet -b 16 --faithfulness-n 0 -o " +
                         d.string(), 300);
        EXPECT_EQ(r.code, 0) << r.out;
        return d;
    }();
    return dir;
}

std::string shard_cmd(const std::string& model, const std::string& shard, const fs::path& out) {
    return "-q analyze -m " + model + " -d " + kTinyData + kOpts + "--shard " + shard + " -o " + out.string();
}

}  // namespace

TEST(Store, AnalyzeStoresThePerImageResultsBesideTheReport) {
    const fs::path dir = single_report();
    const fs::path st = dir / "store";
    ASSERT_TRUE(fs::exists(st / "manifest.json"));
    const json m = json::parse(slurp(st / "manifest.json"));
    EXPECT_EQ(m["format"], "camscope-store");
    EXPECT_EQ(m["schema"], 1);
    EXPECT_EQ(m["camscope_version"], "0.1.0");
    EXPECT_EQ(m["identity"]["model"]["sha256"], sha256_hex(slurp(kTinyModel)));
    EXPECT_EQ(m["identity"]["dataset"]["images"], 200);
    EXPECT_EQ(m["identity"]["cam"]["method"], "gradcam");
    EXPECT_EQ(m["identity"]["input"]["height"], 32);
    EXPECT_EQ(m["batch_size"], 16);
    EXPECT_EQ(m["total"], 200);
    EXPECT_EQ(m["rows"]["begin"], 0);
    EXPECT_EQ(m["rows"]["end"], 200);
    // The report's identity is the store's.
    EXPECT_EQ(json::parse(slurp(dir / "summary.json"))["identity"], m["identity"]);

    // Against Python's logits and the fixture's labels (manifest.json of the fixtures).
    const auto ref = read_npy(kDir + "/tiny_cifar10_expected_preds.npy").as_float();
    const auto labels = manifest()["datasets"]["tiny_cifar10"]["test_labels"].get<std::vector<int>>();
    const NpyArray logits = read_npy((st / "logits.npy").string());
    ASSERT_EQ(logits.dtype, "<f4");
    ASSERT_EQ(logits.shape, (std::vector<std::int64_t>{200, 10}));
    const auto lg = logits.as_float();
    for (size_t i = 0; i < lg.size(); ++i) ASSERT_NEAR(lg[i], ref[i], 1e-3) << "logit " << i;
    const auto index = read_npy((st / "index.npy").string()).as_int();
    const auto label = read_npy((st / "label.npy").string()).as_int();
    const auto pred = read_npy((st / "pred.npy").string()).as_int();
    const NpyArray cam_pred = read_npy((st / "cam_pred.npy").string());
    const NpyArray cam_true = read_npy((st / "cam_true.npy").string());
    const NpyArray degenerate = read_npy((st / "degenerate.npy").string());
    ASSERT_EQ(cam_pred.shape.size(), 3u);
    ASSERT_EQ(cam_pred.shape[0], 200);
    EXPECT_EQ(cam_true.shape, cam_pred.shape);
    EXPECT_EQ(m["cam_size"]["height"], cam_pred.shape[1]);
    ASSERT_EQ(degenerate.shape, (std::vector<std::int64_t>{200, 2}));
    const auto cp = cam_pred.as_float(), ct = cam_true.as_float();
    const auto dg = degenerate.as_int();
    const size_t hw = static_cast<size_t>(cam_pred.shape[1] * cam_pred.shape[2]);
    int correct = 0;
    for (int i = 0; i < 200; ++i) {
        EXPECT_EQ(index[i], i);
        EXPECT_EQ(label[i], labels[i]);
        const float* l = &ref[i * 10];
        EXPECT_EQ(pred[i], std::max_element(l, l + 10) - l) << i;
        correct += pred[i] == labels[i];
        float mp = 0, mt = 0;
        for (size_t k = 0; k < hw; ++k) mp = std::max(mp, cp[i * hw + k]), mt = std::max(mt, ct[i * hw + k]);
        EXPECT_EQ(dg[2 * i], mp <= 0 ? 1 : 0) << i;  // no positive evidence: an all-zero map
        EXPECT_EQ(dg[2 * i + 1], mt <= 0 ? 1 : 0) << i;
        if (pred[i] == labels[i]) {  // a correct prediction's true-class map is its predicted-class map
            for (size_t k = 0; k < hw; ++k) ASSERT_EQ(cp[i * hw + k], ct[i * hw + k]) << i;
        }
    }
    EXPECT_NEAR(json::parse(slurp(dir / "summary.json"))["overall"]["top1"].get<double>(), correct / 200.0, 1e-12);
}

TEST(Store, NumPyReadsTheStoreWithoutCamscope) {
    const fs::path st = single_report() / "store";
    // Debian's python3 with numpy (scripts/install-deps.sh): accuracy from the arrays alone.
    const std::string py =
        "import json,sys,numpy as np; d=sys.argv[1]; m=json.load(open(d+'/manifest.json'));"
        "a={k:np.load(d+'/'+k+'.npy') for k in m['arrays']};"
        "assert all(list(a[k].shape)==m['arrays'][k]['shape'] and a[k].dtype.str==m['arrays'][k]['dtype'] for k in a);"
        "assert (a['pred']==a['logits'].argmax(1)).all();"
        "print('top1 %.6f' % (a['pred']==a['label']).mean())";
    FILE* p = popen(("/usr/bin/python3 -c \"" + py + "\" " + st.string() + " 2>&1").c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ASSERT_EQ(pclose(p), 0) << out;
    const double top1 = json::parse(slurp(single_report() / "summary.json"))["overall"]["top1"].get<double>();
    EXPECT_EQ(out, format("top1 %.6f\n", top1));
}

TEST(Store, MergedShardsEqualTheSingleProcessReport) {
    const auto single = report_files(single_report());
    ASSERT_TRUE(single.count("store/logits.npy"));
    ASSERT_TRUE(single.count("faithfulness.csv"));
    const std::vector<std::vector<std::pair<int, int>>> expect_rows = {
        {{0, 200}},
        {{0, 80}, {80, 144}, {144, 200}},             // 5, 4, 4 batches of 16
        {{0, 64}, {64, 112}, {112, 160}, {160, 200}},  // 4, 3, 3, 3
    };
    for (const auto& rows : expect_rows) {
        const int n = static_cast<int>(rows.size());
        const fs::path root = tmpdir("store_merge_" + std::to_string(n));
        std::string stores;
        for (int k = 0; k < n; ++k) {
            const fs::path out = root / ("shard" + std::to_string(k));
            auto r = run(shard_cmd(kTinyModel, std::to_string(k) + "/" + std::to_string(n), out), 300);
            ASSERT_EQ(r.code, 0) << r.out;
            EXPECT_FALSE(fs::exists(out / "summary.json")) << "a shard writes its store only";
            const json m = json::parse(slurp(out / "manifest.json"));
            EXPECT_EQ(m["rows"]["begin"], rows[k].first) << k << "/" << n;
            EXPECT_EQ(m["rows"]["end"], rows[k].second) << k << "/" << n;
            EXPECT_EQ(m["shard"]["k"], k);
            EXPECT_EQ(m["shard"]["n"], n);
            std::string piece(1, ' ');  // (not " " + ...: GCC 12 warns falsely about that, -Wrestrict)
            piece += out.string();
            stores = piece + stores;  // given in reverse order: merge sorts them
        }
        const fs::path merged = root / "report";
        auto r = run("-q merge" + stores + " " + kOpts.substr(kOpts.find("--faith")) + "-o " + merged.string(), 300);
        ASSERT_EQ(r.code, 0) << r.out;
        const auto got = report_files(merged);
        EXPECT_EQ(differing(single, got), std::vector<std::string>{}) << "N = " << n;
    }
}

TEST(Store, MergeRefusesPartsThatDoNotMakeOneRun) {
    const fs::path root = tmpdir("store_refuse");
    for (int k = 0; k < 4; ++k)
        ASSERT_EQ(run(shard_cmd(kTinyModel, std::to_string(k) + "/4", root / format("s%d", k)), 300).code, 0);
    ASSERT_EQ(run(shard_cmd(kTinyModel, "0/3", root / "three0"), 300).code, 0);
    ASSERT_EQ(run(shard_cmd(kOtherModel, "2/4", root / "other2"), 300).code, 0);
    const std::string s0 = (root / "s0").string(), s1 = (root / "s1").string(), s2 = (root / "s2").string(),
                      s3 = (root / "s3").string();
    const fs::path out = root / "report";
    auto merge = [&](const std::string& stores) { return run("-q merge " + stores + " -o " + out.string(), 300); };

    auto r = merge(s0 + " " + s1 + " " + s3);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("shard 2/4 (images 112..159) is missing"), std::string::npos) << r.out;

    r = merge(s0 + " " + s1 + " " + s1 + " " + s2 + " " + s3);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("shard 1/4 is given twice"), std::string::npos) << r.out;

    r = merge(s0 + " " + s1 + " " + (root / "other2").string() + " " + s3);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find((root / "other2").string() + " does not belong with " + s0), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("model: " + s0 + " was computed with "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("; " + (root / "other2").string() + " with "), std::string::npos) << r.out;

    // 0/3 is images 0..79, 1/4 starts at 64.
    r = merge((root / "three0").string() + " " + s1 + " " + s2 + " " + s3);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("(images 64..111) overlaps " + (root / "three0").string() + " (images up to 79)"),
              std::string::npos)
        << r.out;

    // The model at hand is not the one the shards ran: refused before anything is written.
    r = merge(s0 + " " + s1 + " " + s2 + " " + s3 + " -m " + kOtherModel);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find(kOtherModel + " is not the model the stores were computed with"), std::string::npos) << r.out;

    // A shard is not a run to compare, and a shard's --out must not hold other files.
    r = run("-q compare " + s0 + " " + s1 + " --out " + (root / "diff").string());
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find(s0 + ": holds images 0..63 of 200 (a shard): `camscope merge` the shards first"),
              std::string::npos) << r.out;
    fs::create_directories(root / "mine");
    { std::ofstream(root / "mine" / "notes.txt") << "mine"; }
    r = run(shard_cmd(kTinyModel, "0/4", root / "mine"));
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("exists and is not a camscope store"), std::string::npos) << r.out;
    EXPECT_EQ(slurp(root / "mine" / "notes.txt"), "mine");

    // A shard killed before its manifest is no store.
    fs::remove(root / "s3" / "manifest.json");
    r = merge(s0 + " " + s1 + " " + s2 + " " + s3);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find(s3 + ": not a camscope store"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(out)) << "no report from a refused merge";
}

TEST(Store, ShardAutoReadsTheSchedulersEnvironment) {
    const fs::path root = tmpdir("store_auto");
    setenv("SLURM_ARRAY_TASK_ID", "7", 1);  // --array=5-11:2 → tasks 5,7,9,11: the second of 4
    setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
    setenv("SLURM_ARRAY_TASK_STEP", "2", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
    auto r = run(shard_cmd(kTinyModel, "auto", root / "slurm"), 300);
    for (const char* v : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_STEP", "SLURM_ARRAY_TASK_COUNT"})
        unsetenv(v);
    ASSERT_EQ(r.code, 0) << r.out;
    json m = json::parse(slurp(root / "slurm" / "manifest.json"));
    EXPECT_EQ(m["shard"]["k"], 1);
    EXPECT_EQ(m["shard"]["n"], 4);
    EXPECT_EQ(m["rows"]["begin"], 64);

    setenv("JOB_COMPLETION_INDEX", "2", 1);
    r = run(shard_cmd(kTinyModel, "auto", root / "k8s"), 300);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--shard-count"), std::string::npos) << r.out;
    r = run(shard_cmd(kTinyModel, "auto", root / "k8s") + " --shard-count 3", 300);
    unsetenv("JOB_COMPLETION_INDEX");
    ASSERT_EQ(r.code, 0) << r.out;
    m = json::parse(slurp(root / "k8s" / "manifest.json"));
    EXPECT_EQ(m["shard"]["k"], 2);
    EXPECT_EQ(m["rows"]["begin"], 144);
    EXPECT_EQ(m["rows"]["end"], 200);

    r = run(shard_cmd(kTinyModel, "auto", root / "none"));
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("SLURM_ARRAY_TASK_ID"), std::string::npos) << r.out;
    // 200 images in batches of 16 are 13 batches: 14 shards would leave one empty.
    r = run(shard_cmd(kTinyModel, "13/14", root / "bad"));
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("too few for 14 shards"), std::string::npos) << r.out;
    for (const char* bad : {"3/3", "1/0", "x/4", "2"}) {
        r = run(shard_cmd(kTinyModel, bad, root / "bad"));
        EXPECT_EQ(r.code, 2) << bad << ": " << r.out;
    }
    EXPECT_FALSE(fs::exists(root / "none"));
    EXPECT_FALSE(fs::exists(root / "bad"));
}

TEST(Store, ResumeAfterAKillGivesTheSameReport) {
    const auto single = report_files(single_report());
    // Chunks of 32 images: 7 chunks (the last of 8). Killed after the first, a middle and the last.
    for (int killed_after : {0, 3, 6}) {
        const fs::path root = tmpdir("store_resume_" + std::to_string(killed_after));
        const fs::path out = root / "report";
        const std::string base = "-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "-o " + out.string();
        const std::string args = base + " --chunk 32";
        setenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK", std::to_string(killed_after).c_str(), 1);
        auto r = run(args, 300);
        unsetenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK");
        ASSERT_EQ(r.code, 128 + 9) << r.out;
        EXPECT_FALSE(fs::exists(out));
        const fs::path partial = root / "report.partial";
        for (int c = 0; c < 7; ++c)
            EXPECT_EQ(fs::exists(partial / format("chunk-%06d", c) / "manifest.json"), c <= killed_after) << c;

        // The chunks of another model or other CAM options are refused, and left as they were.
        r = run("-q analyze -m " + kOtherModel + " -d " + kTinyData + kOpts + "--chunk 32 --resume -o " + out.string());
        EXPECT_EQ(r.code, 1) << r.out;
        EXPECT_NE(r.out.find("chunk-000000: this chunk was computed by another run"), std::string::npos) << r.out;
        r = run(args + " --method gradcampp --resume");
        EXPECT_EQ(r.code, 1) << r.out;
        // The sides in the right order: the chunk's setting first, then this run's.
        EXPECT_NE(r.out.find("CAM method: chunk-000000 was computed with gradcam; this run uses gradcampp"),
                  std::string::npos)
            << r.out;
        r = run(base + " --chunk 48 --resume");  // another chunk grid
        EXPECT_EQ(r.code, 1) << r.out;

        // Resumed (progress on: it says what it kept), the rest computed, the same report.
        r = run(args.substr(3) + " --resume", 300);
        ASSERT_EQ(r.code, 0) << r.out;
        EXPECT_NE(r.out.find(format("resuming: %d of 7 chunks already done", killed_after + 1)), std::string::npos)
            << r.out;
        EXPECT_FALSE(fs::exists(partial)) << "removed once the report is complete";
        EXPECT_EQ(differing(single, report_files(out)), std::vector<std::string>{}) << "killed after " << killed_after;
    }
}

TEST(Store, CompareTwoModelsOnTheSameData) {
    const fs::path root = tmpdir("store_compare");
    const fs::path b = model_b_report(), diff = root / "diff";
    auto r = run("-q compare " + single_report().string() + " " + b.string() + " --out " + diff.string());
    ASSERT_EQ(r.code, 0) << r.out;
    ASSERT_TRUE(fs::exists(diff / "compare.html"));
    const json c = json::parse(slurp(diff / "compare.json"));

    // The same figures recomputed from the two stores with NumPy and Python's math (exact binomial
    // tail by math.comb, the chi-square p by math.erfc).
    const auto [code, out] = python(R"(
import json, math, sys, numpy as np
A, B = (np.load(d + '/store/logits.npy') for d in sys.argv[1:3])
y = np.load(sys.argv[1] + '/store/label.npy')
pa, pb = A.argmax(1), B.argmax(1)
ra, rb = pa == y, pb == y
fixed, broken = int((~ra & rb).sum()), int((ra & ~rb).sum())
n = fixed + broken
p = min(1.0, 2 * sum(math.comb(n, i) for i in range(min(fixed, broken) + 1)) / 2 ** n) if n else 1.0
chi2 = (max(0, abs(broken - fixed) - 1)) ** 2 / n if n else 0.0
cls = [[int(((y == k) & ~ra & rb).sum()), int(((y == k) & ra & ~rb).sum())] for k in range(A.shape[1])]
pairs = {}
for i in range(len(y)):
    if not ra[i] and rb[i]: pairs.setdefault((int(y[i]), int(pa[i])), [0, 0])[0] += 1
    if ra[i] and not rb[i]: pairs.setdefault((int(y[i]), int(pb[i])), [0, 0])[1] += 1
print(json.dumps({'acc_a': float(ra.mean()), 'acc_b': float(rb.mean()), 'fixed': fixed, 'broken': broken,
                  'both_right': int((ra & rb).sum()), 'p': p, 'chi2': chi2, 'p_chi2': math.erfc(math.sqrt(chi2 / 2)),
                  'per_class': cls, 'pairs': [[k[0], k[1], v[0], v[1]] for k, v in sorted(pairs.items())]}))
)", single_report().string() + " " + b.string());
    ASSERT_EQ(code, 0) << out;
    const json ref = json::parse(out);
    ASSERT_GT(ref["fixed"].get<int>(), 0) << out;
    ASSERT_GT(ref["broken"].get<int>(), 0) << out;
    EXPECT_EQ(c["paired"]["fixed"], ref["fixed"]);
    EXPECT_EQ(c["paired"]["broken"], ref["broken"]);
    EXPECT_EQ(c["paired"]["both_right"], ref["both_right"]);
    EXPECT_NEAR(c["accuracy"]["a"].get<double>(), ref["acc_a"].get<double>(), 1e-12);
    EXPECT_NEAR(c["accuracy"]["b"].get<double>(), ref["acc_b"].get<double>(), 1e-12);
    EXPECT_NEAR(c["accuracy"]["delta"].get<double>(), ref["acc_b"].get<double>() - ref["acc_a"].get<double>(), 1e-12);
    const double p = ref["p"].get<double>();
    EXPECT_NEAR(c["mcnemar"]["p_exact"].get<double>(), p, 1e-9 * p);
    EXPECT_NEAR(c["mcnemar"]["chi2_corrected"].get<double>(), ref["chi2"].get<double>(), 1e-9);
    EXPECT_NEAR(c["mcnemar"]["p_chi2"].get<double>(), ref["p_chi2"].get<double>(), 1e-12);
    for (int k = 0; k < 10; ++k) {
        EXPECT_EQ(c["per_class"][k]["fixed"], ref["per_class"][k][0]) << k;
        EXPECT_EQ(c["per_class"][k]["broken"], ref["per_class"][k][1]) << k;
    }
    for (const auto& pr : ref["pairs"]) {
        bool found = false;
        for (const auto& q : c["pairs"])
            if (q["true"] == pr[0] && q["pred"] == pr[1]) {
                found = true;
                EXPECT_EQ(q["fixed"], pr[2]) << pr.dump();
                EXPECT_EQ(q["broken"], pr[3]) << pr.dump();
            }
        EXPECT_TRUE(found) << pr.dump();
    }
    // The galleries: fixed images are A's errors B gets right (and the reverse), by B's confidence.
    for (const char* which : {"fixed", "broken"}) {
        const json g = c["galleries"][which];
        ASSERT_TRUE(is_png(diff / g["file"].get<std::string>())) << which;
        const int count = ref[which].get<int>();
        ASSERT_EQ(g["images"].size(), static_cast<size_t>(std::min(count, 12))) << which;
        double last = 2;
        for (const auto& im : g["images"]) {
            const bool fixed = std::string(which) == "fixed";
            EXPECT_EQ(im[fixed ? "pred_b" : "pred_a"], im["label"]) << im.dump();
            EXPECT_NE(im[fixed ? "pred_a" : "pred_b"], im["label"]) << im.dump();
            EXPECT_LE(im["conf_b"].get<double>(), last);
            last = im["conf_b"].get<double>();
        }
    }
    EXPECT_NE(slurp(diff / "compare.html").find("<img src=\"fixed.png\""), std::string::npos);

    // The intervals contain the estimates and are reproducible (fixed seed).
    const auto ci = c["accuracy"]["ci"];
    EXPECT_LE(ci[0].get<double>(), c["accuracy"]["delta"].get<double>());
    EXPECT_GE(ci[1].get<double>(), c["accuracy"]["delta"].get<double>());
    EXPECT_LT(ci[0].get<double>(), ci[1].get<double>());
    r = run("-q compare " + single_report().string() + " " + b.string() + " --out " + diff.string());
    EXPECT_EQ(json::parse(slurp(diff / "compare.json")), c);
    // Against itself: nothing fixed or broken, p = 1, every CAM where it was (IoU 1).
    r = run("-q compare " + single_report().string() + " " + single_report().string() + " --out " + (root / "self").string());
    ASSERT_EQ(r.code, 0) << r.out;
    const json self = json::parse(slurp(root / "self" / "compare.json"));
    EXPECT_EQ(self["paired"]["fixed"], 0);
    EXPECT_EQ(self["mcnemar"]["p_exact"], 1.0);
    EXPECT_EQ(self["per_class"][3]["cam_iou"], 1.0);

    // Other data: refused.
    const fs::path c100 = root / "c100";
    ASSERT_EQ(run("-q analyze -m " + kDir + "/tiny_cifar100_model.pt -d " + kDir +
                  "/tiny_cifar100 --faithfulness-n 0 -o " + c100.string(), 300).code, 0);
    r = run("-q compare " + single_report().string() + " " + c100.string() + " --out " + (root / "no").string());
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("are not of the same data"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(root / "no"));
}

TEST(Store, CompareWritesAnExplorerOfEveryImage) {
    const fs::path b = model_b_report(), diff = tmpdir("store_compare_explorer") / "diff";
    auto r = run("-q compare " + single_report().string() + " " + b.string() + " --out " + diff.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const json c = json::parse(slurp(diff / "compare.json"));
    const fs::path ex = diff / "explorer";
    // The page is the embedded web/ assets, byte for byte.
    EXPECT_EQ(slurp(ex / "index.html"), slurp(fs::path(kDir) / "../../web/compare.html"));
    EXPECT_EQ(slurp(ex / "compare.js"), slurp(fs::path(kDir) / "../../web/compare.js"));
    EXPECT_EQ(slurp(ex / "compare.css"), slurp(fs::path(kDir) / "../../web/compare.css"));
    // the DOM helpers it shares with the report's explorer
    EXPECT_EQ(slurp(ex / "dom.js"), slurp(fs::path(kDir) / "../../web/explorer/dom.js"));
    const std::string js = slurp(ex / "data.js");
    const std::string head = "window.CAMSCOPE_COMPARE = ";
    ASSERT_EQ(js.rfind(head, 0), 0u) << js.substr(0, 80);
    ASSERT_GE(js.size(), head.size() + 2);
    ASSERT_EQ(js.substr(js.size() - 2), ";\n");
    const json d = json::parse(js.substr(head.size(), js.size() - head.size() - 2));
    EXPECT_EQ(d["a"]["model_sha256"], c["a"]["model_sha256"]);
    EXPECT_EQ(d["b"]["store"], c["b"]["store"]);
    EXPECT_EQ(d["classes"].size(), 10u);

    // Every image's status recomputed from the two stores with NumPy.
    const auto [code, out] = python(R"(
import json, sys, numpy as np
A, B = (np.load(d + '/store/logits.npy') for d in sys.argv[1:3])
y = np.load(sys.argv[1] + '/store/label.npy')
def conf(L):
    e = np.exp(L.astype(np.float64) - L.max(1, keepdims=True))
    return (e / e.sum(1, keepdims=True)).max(1)
pa, pb, ca, cb = A.argmax(1), B.argmax(1), conf(A), conf(B)
st = ['both-right' if a == t and b == t else 'fixed' if b == t else 'broken' if a == t else 'both-wrong'
      for a, b, t in zip(pa, pb, y)]
print(json.dumps([[i, int(y[i]), int(pa[i]), int(pb[i]), float(ca[i]), float(cb[i]), st[i]] for i in range(len(y))]))
)", single_report().string() + " " + b.string());
    ASSERT_EQ(code, 0) << out;
    const json ref = json::parse(out);
    ASSERT_EQ(d["rows"].size(), ref.size());
    std::map<std::string, long long> counts;
    std::set<int> pictured;
    for (size_t i = 0; i < ref.size(); ++i) {
        const json& row = d["rows"][i];
        const json& want = ref[i];
        ASSERT_EQ(row["index"], want[0]) << i;
        EXPECT_EQ(row["label"], want[1]) << i;
        EXPECT_EQ(row["pred_a"], want[2]) << i;
        EXPECT_EQ(row["pred_b"], want[3]) << i;
        EXPECT_NEAR(row["conf_a"].get<double>(), want[4].get<double>(), 1e-6) << i;
        EXPECT_NEAR(row["conf_b"].get<double>(), want[5].get<double>(), 1e-6) << i;
        EXPECT_EQ(row["status"], want[6]) << i;
        ++counts[row["status"].get<std::string>()];
        if (row.contains("pictures")) {
            pictured.insert(row["index"].get<int>());
            for (const char* k : {"image", "a", "b"}) {
                const fs::path png = ex / row["pictures"][k].get<std::string>();
                ASSERT_TRUE(is_png(png)) << png;
                const std::string bytes = slurp(png);
                // IHDR: width and height of the dataset's 32x32 images.
                EXPECT_EQ(static_cast<unsigned char>(bytes[19]), 32u) << png;
                EXPECT_EQ(static_cast<unsigned char>(bytes[23]), 32u) << png;
            }
        }
    }
    EXPECT_EQ(counts["fixed"], c["paired"]["fixed"].get<long long>());
    EXPECT_EQ(counts["broken"], c["paired"]["broken"].get<long long>());
    EXPECT_EQ(counts["both-wrong"], c["paired"]["both_wrong"].get<long long>());
    EXPECT_EQ(counts["both-right"], c["paired"]["both_right"].get<long long>());
    EXPECT_GT(counts["fixed"], 0);
    EXPECT_EQ(d["paired"], c["paired"]);
    // Pictures: exactly the galleries' images (fixed.png and broken.png).
    std::set<int> gallery;
    for (const char* which : {"fixed", "broken"})
        for (const auto& im : c["galleries"][which]["images"]) gallery.insert(im["index"].get<int>());
    EXPECT_EQ(pictured, gallery);
    std::set<std::string> files;
    for (const auto& e : fs::directory_iterator(ex / "img")) files.insert(e.path().filename().string());
    EXPECT_EQ(files.size(), 3 * gallery.size());
}
