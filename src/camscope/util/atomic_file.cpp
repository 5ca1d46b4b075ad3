#include "camscope/util/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "camscope/util/error.hpp"

namespace camscope {
namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Owns a file descriptor and the temp file behind it until the rename commits it: any early exit
// (exception, failed write) closes the descriptor and unlinks the temp, so no half-written file
// remains under either name.
class TempFile {
public:
    TempFile(std::string final_path, std::string temp_path) : final_(std::move(final_path)), temp_(std::move(temp_path)) {
        fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd_ < 0) throw Error(where(final_, "cannot create temporary file " + temp_ + ": " + errno_text(errno)));
    }
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(temp_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    void write_all(const char* p, size_t n) {
        while (n > 0) {
            ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                throw Error(where(final_, "write failed: " + errno_text(errno)));
            }
            p += w;
            n -= static_cast<size_t>(w);
        }
    }

    void commit() {
        // close() can report deferred write errors (NFS, quota), so its result matters.
        int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) throw Error(where(final_, "close failed: " + errno_text(errno)));
        if (std::rename(temp_.c_str(), final_.c_str()) != 0)
            throw Error(where(final_, "cannot rename " + temp_ + " into place: " + errno_text(errno)));
        committed_ = true;
    }

private:
    std::string final_, temp_;
    int fd_ = -1;
    bool committed_ = false;
};

std::string temp_name_for(const fs::path& target) {
    static std::atomic<unsigned long> counter{0};
    // Hidden, in the same folder (rename must not cross file systems), unique per process and call.
    std::string name(".");
    name += target.filename().string();
    name += ".tmp-";
    name += std::to_string(::getpid());
    name += '-';
    name += std::to_string(counter.fetch_add(1));
    return (target.parent_path() / name).string();
}

}  // namespace

void make_dirs(const std::string& path) {
    if (path.empty()) return;
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec) throw Error(where(path, "cannot create directory: " + ec.message()));
    if (!fs::is_directory(path, ec)) throw Error(where(path, "exists but is not a directory"));
}

void write_file_atomic(const std::string& path, std::string_view data) {
    if (path.empty()) throw Error("write_file_atomic: empty output path");
    fs::path target(path);
    if (target.has_parent_path()) make_dirs(target.parent_path().string());
    TempFile tmp(path, temp_name_for(target));
    tmp.write_all(data.data(), data.size());
    tmp.commit();
}

void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& data) {
    write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

std::vector<std::uint8_t> read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(where(path, "cannot open: " + errno_text(errno)));
    std::vector<std::uint8_t> out;
    std::uint8_t buf[1 << 16];
    for (;;) {
        ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            throw Error(where(path, "read failed: " + errno_text(err)));
        }
        if (r == 0) break;
        out.insert(out.end(), buf, buf + r);
    }
    ::close(fd);
    return out;
}

}  // namespace camscope
