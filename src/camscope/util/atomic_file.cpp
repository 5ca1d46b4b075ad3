#include "camscope/util/atomic_file.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <exception>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

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
        register_temp_path(temp_);  // first: a signal's cleanup must know it before it exists
        fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd_ < 0) {
            const int err = errno;
            unregister_temp_path(temp_);
            throw Error(where(final_, "cannot create temporary file " + temp_ + ": " + errno_text(err)));
        }
    }
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(temp_.c_str());
        unregister_temp_path(temp_);
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

// The temporary paths to remove on a signal (install_signal_cleanup).
std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}
std::set<std::string>& registry() {
    static std::set<std::string> r;
    return r;
}

bool process_alive(long pid) { return pid > 0 && pid <= INT32_MAX && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH); }

/// Once per process and folder: the stale temporary names of dead processes there go first.
void clean_folder_once(const fs::path& dir) {
    static std::mutex mu;
    static std::set<std::string> done;
    const std::string key = dir.empty() ? std::string(".") : dir.string();
    {
        std::lock_guard lock(mu);
        if (!done.insert(key).second) return;
    }
    remove_stale_temps(key);
}

}  // namespace

std::string temp_name_for(const std::string& path) {
    static std::atomic<unsigned long> counter{0};
    const fs::path target(path);
    // Hidden, in the same folder (rename must not cross file systems), unique per process and call.
    std::string name(".");
    name += target.filename().string();
    name += ".tmp-";
    name += std::to_string(::getpid());
    name += '-';
    name += std::to_string(counter.fetch_add(1));
    return (target.parent_path() / name).string();
}

bool parse_temp_name(std::string_view name, long* pid, std::string* base) {
    // ".NAME.tmp-<pid>-<n>", NAME non-empty
    if (name.size() < 8 || name[0] != '.') return false;
    const size_t dash = name.rfind('-');
    if (dash == std::string_view::npos || dash + 1 == name.size()) return false;
    const size_t tmp = name.rfind(".tmp-", dash);
    if (tmp == std::string_view::npos || tmp < 2) return false;
    const std::string_view p = name.substr(tmp + 5, dash - tmp - 5), n = name.substr(dash + 1);
    auto digits = [](std::string_view v) {
        return !v.empty() && v.size() <= 18 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (!digits(p) || !digits(n)) return false;
    long value = 0;
    std::from_chars(p.data(), p.data() + p.size(), value);
    if (pid) *pid = value;
    if (base) *base = std::string(name.substr(1, tmp - 1));
    return true;
}

std::size_t remove_stale_temps(const std::string& dir, std::string_view base) {
    std::size_t removed = 0;
    std::error_code ec;
    fs::directory_iterator it(dir.empty() ? "." : dir, ec), end;
    std::vector<fs::path> stale;
    for (; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        long pid = 0;
        std::string b;
        if (!parse_temp_name(name, &pid, &b) || (!base.empty() && b != base)) continue;
        if (pid == ::getpid() || process_alive(pid)) continue;  // a run in progress (or this one)
        stale.push_back(it->path());
    }
    for (const auto& p : stale) {
        std::error_code rec;
        if (fs::remove_all(p, rec) > 0 && !rec) ++removed;
    }
    return removed;
}

void register_temp_path(const std::string& path) {
    std::lock_guard lock(registry_mutex());
    registry().insert(path);
}

void unregister_temp_path(const std::string& path) {
    std::lock_guard lock(registry_mutex());
    registry().erase(path);
}

namespace {
int g_signal_pipe[2] = {-1, -1};

// Async-signal-safe: hand the signal number to the cleanup thread.
void forward_signal(int sig) {
    const int saved = errno;
    const unsigned char b = static_cast<unsigned char>(sig);
    (void)!::write(g_signal_pipe[1], &b, 1);
    errno = saved;
}
}  // namespace

void install_signal_cleanup() {
    static std::once_flag once;
    std::call_once(once, [] {
        // A handler rather than sigwait with blocked signals: libraries may start threads before
        // main() whose masks we cannot set, and any thread may receive the signal.
        if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) return;
        std::thread([] {
            unsigned char b = 0;
            while (::read(g_signal_pipe[0], &b, 1) != 1) {
            }
            const int sig = b;
            // The lock is never released: no new temporary path is registered (and so none is
            // created: registration comes first) while we end.
            registry_mutex().lock();
            for (const auto& p : registry()) {
                std::error_code ec;
                fs::remove_all(p, ec);
            }
            ::signal(sig, SIG_DFL);
            sigset_t one;
            sigemptyset(&one);
            sigaddset(&one, sig);
            pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
            ::raise(sig);  // default action: the process ends as it would have without us
            ::_exit(128 + sig);
        }).detach();
        struct sigaction sa {};
        sa.sa_handler = forward_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
    });
}

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
    clean_folder_once(target.parent_path());
    TempFile tmp(path, temp_name_for(path));
    tmp.write_all(data.data(), data.size());
    tmp.commit();
}

