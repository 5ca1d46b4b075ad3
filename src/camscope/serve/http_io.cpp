// The socket side of the HTTP transport (http_io.hpp).
#include "camscope/serve/http_io.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::serve::http_io {

void close_fd(int fd) {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
}

bool peer_gone(int fd) {
    char c;
    const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

HeadInfo parse_head(std::string_view buf) {
    HeadInfo h;
    size_t eol = buf.find('\n');
    std::string_view line = buf.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return h;
    const size_t sp2 = line.find(' ', sp1 + 1);
    h.method = std::string(line.substr(0, sp1));
    h.target = std::string(line.substr(sp1 + 1, sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp1 - 1));
    while (eol != std::string_view::npos) {
        const size_t start = eol + 1;
        eol = buf.find('\n', start);
        line = buf.substr(start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;  // the end of the head
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        h.headers.emplace(to_lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
    }
    return h;
}

std::string header_of(const HeadInfo& h, const std::string& name) {
    const auto it = h.headers.find(name);
    return it == h.headers.end() ? std::string() : it->second;
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000 * 1000)));
        if (r > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
        if (r == 0) return false;
        if (errno != EINTR) return false;
    }
}

std::string address_text(const sockaddr_storage& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
    if (a.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
    return buf;
}

int port_of(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    return 0;
}

int bind_listen(const std::string& host, int& port, bool& loopback) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (const int e = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); e != 0)
        throw Error("cannot listen on " + host + ": " + gai_strerror(e));
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
    std::string last_error = "no address";
    for (addrinfo* a = res; a; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) continue;
        const int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 512) != 0) {
            last_error = std::strerror(errno);
            ::close(fd);
            continue;
        }
        sockaddr_storage bound{};
        socklen_t len = sizeof bound;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
        port = port_of(bound);
        if (bound.ss_family == AF_INET) {
            const auto addr = ntohl(reinterpret_cast<const sockaddr_in&>(bound).sin_addr.s_addr);
            loopback = (addr >> 24) == 127;
        } else {
            const auto& a6 = reinterpret_cast<const sockaddr_in6&>(bound).sin6_addr;
            loopback = IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
        }
        return fd;
    }
    throw Error(format("cannot listen on %s:%s (%s%s)", host.c_str(), service.c_str(), last_error.c_str(),
                       service != "0" ? "; in use? try --port 0 for any free port" : ""));
}

}  // namespace camscope::serve::http_io
