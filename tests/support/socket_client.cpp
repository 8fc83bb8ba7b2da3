// SPDX-License-Identifier: MIT
#include "support/socket_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/system/system_error.hpp>

namespace afterwork::testing {

namespace {

using SteadyClock = std::chrono::steady_clock;

namespace errc = boost::system::errc;

const boost::system::error_code kTimedOut = make_error_code(errc::timed_out);
const boost::system::error_code kClosed = boost::asio::error::eof;
const boost::system::error_code kReset = make_error_code(errc::connection_reset);
const boost::system::error_code kMalformed = make_error_code(errc::bad_message);

boost::system::error_code errno_code(int value) {
    return {value, boost::system::generic_category()};
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// Whether the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        auto comma = value.find(',');
        if (iequals(trim(value.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

// Milliseconds left before `deadline`, rounded up so a poll never ends just before it.
int remaining_ms(SteadyClock::time_point deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// Waits until `fd` reports `events` or the deadline passes.
boost::system::error_code wait_ready(int fd, short events, SteadyClock::time_point deadline) {
    for (;;) {
        int left = remaining_ms(deadline);
        if (left == 0) return kTimedOut;
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, left);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno_code(errno);
        }
        if (r > 0) return {};
    }
}

}  // namespace

std::optional<std::string_view> RawResponse::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return std::string_view(value);
    }
    return std::nullopt;
}

bool RawResponse::closes() const {
    auto connection = header("connection");
    if (connection && has_token(*connection, "close")) return true;
    if (version == "HTTP/1.0") return !(connection && has_token(*connection, "keep-alive"));
    return false;
}

boost::json::value RawResponse::json() const {
    boost::system::error_code ec;
    auto value = boost::json::parse(body, ec);
    if (ec) throw std::runtime_error("response body is not JSON: " + body);
    return value;
}

SocketResult<SocketClient> SocketClient::connect(std::uint16_t port, ConnectOptions options) {
    const auto deadline = SteadyClock::now() + options.timeout;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return errno_code(errno);
    SocketClient client(fd);  // closes `fd` on every early return
    if (options.receive_buffer > 0) {
        ::setsockopt(
            fd, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer, sizeof options.receive_buffer);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        if (errno != EINPROGRESS) return errno_code(errno);
        if (auto ec = wait_ready(fd, POLLOUT, deadline)) return ec;
        int error = 0;
        socklen_t length = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) return errno_code(error);
    }
    return client;
}

SocketClient::SocketClient(std::uint16_t port, ConnectOptions options) {
    auto connected = connect(port, options);
    if (!connected) {
        throw boost::system::system_error(connected.error(),
                                          "connect to 127.0.0.1:" + std::to_string(port));
    }
    *this = std::move(*connected);
}

SocketClient::SocketClient(SocketClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      received_(other.received_) {}

SocketClient& SocketClient::operator=(SocketClient&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        buffer_ = std::move(other.buffer_);
        received_ = other.received_;
    }
    return *this;
}

SocketClient::~SocketClient() { close(); }

SocketResult<void> SocketClient::send(std::string_view bytes, std::chrono::milliseconds timeout) {
    if (fd_ < 0) return errno_code(EBADF);
    const auto deadline = SteadyClock::now() + timeout;
    while (!bytes.empty()) {
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (auto ec = wait_ready(fd_, POLLOUT, deadline)) return ec;
            continue;
        }
        if (n < 0 && errno == ECONNRESET) return kReset;
        return errno_code(n < 0 ? errno : EIO);
    }
    return {};
}

boost::system::error_code SocketClient::fill(SteadyClock::time_point deadline) {
    if (fd_ < 0) return errno_code(EBADF);
    char chunk[64 * 1024];
    for (;;) {
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n > 0) {
            buffer_.append(chunk, static_cast<std::size_t>(n));
            received_ += static_cast<std::size_t>(n);
            return {};
        }
        if (n == 0) return kClosed;
        if (errno == EINTR) continue;
        if (errno == ECONNRESET) return kReset;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return errno_code(errno);
        if (auto ec = wait_ready(fd_, POLLIN, deadline)) return ec;
    }
}

SocketResult<void> SocketClient::receive_until(const std::function<bool(std::string_view)>& done,
                                               std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!done(buffer_)) {
        if (auto ec = fill(deadline)) return ec;
    }
    return {};
}