void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& data) {
    write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

struct BackgroundWriter::State {
    std::size_t max_bytes = 0, queued = 0;
    std::deque<std::pair<std::string, std::vector<std::uint8_t>>> queue;
    std::mutex mu;
    std::condition_variable changed;
    bool busy = false, stop = false;
    std::exception_ptr error;
    std::thread thread;

    void run() {
        std::unique_lock lock(mu);
        for (;;) {
            changed.wait(lock, [&] { return stop || !queue.empty(); });
            if (queue.empty()) return;  // stop, and nothing left
            auto item = std::move(queue.front());
            queue.pop_front();
            busy = true;
            lock.unlock();
            std::exception_ptr failed;
            if (!error) {  // read without the lock: only this thread sets it
                try {
                    write_file_atomic(item.first, item.second);
                } catch (...) {
                    failed = std::current_exception();
                }
            }
            lock.lock();
            if (failed) error = failed;
            queued -= item.second.size();
            busy = false;
            changed.notify_all();
        }
    }
};

BackgroundWriter::BackgroundWriter(std::size_t max_bytes) : s_(std::make_unique<State>()) {
    s_->max_bytes = max_bytes;
    s_->thread = std::thread([st = s_.get()] { st->run(); });
}

BackgroundWriter::~BackgroundWriter() {
    {
        std::lock_guard lock(s_->mu);
        s_->stop = true;
        s_->queue.clear();  // after finish() there is nothing left; on an error path, nothing is wanted
    }
    s_->changed.notify_all();
    s_->thread.join();
}

void BackgroundWriter::write(std::string path, std::vector<std::uint8_t> bytes) {
    std::unique_lock lock(s_->mu);
    s_->changed.wait(lock, [&] {
        return s_->error || s_->queued == 0 || s_->queued + bytes.size() <= s_->max_bytes;
    });
    if (s_->error) std::rethrow_exception(s_->error);
    s_->queued += bytes.size();
    s_->queue.emplace_back(std::move(path), std::move(bytes));
    s_->changed.notify_all();
}

void BackgroundWriter::finish() {
    std::unique_lock lock(s_->mu);
    s_->changed.wait(lock, [&] { return s_->queue.empty() && !s_->busy; });
    if (s_->error) std::rethrow_exception(s_->error);
}

RegularFile::RegularFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd_ < 0) throw Error(where(path, "cannot open: " + errno_text(errno)));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        const int err = errno;
        ::close(fd_);
        throw Error(where(path, "cannot stat: " + errno_text(err)));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd_);
        const char* kind = S_ISDIR(st.st_mode)    ? "a folder"
                           : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                           : S_ISCHR(st.st_mode)  ? "a character device"
                           : S_ISBLK(st.st_mode)  ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "not a regular file";
        throw Error(where(path, std::string("is ") + kind + ", expected a regular file"));
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
}

RegularFile::~RegularFile() {
    if (fd_ >= 0) ::close(fd_);
}

void RegularFile::read_at(std::uint64_t offset, void* dst, std::size_t n) const {
    auto* p = static_cast<std::uint8_t*>(dst);
    std::size_t done = 0;
    while (done < n) {
        const ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            throw Error(where(path_, "read failed: " + errno_text(errno)));
        }
        if (r == 0)
            throw Error(where(path_, "changed while read: ended at byte " + std::to_string(offset + done) + ", expected " +
                                         std::to_string(offset + n)));
        done += static_cast<std::size_t>(r);
    }
}

std::vector<std::uint8_t> RegularFile::read(std::uint64_t offset, std::size_t n) const {
    std::vector<std::uint8_t> out(n);
    read_at(offset, out.data(), n);
    return out;
}

