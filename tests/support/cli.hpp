#pragma once
// Test support for the suites that run the real camscope binary (tests/cli, tests/serve; their
// targets define CAMSCOPE_BINARY and CAMSCOPE_FIXTURES_DIR): the binary, the fixtures, running it,
// and folders for what it writes.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "support/files.hpp"
#include "support/png.hpp"
#include "support/run.hpp"

namespace camscope::support {

inline const std::string kBin = CAMSCOPE_BINARY;
inline const std::string kDir = CAMSCOPE_FIXTURES_DIR;
/// The tiny CIFAR-10 model and its 200 test images, 3x32x32, CIFAR-10 binary
/// (tests/fixtures/make_fixtures.py): what most CLI and server tests run on.
inline const std::string kTinyModel = kDir + "/tiny_cifar10_model.pt";
inline const std::string kTinyData = kDir + "/tiny_cifar10";

/// Runs `camscope ARGS` (through `timeout` when timeout_s > 0, so a hang fails instead of sticking).
inline Run run(const std::string& args, int timeout_s = 0) {
    return run_command((timeout_s > 0 ? "timeout " + std::to_string(timeout_s) + " " : std::string()) + kBin + " " +
                       args);
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

}  // namespace camscope::support
