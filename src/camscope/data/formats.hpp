#pragma once
// Internal to camscope/data: the per-format readers behind open_dataset and the small file
// helpers they share. Not part of the public interface (include dataset.hpp instead).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "camscope/data/dataset.hpp"

namespace camscope::detail {

/// A read-only file descriptor with positional reads, so concurrent get() calls on one dataset
/// need no lock and no shared file offset.
class ReadOnlyFile {
public:
    explicit ReadOnlyFile(std::string path);  // throws Error naming the path
    ~ReadOnlyFile();
    ReadOnlyFile(const ReadOnlyFile&) = delete;
    ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

    const std::string& path() const { return path_; }
    std::uint64_t size() const { return size_; }
    /// Reads exactly n bytes at `offset`; throws Error naming the file, offset and byte counts.
    void read_at(std::uint64_t offset, std::size_t n, std::uint8_t* dst) const;

private:
    std::string path_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

/// Non-empty lines of a text file with surrounding whitespace trimmed; empty vector if the file
/// does not exist. Throws Error if it exists but cannot be read.
std::vector<std::string> read_name_lines(const std::filesystem::path& file);

/// "class_0" … "class_<n-1>", for datasets shipped without a names file.
std::vector<std::string> generic_names(std::size_t n);

std::string lower(std::string s);

// Each detect_* returns true if `path` (a directory or a file) holds that format; the matching
// k*LookedFor says what was checked, for the "nothing matched" error.
bool detect_cifar10(const std::string& path);
bool detect_cifar100(const std::string& path);
bool detect_idx(const std::string& path);
bool detect_folder(const std::string& path);
extern const char* const kCifar10LookedFor;
extern const char* const kCifar100LookedFor;
extern const char* const kIdxLookedFor;
extern const char* const kFolderLookedFor;

std::unique_ptr<Dataset> open_cifar10(const std::string& path, const std::string& split);
std::unique_ptr<Dataset> open_cifar100(const std::string& path, const std::string& split);
std::unique_ptr<Dataset> open_idx(const std::string& path, const std::string& split);
std::unique_ptr<Dataset> open_folder(const std::string& path, const std::string& split);

}  // namespace camscope::detail
