#pragma once
// Outputs are written to a temporary name in the destination folder and renamed when complete,
// so an interrupted or failed run never leaves a file that looks complete. A folder of outputs
// that must appear all at once (a report) is built under a temporary name beside its destination
// and swapped in whole (StagedDir).
//
// Temporary names are hidden: ".NAME.tmp-<pid>-<n>" (files and staging folders alike). They are
// removed on failure (RAII), on SIGINT/SIGTERM/SIGHUP once install_signal_cleanup() runs, and,
// after a SIGKILL or a power cut, by the next run that writes into the same folder
// (remove_stale_temps: names whose process no longer runs).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace camscope {

/// Writes `data` to `path` atomically (hidden .NAME.tmp-<pid>-<n> in the same folder, then an
/// fsync-free rename; the temp is removed on failure).
/// Creates missing parent folders. Throws Error naming the path on failure (disk full, ...).
/// The first write into a folder also removes the stale temporary names of dead processes there.
void write_file_atomic(const std::string& path, std::string_view data);
void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& data);

/// A regular file opened for reading, and nothing else: a FIFO, a device (`/dev/zero`), a socket
/// or a folder, also behind a symbolic link, is refused (opened O_NONBLOCK and checked with fstat,
/// so a FIFO cannot block the open). Reads are bounded by the size fstat gave: a file that grows
/// while it is read is read as it was; one that shrinks is an Error ("changed while read").
class RegularFile {
public:
    /// Throws Error naming `path` if it cannot be opened or is not a regular file.
    explicit RegularFile(const std::string& path);
    ~RegularFile();
    RegularFile(const RegularFile&) = delete;
    RegularFile& operator=(const RegularFile&) = delete;

    std::uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }
    /// Reads bytes [offset, offset + n) into `dst`; Error naming the file if they are not all there.
    void read_at(std::uint64_t offset, void* dst, std::size_t n) const;
    /// Bytes [offset, offset + n).
    std::vector<std::uint8_t> read(std::uint64_t offset, std::size_t n) const;

private:
    std::string path_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

/// The largest file read_file reads unless told otherwise (manifests, summaries, tags, images
/// are far smaller; a .npy is read through its header's size, util/npy.hpp).
inline constexpr std::uint64_t kMaxReadFile = std::uint64_t{1} << 30;

/// Reads a whole regular file (RegularFile: a FIFO, a device or a folder is refused) of at most
/// `max_bytes`. Throws Error naming the path (and, for a larger file, its size and the limit).
std::vector<std::uint8_t> read_file(const std::string& path, std::uint64_t max_bytes = kMaxReadFile);

/// Creates a directory and its parents; throws Error naming it.
void make_dirs(const std::string& path);

/// The hidden temporary name for `path` (".NAME.tmp-<pid>-<n>" beside it), unique per process and call.
std::string temp_name_for(const std::string& path);

/// True if `name` (a file name, no folder) is such a temporary name; `pid` and `base` (NAME) are
/// set if given.
bool parse_temp_name(std::string_view name, long* pid = nullptr, std::string* base = nullptr);

/// Removes the temporary files and folders in `dir` whose process is no longer running (a folder
/// recursively). With `base` non-empty, only those of that NAME. Returns how many were removed.
/// Never throws (what cannot be removed stays).
std::size_t remove_stale_temps(const std::string& dir, std::string_view base = {});

/// Temporary paths (files or folders) to remove if the process is interrupted by a signal.
void register_temp_path(const std::string& path);
void unregister_temp_path(const std::string& path);

/// Call first thing in main(): SIGINT, SIGTERM and SIGHUP are handed (self-pipe) to a thread that
/// removes every registered temporary path and then ends the process by that signal (the exit
/// status is as without it).
void install_signal_cleanup();

/// Writes files (write_file_atomic) on one background thread, in the order given, while the
/// caller's threads go on computing. Creating a file can cost the kernel a tenth of a millisecond
/// or more (this project's 2-core VM: ext4 without a journal, whose inode allocator skips recently
/// deleted inodes one by one), serialised per folder, so drawing threads that also create their
/// files wait on each other. The explorer's 4,900 files (write_explorer): 1.8-2.0 s on one drawing
/// thread before, 1.2-1.3 s with the writer beside it; on two drawing threads 1.7-2.1 s before,
/// 1.6-1.8 s with it.
/// At most `max_bytes` wait in memory: write() blocks until the new file fits (a file larger than
/// that waits for an empty queue). The first failure is thrown by the next write() or by finish();
/// files after it are not written. The destructor drops what is still queued (an error path:
/// call finish() first) and stops the thread without throwing.
class BackgroundWriter {
public:
    explicit BackgroundWriter(std::size_t max_bytes = std::size_t{64} << 20);
    ~BackgroundWriter();
    BackgroundWriter(const BackgroundWriter&) = delete;
    BackgroundWriter& operator=(const BackgroundWriter&) = delete;

    /// Queues `bytes` for `path`; thread-safe.
    void write(std::string path, std::vector<std::uint8_t> bytes);
    /// Waits until every queued file is written; throws the first error.
    void finish();

private:
    struct State;
    std::unique_ptr<State> s_;
};

/// A folder built under a hidden temporary name beside its destination and moved into place
/// whole when complete: readers see the old folder or the new one, never a mix.
class StagedDir {
public:
    /// Creates ".NAME.tmp-<pid>-<n>" beside `dest` (creating dest's parent if missing), after
    /// removing the stale staging folders of dead processes for the same NAME. Throws Error
    /// naming the path if it cannot (permissions, a file in the way, a name too long).
    explicit StagedDir(const std::string& dest);
    ~StagedDir();  // removes the staging folder unless committed
    StagedDir(const StagedDir&) = delete;
    StagedDir& operator=(const StagedDir&) = delete;

    const std::string& path() const { return staging_; }
    const std::string& destination() const { return dest_; }

    /// Puts the staging folder in place of the destination: an existing destination is exchanged
    /// with it atomically (renameat2 RENAME_EXCHANGE; two renames where the file system lacks it),
    /// the entries of the old folder for which `carry(name)` is true and that the new folder lacks
    /// are moved into the new one, and the rest of the old folder is deleted. Throws Error naming
    /// the path on failure (the destination then still holds the old folder).
    void commit(const std::function<bool(const std::string& name)>& carry = {});

private:
    std::string dest_, staging_;
    bool committed_ = false;
};

}  // namespace camscope
