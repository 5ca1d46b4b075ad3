#pragma once
// Test support (tests/support/): temporary folders and reading back what a test wrote.
// One home for what every test suite (core, engine, CLI, server) needs; the suites link
// camscope_test_support (tests/CMakeLists.txt).
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace camscope::support {

/// A fresh, empty folder under the temp folder, private to this process and object
/// ("camscope_<tag>_<pid>_<n>"), removed with everything in it on destruction (its owner
/// permissions restored first, so a test may make it read-only).
class TempDir {
public:
    explicit TempDir(const std::string& tag = "test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string str() const { return path_.string(); }
    /// The path of `name` inside the folder, as a string.
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

/// The bytes of a file ("" when it cannot be read).
std::string slurp(const std::filesystem::path& p);

/// Every regular file under `dir` (hidden ones too, recursively), by its path relative to `dir`,
/// with its bytes: two reports compared file by file.
std::map<std::string, std::string> files_with_bytes(const std::filesystem::path& dir);

/// Rows of a CSV without quoted fields, each line split at every comma (the fixtures' and the
/// designed inputs' class names have no commas).
std::vector<std::vector<std::string>> read_csv(const std::filesystem::path& p);

}  // namespace camscope::support
