#pragma once
// Helpers of the CLI tests: run the real camscope binary and read what it wrote.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "camscope/util/strings.hpp"

namespace camscope::testing {

inline const std::string kBin = CAMSCOPE_BINARY;
inline const std::string kDir = CAMSCOPE_FIXTURES_DIR;

struct Run {
    int code;         // exit status; 128 + signal when killed (124: `timeout` expired)
    std::string out;  // stdout + stderr
};

/// Runs `camscope ARGS` (through `timeout` when timeout_s > 0, so a hang fails instead of sticking).
inline Run run(const std::string& args, int timeout_s = 0) {
    const std::string cmd =
        (timeout_s > 0 ? "timeout " + std::to_string(timeout_s) + " " : std::string()) + kBin + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

/// An empty path under the temp folder (removed if it exists; the command creates it), private to
/// this process: CTest runs every test as its own process, two at a time, and tests that share a
/// made-once folder (e.g. test_store.cpp's single-process report) must not build it into the same
/// path at the same time. Removed when the process exits.
inline std::vector<std::filesystem::path>& tmpdir_registry() {
    static auto* made = new std::vector<std::filesystem::path>;  // never destroyed: read at exit
    return *made;
}

inline std::filesystem::path tmpdir(const std::string& name) {
    static const bool cleanup = [] {
        return std::atexit([] {
            std::error_code ec;
            for (const auto& d : tmpdir_registry()) std::filesystem::remove_all(d, ec);
        }) == 0;
    }();
    (void)cleanup;
    auto d = std::filesystem::temp_directory_path() / ("camscope_cli_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    tmpdir_registry().push_back(d);
    return d;
}

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// Rows of a CSV without quoted fields (the fixtures' class names have no commas).
inline std::vector<std::vector<std::string>> read_csv(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::vector<std::vector<std::string>> rows;
    std::string line;
    while (std::getline(f, line)) rows.push_back(split(line, ','));
    return rows;
}

inline bool is_png(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    char sig[8] = {};
    f.read(sig, 8);
    return f && std::string(sig, 8) == std::string("\x89PNG\r\n\x1a\n", 8);
}

}  // namespace camscope::testing
