// Outputs that must never look complete when they are not: SHA-256 (the identity of a model
// file), temporary names, their cleanup after a killed run and on a signal, the staged report
// folder swapped in whole, and file names that fit whatever the class names.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/sha256.hpp"
#include "camscope/util/strings.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using support::slurp;
using support::TempDir;

namespace {

std::set<std::string> names_in(const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
    return out;
}

// A pid no process can have (above Linux's pid_max limit of 2^22).
constexpr long kDeadPid = 2147480000;

}  // namespace

TEST(Sha256, Fips180TestVectors) {
    // FIPS 180-2, appendix B (and the empty message).
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    // Fed in uneven pieces: the same digest.
    const std::string msg(1000, 'x');
    Sha256 h;
    for (size_t at = 0, step = 1; at < msg.size(); at += step, step = step * 3 % 97 + 1)
        h.update(msg.data() + at, std::min(step, msg.size() - at));
    EXPECT_EQ(h.hex(), sha256_hex(msg));
}

TEST(Sha256, FileAgreesWithSha256sum) {
    // coreutils' sha256sum as the independent reference, on a committed model file.
    const std::string model = std::string(CAMSCOPE_FIXTURES_DIR) + "/tiny_cifar10_model.pt";
    FILE* p = popen(("sha256sum " + model).c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[65] = {};
    ASSERT_EQ(fread(buf, 1, 64, p), 64u);
    pclose(p);
    EXPECT_EQ(sha256_file(model), std::string(buf, 64));
    EXPECT_THROW(sha256_file("/nonexistent/model.pt"), Error);
}

TEST(TempNames, ParseWhatWriteFileAtomicNames) {
    long pid = 0;
    std::string base;
    const std::string t = fs::path(temp_name_for("/x/summary.json")).filename().string();
    ASSERT_TRUE(parse_temp_name(t, &pid, &base)) << t;
    EXPECT_EQ(pid, ::getpid());
    EXPECT_EQ(base, "summary.json");
    EXPECT_TRUE(parse_temp_name(".report.tmp-12-0", &pid, &base));
    EXPECT_EQ(pid, 12);
    EXPECT_EQ(base, "report");
    for (const char* no : {"summary.json", ".summary.json", ".tmp-1-2", ".x.tmp-1-", ".x.tmp--2", ".x.tmp-a-2", "x.tmp-1-2",
                           ".x.tmp-1-2b", ".x.tmp-12345678901234567890-1"})
        EXPECT_FALSE(parse_temp_name(no)) << no;
}

TEST(TempNames, StaleTempsOfDeadProcessesAreRemovedOthersKept) {
    TempDir tmp;
    const auto& d = tmp.path();
    const std::string dead = ".summary.json.tmp-" + std::to_string(kDeadPid) + "-3";
    const std::string dead_dir = ".report.tmp-" + std::to_string(kDeadPid) + "-0";
    const std::string mine = ".a.csv.tmp-" + std::to_string(::getpid()) + "-7";  // a run in progress
    const std::string init = ".b.csv.tmp-1-0";                                   // pid 1 is alive
    for (const auto& n : {dead, mine, init, std::string("summary.json"), std::string(".hidden")}) std::ofstream(d / n) << "x";
    fs::create_directories(d / dead_dir / "worst_predictions");
    std::ofstream(d / dead_dir / "worst_predictions" / "class_0_a.png") << "png";
    EXPECT_EQ(remove_stale_temps(d.string(), "report"), 1u);  // only that NAME's
    EXPECT_FALSE(fs::exists(d / dead_dir));
    EXPECT_TRUE(fs::exists(d / dead));
    EXPECT_EQ(remove_stale_temps(d.string()), 1u);
    EXPECT_EQ(names_in(d), (std::set<std::string>{mine, init, "summary.json", ".hidden"}));
}

TEST(TempNames, WriteFileAtomicCleansItsFolderOnce) {
    TempDir tmp;
    const std::string dead = ".p.csv.tmp-" + std::to_string(kDeadPid) + "-0";
    std::ofstream(tmp.path() / dead) << "half";
    write_file_atomic((tmp.path() / "p.csv").string(), "a,b\n");
    EXPECT_EQ(names_in(tmp.path()), std::set<std::string>{"p.csv"});
}

TEST(StagedDir, NewDestinationAppearsWhole) {
    TempDir tmp;
    const fs::path dest = tmp.path() / "sub" / "report";
    {
        StagedDir s(dest.string());
        EXPECT_EQ(fs::path(s.path()).parent_path(), dest.parent_path());
        EXPECT_TRUE(parse_temp_name(fs::path(s.path()).filename().string()));
        write_file_atomic(s.path() + "/a.txt", "new");
        EXPECT_FALSE(fs::exists(dest));
        s.commit();
    }
    EXPECT_EQ(slurp(dest / "a.txt"), "new");
    EXPECT_EQ(names_in(dest.parent_path()), std::set<std::string>{"report"});
}

TEST(StagedDir, ExistingDestinationIsSwappedAndCarriedEntriesKept) {
    TempDir tmp;
    const fs::path dest = tmp.path() / "report";
    fs::create_directories(dest / "old_sub");
    std::ofstream(dest / "a.txt") << "old";
    std::ofstream(dest / "notes.txt") << "mine";
    std::ofstream(dest / "stale.png") << "old figure";
    std::ofstream(dest / "old_sub" / "x") << "old";
    {
        StagedDir s(dest.string());
        write_file_atomic(s.path() + "/a.txt", "new");
        EXPECT_EQ(slurp(dest / "a.txt"), "old");  // untouched until commit
        s.commit([](const std::string& name) { return name == "notes.txt" || name == "a.txt"; });
    }
    EXPECT_EQ(slurp(dest / "a.txt"), "new");      // the new folder's own wins
    EXPECT_EQ(slurp(dest / "notes.txt"), "mine");  // carried over
    EXPECT_EQ(names_in(dest), (std::set<std::string>{"a.txt", "notes.txt"}));
    EXPECT_EQ(names_in(tmp.path()), std::set<std::string>{"report"});  // the old folder is gone
}

TEST(StagedDir, AbandonedStagingIsRemovedAndDestinationUntouched) {
    TempDir tmp;
    const fs::path dest = tmp.path() / "report";
    fs::create_directories(dest);
    std::ofstream(dest / "summary.json") << "old";
    {
        StagedDir s(dest.string());
        write_file_atomic(s.path() + "/summary.json", "new");
    }  // no commit: a failure
    EXPECT_EQ(slurp(dest / "summary.json"), "old");
    EXPECT_EQ(names_in(tmp.path()), std::set<std::string>{"report"});
}

TEST(StagedDir, ImpossibleDestinationsThrowNamingThePath) {
    TempDir tmp;
    std::ofstream(tmp.path() / "file") << "x";
    for (const std::string& bad : {std::string(""), std::string("/"), (tmp.path() / "file" / "report").string(),
                                  (tmp.path() / std::string(300, 'r')).string()}) {
        try {
            StagedDir s(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Error& e) {
            if (!bad.empty() && bad != "/") {
                EXPECT_NE(std::string(e.what()).find(tmp.path().string()), std::string::npos) << e.what();
            }
        }
    }
}

TEST(SignalCleanup, SigintRemovesRegisteredTempsAndEndsByTheSignal) {
    TempDir tmp;
    const fs::path staged = tmp.path() / ".report.tmp-1-0";
    fs::create_directories(staged / "worst_predictions");
    std::ofstream(staged / "worst_predictions" / "class_0.png") << "half";
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        install_signal_cleanup();
        register_temp_path(staged.string());
        ::kill(::getpid(), SIGINT);
        for (int i = 0; i < 100; ++i) ::usleep(100000);
        _exit(3);  // the signal did not end the process
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
    EXPECT_EQ(WTERMSIG(status), SIGINT);
    EXPECT_FALSE(fs::exists(staged));
}

TEST(SanitizeFilename, LongNamesFitAndStayDistinct) {
    EXPECT_EQ(sanitize_filename("T-shirt/top"), "T-shirt_top");
    const std::string a(250, 'x'), b = std::string(249, 'x') + "y";
    const std::string sa = sanitize_filename(a), sb = sanitize_filename(b);
    EXPECT_EQ(sa.size(), kMaxSanitizedName);
    EXPECT_EQ(sb.size(), kMaxSanitizedName);
    EXPECT_NE(sa, sb);
    EXPECT_EQ(sa.substr(0, 71), std::string(71, 'x'));
    EXPECT_EQ(sa.substr(71), "_" + sha256_hex(a).substr(0, 8));
    EXPECT_EQ(sanitize_filename(std::string(80, 'z')), std::string(80, 'z'));  // at the limit: kept
}
