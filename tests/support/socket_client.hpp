// SPDX-License-Identifier: MIT
#pragma once

// testing::SocketClient: a small blocking TCP client over POSIX sockets for raw HTTP tests.
// It connects to 127.0.0.1:port, sends bytes exactly as given (hostile input included) and
// reads HTTP/1.1 responses itself — status line, headers, then a Content-Length, chunked or
// read-until-close body — so the tests check the server's framing with code that shares
// nothing with Beast. Every read and send has a deadline (10 s unless told) and returns an
// error instead of hanging; a closed or reset connection is reported as such.
//
// Thread safety: distinct objects safe, shared unsafe.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <afterwork/testing/test_client.hpp>

namespace afterwork::testing {

inline constexpr std::chrono::milliseconds kSocketTimeout{10'000};

/// The result of a socket operation. Besides plain `errno` codes, the errors are
/// `errc::timed_out` (the deadline passed first), `asio::error::eof` (the server closed the
/// connection before the expected data), `errc::connection_reset` (the server reset it) and
/// `errc::bad_message` (what arrived is not an HTTP/1.x response).
template <class T>
using SocketResult = boost::system::result<T>;

/// One response as received on the wire.
struct RawResponse {
    std::string version;  ///< "HTTP/1.1"
    int status = 0;
    std::string reason;
    Headers headers;   ///< in the order received, names as sent
    std::string body;  ///< chunked bodies are decoded
    std::string head;  ///< the status line and headers exactly as received

    /// The first header called `name` (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const;
    /// Whether the server said it closes the connection (`Connection: close`, or HTTP/1.0
    /// without `Connection: keep-alive`).
    bool closes() const;
    /// The body parsed as JSON; throws `std::runtime_error` with the body when it is not JSON.
    boost::json::value json() const;
};

struct ConnectOptions {
    std::chrono::milliseconds timeout = kSocketTimeout;
    /// SO_RCVBUF set before connecting (it also turns off receive-window autotuning), so a
    /// client that stops reading makes the server block quickly; 0 keeps the kernel default.
    int receive_buffer = 0;
};

struct ReadOptions {
    std::chrono::milliseconds timeout = kSocketTimeout;
    /// The response has no body whatever its headers say (the answer to a HEAD request).
    bool no_body = false;
};

class SocketClient {
public:
    /// Connects to 127.0.0.1:`port`; the error is the connect error (`connection_refused`, ...)
    /// or `timed_out`.
    static SocketResult<SocketClient> connect(std::uint16_t port, ConnectOptions options = {});

    /// Connects to 127.0.0.1:`port` or throws `boost::system::system_error`.
    explicit SocketClient(std::uint16_t port, ConnectOptions options = {});
    SocketClient(SocketClient&& other) noexcept;
    SocketClient& operator=(SocketClient&& other) noexcept;
    SocketClient(const SocketClient&) = delete;
    SocketClient& operator=(const SocketClient&) = delete;
    ~SocketClient();

    /// Sends all of `bytes` before the deadline. A send that times out may have sent part.
    SocketResult<void> send(std::string_view bytes,
                            std::chrono::milliseconds timeout = kSocketTimeout);

    /// Reads one response; bytes after it stay buffered for the next call (pipelining). An
    /// interim 1xx response is returned like any other: call again for the final one.
    SocketResult<RawResponse> read_response(ReadOptions options = {});

    /// Receives until `done(buffered bytes)` holds, without consuming anything: a later
    /// `read_response` still parses those bytes.
    SocketResult<void> receive_until(const std::function<bool(std::string_view)>& done,
                                     std::chrono::milliseconds timeout = kSocketTimeout);

    /// Reads until the server closes the connection (EOF or reset) and returns what arrived
    /// after the buffered bytes were consumed (buffered ones included); `timed_out` if it stays
    /// open.
    SocketResult<std::string> read_until_closed(std::chrono::milliseconds timeout = kSocketTimeout);

    /// The bytes received and not yet consumed by `read_response`.
    std::string_view buffered() const noexcept { return buffer_; }
    /// All bytes received on this connection so far.
    std::size_t bytes_received() const noexcept { return received_; }

    /// Half-closes: the server sees EOF, the client can still read.
    void shutdown_write() noexcept;
    /// Closes the socket (idempotent).
    void close() noexcept;
    /// Closes with SO_LINGER 0, so the server sees a reset instead of an orderly close.
    void reset() noexcept;
    bool is_open() const noexcept { return fd_ >= 0; }
    int native_handle() const noexcept { return fd_; }

private:
    explicit SocketClient(int fd) noexcept : fd_(fd) {}
    // Appends at least one more byte to `buffer_` before `deadline`.
    boost::system::error_code fill(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string buffer_;
    std::size_t received_ = 0;
};

/// A request as bytes: `METHOD target HTTP/1.1`, `Host`, `Content-Length` when there is a body
/// or the method usually has one (unless `headers` frame the body themselves), `headers`, then
/// `body`. With `close`, adds `Connection: close`.
std::string format_request(std::string_view method,
                           std::string_view target,
                           std::string_view body = {},
                           const Headers& headers = {},
                           bool close = false);

/// One request on a fresh connection (with `Connection: close`) and its response.
SocketResult<RawResponse> http_request(std::uint16_t port,
                                       std::string_view method,
                                       std::string_view target,
                                       std::string_view body = {},
                                       const Headers& headers = {},
                                       std::chrono::milliseconds timeout = kSocketTimeout);

/// A listening TCP socket on 127.0.0.1 (port 0 picks a free one): holds a port taken.
class Listener {
public:
    explicit Listener(std::uint16_t port = 0);
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    ~Listener();
    std::uint16_t port() const noexcept { return port_; }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace afterwork::testing
