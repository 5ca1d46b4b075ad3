// Reliability round three (issue 22), the store and the cluster path through the binary: two runs
// on one --out, a dataset changed in the middle (merge, --resume, compare), a `<out>.partial`
// that camscope did not make, store files that are not regular files, the wording of identity
// mismatches, --shard auto's ambiguous environments, and relative paths in the identity.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;
using nlohmann::json;

namespace {

const std::string kOpts = " -b 16 --faithfulness-n 0 --pair-figures 0 ";

/// A copy of the tiny CIFAR-10 set with one record changed in the middle (image 100 of 200): its
/// label moved on by one class, or its pixels inverted. The first and last 4 images are untouched
/// (what the fingerprint used to cover).
fs::path changed_copy(const std::string& name, bool label) {
    const fs::path d = tmpdir(name);
    fs::create_directories(d);
    for (const auto& e : fs::directory_iterator(kTinyData)) fs::copy(e.path(), d / e.path().filename());
    const fs::path batch = d / "test_batch.bin";
    std::fstream f(batch, std::ios::in | std::ios::out | std::ios::binary);
    const std::streamoff rec = 100 * 3073;
    f.seekg(rec);
    char b[3073];
    f.read(b, sizeof b);
    if (label) b[0] = static_cast<char>((b[0] + 1) % 10);
    else
        for (int i = 1; i < 3073; ++i) b[i] = static_cast<char>(255 - static_cast<unsigned char>(b[i]));
    f.seekp(rec);
    f.write(b, sizeof b);
    return d;
}

std::string shard(const std::string& data, const std::string& k, const fs::path& out) {
    return "-q analyze -m " + kTinyModel + " -d " + data + kOpts + "--shard " + k + " -o " + out.string();
}

}  // namespace

TEST(StoreSafety, ASecondRunOnTheSameOutIsRefusedWhileTheFirstHoldsItsChunks) {
    const fs::path root = tmpdir("safety_lock"), out = root / "report", partial = root / "report.partial";
    // A run killed after its first chunk leaves chunk-000000: the next run's starting point.
    setenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK", "0", 1);
    auto r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "--chunk 32 -o " + out.string(), 300);
    unsetenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK");
    ASSERT_EQ(r.code, 128 + 9) << r.out;
    ASSERT_TRUE(fs::exists(partial / "chunk-000000" / "manifest.json"));
    const std::string chunk0 = slurp(partial / "chunk-000000" / "logits.npy");

    // Another process holds the folder (as a running `analyze` does, flock on the folder itself):
    // a second run, with or without --resume, is refused at once and deletes nothing.
    const int fd = ::open(partial.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    for (const char* extra : {"", " --resume"}) {
        r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "--chunk 32 -o " + out.string() + extra, 300);
        EXPECT_EQ(r.code, 1) << r.out;
        EXPECT_NE(r.out.find(partial.string() + ": another camscope run is using this folder for its chunks"),
                  std::string::npos)
            << r.out;
        EXPECT_EQ(slurp(partial / "chunk-000000" / "logits.npy"), chunk0) << "the other run's chunk is untouched";
        EXPECT_FALSE(fs::exists(out));
    }
    ::close(fd);
    // Released: the run resumes from that chunk and completes; the folder goes.
    r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "--chunk 32 --resume -o " + out.string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(fs::exists(out / "summary.json"));
    EXPECT_FALSE(fs::exists(partial));
}