SocketResult<RawResponse> SocketClient::read_response(ReadOptions options) {
    const auto deadline = SteadyClock::now() + options.timeout;
    constexpr std::size_t kMaxHead = 1024 * 1024;
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (buffer_.size() > kMaxHead) return kMalformed;
        if (auto ec = fill(deadline)) return ec;
    }

    RawResponse response;
    response.head = buffer_.substr(0, head_end + 4);
    std::string_view head(response.head);
    head.remove_suffix(4);
    auto line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    head = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);

    // "HTTP/1.1 200 OK"
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ') {
        return kMalformed;
    }
    response.version = std::string(status_line.substr(0, 8));
    auto code = status_line.substr(9, 3);
    if (std::from_chars(code.data(), code.data() + 3, response.status).ptr != code.data() + 3) {
        return kMalformed;
    }
    if (status_line.size() > 13) response.reason = std::string(status_line.substr(13));

    while (!head.empty()) {
        auto end = head.find("\r\n");
        std::string_view line = head.substr(0, end);
        head = end == std::string_view::npos ? std::string_view{} : head.substr(end + 2);
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return kMalformed;
        response.headers.emplace_back(std::string(line.substr(0, colon)),
                                      std::string(trim(line.substr(colon + 1))));
    }
    buffer_.erase(0, head_end + 4);

    if (options.no_body || response.status / 100 == 1 || response.status == 204 ||
        response.status == 304) {
        return response;
    }

    auto transfer_encoding = response.header("transfer-encoding");
    if (transfer_encoding && has_token(*transfer_encoding, "chunked")) {
        for (;;) {
            std::size_t size_end;
            while ((size_end = buffer_.find("\r\n")) == std::string::npos) {
                if (auto ec = fill(deadline)) return ec;
            }
            std::string_view size_text(buffer_.data(), size_end);
            size_text = size_text.substr(0, size_text.find(';'));
            std::size_t size = 0;
            auto parsed =
                std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
            if (size_text.empty() || parsed.ptr != size_text.data() + size_text.size()) {
                return kMalformed;
            }
            buffer_.erase(0, size_end + 2);
            if (size == 0) {
                // Trailers, then the empty line.
                std::size_t end;
                while ((end = buffer_.find("\r\n")) != 0) {
                    if (end == std::string::npos) {
                        if (auto ec = fill(deadline)) return ec;
                    } else {
                        buffer_.erase(0, end + 2);
                    }
                }
                buffer_.erase(0, 2);
                return response;
            }
            while (buffer_.size() < size + 2) {
                if (auto ec = fill(deadline)) return ec;
            }
            response.body.append(buffer_, 0, size);
            buffer_.erase(0, size + 2);
        }
    }

    if (auto length_text = response.header("content-length")) {
        std::size_t length = 0;
        auto parsed =
            std::from_chars(length_text->data(), length_text->data() + length_text->size(), length);
        if (parsed.ptr != length_text->data() + length_text->size()) return kMalformed;
        while (buffer_.size() < length) {
            if (auto ec = fill(deadline)) return ec;
        }
        response.body = buffer_.substr(0, length);
        buffer_.erase(0, length);
        return response;
    }

    // No framing: the body runs until the server closes.
    for (;;) {
        auto ec = fill(deadline);
        if (ec == kClosed) break;
        if (ec) return ec;
    }
    response.body = std::move(buffer_);
    buffer_.clear();
    return response;
}

SocketResult<std::string> SocketClient::read_until_closed(std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
        auto ec = fill(deadline);
        if (ec == kClosed || ec == kReset) break;
        if (ec) return ec;
    }
    std::string rest = std::move(buffer_);
    buffer_.clear();
    return rest;
}

void SocketClient::shutdown_write() noexcept {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void SocketClient::close() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

void SocketClient::reset() noexcept {
    if (fd_ < 0) return;
    linger option{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &option, sizeof option);
    close();
}

std::string format_request(std::string_view method,
                           std::string_view target,
                           std::string_view body,
                           const Headers& headers,
                           bool close) {
    std::string out;
    out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
    out.append("Host: 127.0.0.1\r\n");
    bool framed = false;
    for (const auto& [name, value] : headers) {
        if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) framed = true;
    }
    const bool usually_has_body = method == "POST" || method == "PUT" || method == "PATCH";
    if (!framed && (!body.empty() || usually_has_body)) {
        out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    for (const auto& [name, value] : headers) {
        out.append(name).append(": ").append(value).append("\r\n");
    }
    if (close) out.append("Connection: close\r\n");
    out.append("\r\n");
    out.append(body);
    return out;
}

SocketResult<RawResponse> http_request(std::uint16_t port,
                                       std::string_view method,
                                       std::string_view target,
                                       std::string_view body,
                                       const Headers& headers,
                                       std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    auto client = SocketClient::connect(port, {.timeout = timeout});
    if (!client) return client.error();
    auto left = [&] {
        return std::max(std::chrono::milliseconds(1),
                        std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()));
    };
    if (auto sent = client->send(format_request(method, target, body, headers, true), left());
        !sent) {
        return sent.error();
    }
    return client->read_response({.timeout = left(), .no_body = method == "HEAD"});
}

Listener::Listener(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw boost::system::system_error(errno_code(errno), "socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        auto ec = errno_code(errno);
        ::close(fd_);
        throw boost::system::system_error(ec, "listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
}

Listener::~Listener() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace afterwork::testing