std::vector<std::uint8_t> read_file(const std::string& path, std::uint64_t max_bytes) {
    RegularFile f(path);
    if (f.size() > max_bytes)
        throw Error(where(path, "is " + std::to_string(f.size()) + " bytes, more than the " + std::to_string(max_bytes) +
                                    " bytes camscope reads from such a file"));
    return f.read(0, static_cast<std::size_t>(f.size()));
}

StagedDir::StagedDir(const std::string& dest) {
    if (dest.empty()) throw Error("the output folder is an empty path");
    std::error_code ec;
    fs::path d = fs::absolute(dest, ec);
    if (ec) throw Error(where(dest, "cannot resolve the folder: " + ec.message()));
    d = d.lexically_normal();
    if (!d.has_filename()) d = d.parent_path();  // "report/" names the folder "report"
    if (!d.has_filename() || d == d.root_path())
        throw Error(where(dest, "names no folder that could be replaced (the root folder?)"));
    if (fs::is_symlink(fs::symlink_status(d, ec))) {  // swap where the link points, keep the link
        const fs::path target = fs::canonical(d, ec);
        if (ec) throw Error(where(dest, "a symbolic link that cannot be followed: " + ec.message()));
        d = target;
    }
    dest_ = d.string();
    make_dirs(d.parent_path().string());
    remove_stale_temps(d.parent_path().string(), d.filename().string());
    staging_ = temp_name_for(dest_);
    register_temp_path(staging_);  // first: a signal's cleanup must know it before it exists
    if (::mkdir(staging_.c_str(), 0755) != 0) {
        const int err = errno;
        unregister_temp_path(staging_);
        throw Error(where(dest_, "cannot create the temporary folder " + staging_ + " beside it: " + errno_text(err)));
    }
}

StagedDir::~StagedDir() {
    if (!committed_) {
        std::error_code ec;
        fs::remove_all(staging_, ec);
    }
    unregister_temp_path(staging_);
}

void StagedDir::commit(const std::function<bool(const std::string& name)>& carry) {
    std::error_code ec;
    const auto st = fs::symlink_status(dest_, ec);
    if (!fs::exists(st)) {
        if (std::rename(staging_.c_str(), dest_.c_str()) != 0)
            throw Error(where(dest_, "cannot move the finished folder " + staging_ + " into place: " + errno_text(errno)));
        committed_ = true;
        return;
    }
    if (!fs::is_directory(st)) throw Error(where(dest_, "exists and is not a folder"));
    std::string old = staging_;  // after the exchange the old folder lies here
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, dest_.c_str(), RENAME_EXCHANGE) != 0) {
        if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            throw Error(where(dest_, "cannot swap in the finished folder " + staging_ + ": " + errno_text(errno)));
        // No atomic exchange on this file system: two renames (the old folder survives under a
        // hidden name if we are killed between them; the next run removes it).
        old = temp_name_for(dest_);
        if (std::rename(dest_.c_str(), old.c_str()) != 0)
            throw Error(where(dest_, "cannot move the previous folder aside: " + errno_text(errno)));
        if (std::rename(staging_.c_str(), dest_.c_str()) != 0) {
            const int err = errno;
            std::rename(old.c_str(), dest_.c_str());
            throw Error(where(dest_, "cannot move the finished folder " + staging_ + " into place: " + errno_text(err)));
        }
    }
    committed_ = true;
    // Carry the entries the caller wants kept (files a user put there) into the new folder.
    std::vector<std::string> failed;
    if (carry) {
        std::vector<std::string> names;
        for (fs::directory_iterator it(old, ec), end; !ec && it != end; it.increment(ec))
            names.push_back(it->path().filename().string());
        for (const auto& name : names) {
            if (!carry(name)) continue;
            const fs::path to = fs::path(dest_) / name;
            if (fs::exists(fs::symlink_status(to, ec))) continue;  // the new folder has its own
            if (std::rename((fs::path(old) / name).c_str(), to.c_str()) != 0) failed.push_back(name);
        }
    }
    if (!failed.empty()) {
        unregister_temp_path(old);
        throw Error(where(dest_, "the new folder is in place, but " + std::to_string(failed.size()) +
                                     " entries of the previous one could not be moved into it (first: " + failed[0] +
                                     "); they are in " + old));
    }
    fs::remove_all(old, ec);
    if (ec) throw Error(where(old, "the new folder is in place, but the previous one could not be removed: " + ec.message()));
}

}  // namespace camscope