TEST(StoreSafety, APartialFolderCamscopeDidNotMakeIsNeverDeleted) {
    const fs::path root = tmpdir("safety_partial"), out = root / "results", partial = root / "results.partial";
    fs::create_directories(partial / "thesis");
    { std::ofstream(partial / "thesis" / "chapter1.tex") << "\\chapter{One}\n"; }
    auto r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "-o " + out.string(), 300);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find(partial.string() + ": holds " + (partial / "thesis").string() + ", which camscope did not write"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(slurp(partial / "thesis" / "chapter1.tex"), "\\chapter{One}\n");
    EXPECT_FALSE(fs::exists(out));

    // A file of the user's beside camscope's chunks: the same (nothing removed, not even the chunks).
    fs::remove_all(partial);
    setenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK", "0", 1);
    r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "--chunk 32 -o " + out.string(), 300);
    unsetenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK");
    ASSERT_EQ(r.code, 128 + 9) << r.out;
    { std::ofstream(partial / "chunk-000000" / "notes.txt") << "mine"; }
    r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "--chunk 32 -o " + out.string(), 300);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("notes.txt, which camscope did not write"), std::string::npos) << r.out;
    EXPECT_EQ(slurp(partial / "chunk-000000" / "notes.txt"), "mine");
    EXPECT_TRUE(fs::exists(partial / "chunk-000000" / "manifest.json"));

    // Only camscope's chunks: removed, and the run completes.
    fs::remove(partial / "chunk-000000" / "notes.txt");
    r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "--chunk 32 -o " + out.string(), 300);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_FALSE(fs::exists(partial));

    // A file named like the folder: refused, kept.
    { std::ofstream(partial) << "not a folder"; }
    r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "-o " + out.string(), 300);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find(partial.string() + ": is not a folder"), std::string::npos) << r.out;
    EXPECT_EQ(slurp(partial), "not a folder");
}

TEST(StoreSafety, ADatasetChangedInTheMiddleIsCaughtByMergeResumeAndCompare) {
    const fs::path root = tmpdir("safety_fingerprint");
    for (bool label : {true, false}) {
        const fs::path copy = changed_copy(label ? "safety_relabelled" : "safety_repixelled", label);
        const std::string what = label ? "relabelled" : "repixelled";
        // merge: two good shards and a third computed on the changed copy.
        const fs::path s0 = root / (what + "0"), s1 = root / (what + "1"), s2 = root / (what + "2");
        ASSERT_EQ(run(shard(kTinyData, "0/3", s0), 300).code, 0);
        ASSERT_EQ(run(shard(kTinyData, "1/3", s1), 300).code, 0);
        ASSERT_EQ(run(shard(copy.string(), "2/3", s2), 300).code, 0);
        auto r = run("-q merge " + s0.string() + " " + s1.string() + " " + s2.string() + " -o " +
                     (root / "merged").string(), 300);
        EXPECT_EQ(r.code, 1) << what << ": " << r.out;
        EXPECT_NE(r.out.find("dataset: " + s0.string() + " was computed with " + fs::absolute(kTinyData).string() + "; " +
                             s2.string() + " with " + copy.string() +
                             ": the same number of images, but the class names, labels or images differ"),
                  std::string::npos)
            << r.out;
        EXPECT_FALSE(fs::exists(root / "merged"));
        // merge of good shards, told to read the changed copy.
        ASSERT_EQ(run(shard(kTinyData, "2/3", root / "good2"), 300).code, 0);
        r = run("-q merge " + s0.string() + " " + s1.string() + " " + (root / "good2").string() + " --data " +
                    copy.string() + " -o " + (root / "merged").string(),
                300);
        EXPECT_EQ(r.code, 1) << what << ": " << r.out;
        EXPECT_NE(r.out.find(copy.string() + " is not the dataset the stores were computed on"), std::string::npos)
            << r.out;

        // --resume on the changed copy of a run killed on the original.
        const fs::path out = root / (what + "_resume");
        setenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK", "1", 1);
        r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "--chunk 32 -o " + out.string(), 300);
        unsetenv("CAMSCOPE_TEST_KILL_AFTER_CHUNK");
        ASSERT_EQ(r.code, 128 + 9) << r.out;
        r = run("-q analyze -m " + kTinyModel + " -d " + copy.string() + kOpts + "--chunk 32 --resume -o " + out.string(),
                300);
        EXPECT_EQ(r.code, 1) << what << ": " << r.out;
        EXPECT_NE(r.out.find("chunk-000000: this chunk was computed by another run"), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("dataset: chunk-000000 was computed with"), std::string::npos) << r.out;
        EXPECT_FALSE(fs::exists(out));
    }

    // compare --data with a changed copy: refused (the galleries would show other pictures).
    const fs::path a = root / "a";
    ASSERT_EQ(run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "-o " + a.string(), 300).code, 0);
    const fs::path copy = changed_copy("safety_compare_copy", false);
    auto r = run("-q compare " + a.string() + " " + a.string() + " --data " + copy.string() + " -o " +
                 (root / "diff").string());
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find(copy.string() + ": is not the dataset the analyses were computed on"), std::string::npos)
        << r.out;
    EXPECT_FALSE(fs::exists(root / "diff"));
    // The same images elsewhere are the same dataset.
    const fs::path same = tmpdir("safety_same_copy");
    fs::copy(kTinyData, same, fs::copy_options::recursive);
    r = run("-q compare " + a.string() + " " + a.string() + " --data " + same.string() + " -o " + (root / "diff").string());
    EXPECT_EQ(r.code, 0) << r.out;
    // Fewer than 100 bootstrap resamples give no interval worth printing.
    r = run("-q compare " + a.string() + " " + a.string() + " --bootstrap 0 -o " + (root / "diff0").string());
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--bootstrap 0: an interval needs at least 100 resamples"), std::string::npos) << r.out;
}

