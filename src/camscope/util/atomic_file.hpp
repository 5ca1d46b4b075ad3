#pragma once
// Outputs are written to a temporary name in the destination folder and renamed when complete,
// so an interrupted or failed run never leaves a file that looks complete.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace camscope {

/// Writes `data` to `path` atomically (hidden .NAME.tmp-<pid>-<n> in the same folder, then an
/// fsync-free rename; the temp is removed on failure).
/// Creates missing parent folders. Throws Error naming the path on failure (disk full, ...).
void write_file_atomic(const std::string& path, std::string_view data);
void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& data);

/// Reads a whole file. Throws Error naming the path.
std::vector<std::uint8_t> read_file(const std::string& path);

/// Creates a directory and its parents; throws Error naming it.
void make_dirs(const std::string& path);

}  // namespace camscope
