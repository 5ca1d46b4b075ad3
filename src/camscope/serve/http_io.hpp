#pragma once
// The socket side of the HTTP transport (http.cpp; internal to serve/): descriptors, waits bounded
// by a deadline, the listening socket, a first look at a request head, and the stream httplib
// reads one request from and writes its answer to.
#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>

namespace camscope::serve::http_io {

using Clock = std::chrono::steady_clock;

/// Shuts `fd` down both ways and closes it.
void close_fd(int fd);

/// Whether the client of `fd` has closed the connection (or reset it): a read would say end of
/// stream. Bytes it sent that nobody read yet (a pipelined request) count as still there.
bool peer_gone(int fd);

/// Blocks until fd is readable/writable or `deadline`; false on timeout or error.
bool wait_fd(int fd, short events, Clock::time_point deadline);

std::string address_text(const sockaddr_storage& a);
int port_of(const sockaddr_storage& a);

/// Binds host:port (port 0: any free port; the first address the host resolves to that binds).
/// Returns the non-blocking listening socket and sets the port; `loopback` says whether the bound
/// address is a loopback one. Error naming host and port if none binds.
int bind_listen(const std::string& host, int& port, bool& loopback);

/// What the transport needs to know of a request head: its method, target and the named headers (the first
/// of each, names lower-case). Only to pick the lane; httplib parses the request for real.
struct HeadInfo {
    std::string method, target;
    std::map<std::string, std::string> headers;
};

HeadInfo parse_head(std::string_view buf);
/// The header's value, "" if absent (`name` lower-case).
std::string header_of(const HeadInfo& h, const std::string& name);

/// One request's view of a connection for httplib: the bytes the poller already read first, then
/// the socket, every read and write bounded by the request's deadline.
class ConnStream final : public httplib::Stream {
public:
    ConnStream(int fd, std::string pending, Clock::time_point read_deadline, Clock::time_point write_deadline)
        : fd_(fd), buf_(std::move(pending)), read_deadline_(read_deadline), write_deadline_(write_deadline) {}

    bool is_readable() const override { return pos_ < buf_.size() || wait_fd(fd_, POLLIN, read_deadline_); }
    bool is_writable() const override { return wait_fd(fd_, POLLOUT, write_deadline_); }
    ssize_t read(char* ptr, size_t size) override {
        if (pos_ >= buf_.size()) {
            ssize_t n;
            buf_.resize(4096);
            pos_ = 0;
            do {  // the socket is non-blocking: wait, then read (again if woken for nothing)
                if (!wait_fd(fd_, POLLIN, read_deadline_)) {
                    buf_.clear();
                    return -1;
                }
                n = ::recv(fd_, buf_.data(), buf_.size(), 0);
            } while (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK));
            buf_.resize(n > 0 ? static_cast<size_t>(n) : 0);
            if (n <= 0) return n;
        }
        const size_t n = std::min(size, buf_.size() - pos_);
        std::memcpy(ptr, buf_.data() + pos_, n);
        pos_ += n;
        return static_cast<ssize_t>(n);
    }
    ssize_t write(const char* ptr, size_t size) override {
        ssize_t n;
        do {
            if (!wait_fd(fd_, POLLOUT, write_deadline_)) return -1;
            n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
        } while (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK));
        return n;
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage a{};
        socklen_t len = sizeof a;
        if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip = address_text(a), port = port_of(a);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage a{};
        socklen_t len = sizeof a;
        if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip = address_text(a), port = port_of(a);
    }
    socket_t socket() const override { return fd_; }
    /// What was read past this request (a pipelined next one).
    std::string leftover() const { return buf_.substr(std::min(pos_, buf_.size())); }

private:
    int fd_;
    std::string buf_;
    size_t pos_ = 0;
    Clock::time_point read_deadline_, write_deadline_;
};

}  // namespace camscope::serve::http_io