TEST(StoreSafety, TheFingerprintIsTheDocumentedOne) {
    // tests/malformed/store8 was written by scripts/make_malformed.py, whose cifar10_fingerprint()
    // computes the fingerprint of tests/malformed/cifar8 from its definition (docs/reliability.md)
    // with Python's hashlib: camscope's own must be that one, or compare --data would refuse.
    const std::string m = (fs::path(kDir).parent_path() / "malformed").string();
    const fs::path out = tmpdir("safety_documented");
    const auto r = run("-q compare " + m + "/store8 " + m + "/store8 --data " + m + "/cifar8 -o " + out.string(), 120);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(fs::exists(out / "fixed.png")) << "the galleries are drawn from the dataset";
}

TEST(StoreSafety, StoreFilesThatAreNotRegularFilesAreRefusedAtOnce) {
    const fs::path root = tmpdir("safety_special");
    ASSERT_EQ(run(shard(kTinyData, "0/1", root / "s"), 300).code, 0);
    for (const char* kind : {"fifo", "dev_zero", "nan", "above_one"}) {
        const fs::path s = root / kind;
        fs::copy(root / "s", s, fs::copy_options::recursive);
        const std::string k = kind;
        if (k == "fifo") {
            fs::remove(s / "logits.npy");
            ASSERT_EQ(::mkfifo((s / "logits.npy").c_str(), 0600), 0);
        } else if (k == "dev_zero") {
            fs::remove(s / "cam_pred.npy");
            fs::create_symlink("/dev/zero", s / "cam_pred.npy");
        } else {
            // A map value that camscope never writes: NaN, or above 1 (maps are min-max normalised).
            std::fstream f(s / "cam_true.npy", std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(-4, std::ios::end);
            const float v = k == "nan" ? std::numeric_limits<float>::quiet_NaN() : 1.5f;
            f.write(reinterpret_cast<const char*>(&v), 4);
        }
        // (timeout: a FIFO must not block the reader)
        const auto r = run("-q merge " + s.string() + " -o " + (root / (k + "_report")).string(), 60);
        EXPECT_EQ(r.code, 1) << kind << ": " << r.out;
        if (k == "fifo") EXPECT_NE(r.out.find("logits.npy: is a FIFO (named pipe), expected a regular file"), std::string::npos) << r.out;
        if (k == "dev_zero") EXPECT_NE(r.out.find("cam_pred.npy: is a character device, expected a regular file"), std::string::npos) << r.out;
        if (k == "nan" || k == "above_one")
            EXPECT_NE(r.out.find("cam_true.npy: row 199 holds " + std::string(k == "nan" ? "nan" : "1.5") +
                                 ", expected a value in [0, 1] (a CAM)"),
                      std::string::npos)
                << r.out;
        EXPECT_FALSE(fs::exists(root / (k + "_report")));
    }
}

TEST(StoreSafety, ShardAutoRefusesAmbiguousEnvironmentsAndDisagreeingCounts) {
    const fs::path root = tmpdir("safety_auto");
    struct Env {
        std::vector<std::pair<const char*, const char*>> vars;
        std::string extra, expect;
    };
    const std::vector<Env> cases = {
        {{{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"JOB_COMPLETION_INDEX", "2"}},
         "",
         "both SLURM_ARRAY_TASK_ID (1, a Slurm job array) and JOB_COMPLETION_INDEX (2, a Kubernetes Indexed Job)"},
        // --array=1,3,5,8: 4 tasks that no step numbers 0..3.
        {{{"SLURM_ARRAY_TASK_ID", "8"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"},
          {"SLURM_ARRAY_TASK_MAX", "8"}},
         "",
         "the Slurm job array is not a range"},
        {{{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}},
         " --shard-count 3",
         "--shard-count 3 disagrees with the Slurm array's 4 tasks"},
    };
    for (const auto& c : cases) {
        for (const auto& [k, v] : c.vars) setenv(k, v, 1);
        const auto r = run(shard(kTinyData, "auto", root / "s") + c.extra, 120);
        for (const auto& [k, v] : c.vars) unsetenv(k);
        EXPECT_EQ(r.code, 2) << r.out;
        EXPECT_NE(r.out.find(c.expect), std::string::npos) << r.out;
    }
    auto r = run(shard(kTinyData, "1/4", root / "s") + " --shard-count 3", 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--shard-count 3 disagrees with --shard 1/4"), std::string::npos) << r.out;
    r = run("-q analyze -m " + kTinyModel + " -d " + kTinyData + kOpts + "--shard-count 3 -o " + (root / "s").string(), 120);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--shard-count needs --shard auto"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(root / "s"));
}

TEST(StoreSafety, RelativePathsAreStoredAbsoluteAndMergeSaysWhereToPointIt) {
    const fs::path root = tmpdir("safety_relative");
    fs::create_directories(root / "work");
    fs::copy_file(kTinyModel, root / "work" / "model.pt");
    fs::copy(kTinyData, root / "work" / "data", fs::copy_options::recursive);
    // Run from inside work/ with relative paths.
    const std::string cd = "cd " + (root / "work").string() + " && ";
    const std::string cmd = cd + kBin + " -q analyze -m model.pt -d data" + kOpts + "--shard 0/1 -o ../s0 >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    const json m = json::parse(slurp(root / "s0" / "manifest.json"));
    EXPECT_EQ(m["identity"]["model"]["path"], (root / "work" / "model.pt").string());
    EXPECT_EQ(m["identity"]["dataset"]["path"], (root / "work" / "data").string());
    // From elsewhere, merge finds them; once moved, it names the flag to pass.
    auto r = run("-q merge " + (root / "s0").string() + " -o " + (root / "report").string(), 300);
    EXPECT_EQ(r.code, 0) << r.out;
    fs::rename(root / "work", root / "moved");
    r = run("-q merge " + (root / "s0").string() + " -o " + (root / "report2").string(), 300);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("pass the model with --model FILE"), std::string::npos) << r.out;
    r = run("-q merge " + (root / "s0").string() + " -m " + (root / "moved" / "model.pt").string() + " -o " +
                (root / "report2").string(),
            300);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("pass the dataset with --data PATH"), std::string::npos) << r.out;
}
