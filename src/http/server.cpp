// SPDX-License-Identifier: MIT
#include "http/server.hpp"

#include <chrono>
#include <ctime>

#include <algorithm>
#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <afterwork/runtime/use_task.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/app_core.hpp"

namespace afterwork::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::as_tuple;
using afterwork::use_task;

struct Server::Connection {
    explicit Connection(Tcp::socket s) : socket(std::move(s)) {}
    Tcp::socket socket;
    beast::flat_buffer buffer;
    std::string output;  // the serialised response, reused by every request
    // When the pending read or write must have completed; max while none is pending.
    Clock::time_point deadline = Clock::time_point::max();
    bool timed_out = false;  // the sweep cancelled an operation: the connection closes
    bool idle = false;       // waiting for the first byte of a request
};

namespace {

// The Date header, formatted once per second per thread.
std::string_view http_date() {
    thread_local std::time_t cached_second = 0;
    thread_local char text[40];
    thread_local std::size_t length = 0;
    std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        cached_second = now;
        std::tm parts{};
        gmtime_r(&now, &parts);
        length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
    }
    return {text, length};
}

bool safe_header_text(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void append_number(std::string& out, std::size_t value) {
    char digits[24];
    auto result = std::to_chars(digits, digits + sizeof digits, value);
    out.append(digits, result.ptr);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
}

// Writes the whole response — status line, headers, body — into `out`, one buffer for one
// send: much cheaper than Beast's serializer for the small answers a service sends. Header
// lines carrying CR, LF or NUL are dropped (response splitting) and logged.
void serialize_response(const Response& response, unsigned version, bool keep_alive,
                        std::string_view request_id, bool head, std::string& out) {
    out.clear();
    const int status = std::clamp(response.status, 100, 999);
    out.append(version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ");
    append_number(out, static_cast<std::size_t>(status));
    out.push_back(' ');
    out.append(status_reason(status));
    out.append("\r\nServer: afterwork\r\nDate: ");
    out.append(http_date());
    out.append("\r\n");
    // 1xx, 204 and 304 answers carry no body and no length.
    const bool bodiless = status < 200 || status == 204 || status == 304;
    if (!bodiless && !response.body.empty() && safe_header_text(response.media_type())) {
        append_header(out, "Content-Type", response.media_type());
    }
    for (const auto& [name, value] : response.headers) {
        if (name.empty() || !safe_header_text(name) || !safe_header_text(value) ||
            name.find_first_of(": ") != std::string::npos) {
            spdlog::error("dropped response header {:?}: invalid characters", name);
            continue;
        }
        append_header(out, name, value);
    }
    if (!request_id.empty()) append_header(out, "x-request-id", request_id);
    if (version >= 11 && !keep_alive) out.append("Connection: close\r\n");
    if (version < 11 && keep_alive) out.append("Connection: keep-alive\r\n");
    if (!bodiless) {
        out.append("Content-Length: ");
        append_number(out, response.body.size());
        out.append("\r\n");
    }
    out.append("\r\n");
    if (!bodiless && !head) out.append(response.body);
}

// The status for a request that could not be read; 0 means close without answering (the
// client left, stalled or was cancelled).
int read_error_status(const boost::system::error_code& ec) {
    if (ec == http::error::header_limit) return 431;
    if (ec == http::error::body_limit) return 413;
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
    if (ec.category() == http::make_error_code(http::error::bad_method).category()) return 400;
    return 0;
}

}  // namespace

Server::Server(AppCore& app) : app_(app), registry_(app.loops.size()) {}

Server::~Server() = default;

void Server::bind(const std::string& host, std::uint16_t port) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) {
        throw StartupError(fmt::format("cannot listen on {}:{}: not an IP address", host, port));
    }
    Tcp::endpoint endpoint(address, port);
    Tcp::acceptor acceptor(app_.loops.front()->executor());
    auto fail = [&](std::string_view step) {
        throw StartupError(
            fmt::format("cannot listen on {}:{}: {} failed: {}", host, port, step, ec.message()));
    };
    acceptor.open(endpoint.protocol(), ec);
    if (ec) fail("open");
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) fail("setsockopt");
    acceptor.bind(endpoint, ec);
    if (ec) fail("bind");
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail("listen");
    port_ = acceptor.local_endpoint().port();
    bound_.emplace(std::move(acceptor));
}

void Server::start_accepting() {
    if (!bound_) return;
    acceptors_.spawn(app_.loops.front()->executor(), accept_loop(std::move(*bound_)), "accept");
    bound_.reset();
    for (std::size_t i = 0; i < app_.loops.size(); ++i) {
        acceptors_.spawn(app_.loops[i]->executor(), sweep(i), "timeouts");
    }
}

void Server::request_stop() noexcept {
    if (stopping_.exchange(true)) return;
    try {
        asio::post(app_.loops.front()->executor(), [this] {
            if (acceptor_) {
                boost::system::error_code ignored;
                acceptor_->close(ignored);
            }
        });
        for (std::size_t i = 0; i < app_.loops.size(); ++i) {
            asio::post(app_.loops[i]->executor(), [this, i] { close_idle(i); });
        }
    } catch (...) {
        // Out of memory for a post: the connections it did not reach are cancelled at the
        // drain deadline instead.
    }
}

void Server::hurry() noexcept {
    hurry_ = true;
    drain_waiters_.notify();
}

void Server::close_idle(std::size_t loop_index) {
    for (Connection* connection : registry_[loop_index]) {
        boost::system::error_code ignored;
        if (connection->idle) connection->socket.cancel(ignored);
    }
}

Task<bool> Server::stop(Clock::time_point deadline) {
    request_stop();
    constexpr auto kCancelGrace = std::chrono::seconds(5);
    const auto drained_or_hurried = [this] { return drained() || hurry_.load(); };
    if (!(co_await drain_waiters_.wait_until(deadline, drained_or_hurried) && drained())) {
        spdlog::warn("closing {} connection(s) still busy after the drain timeout",
                     connections());
        sessions_.cancel_all(CancelReason::shutdown);
    }
    // The sessions' frames end a little after their count drops; the cancelled ones get a
    // short wait to unwind, even after a second signal.
    bool ended = co_await sessions_.join_until(Clock::now() + kCancelGrace);
    // The acceptor ended with its listener; the timeout sweeps would end at their next tick.
    acceptors_.cancel_all(CancelReason::shutdown);
    ended = co_await acceptors_.join_until(Clock::now() + kCancelGrace) && ended;
    co_return ended;
}

Task<void> Server::accept_loop(Tcp::acceptor acceptor) {
    acceptor_ = &acceptor;
    // Also when the server's stop cancels this task: `request_stop` must not reach a closed
    // frame's acceptor.
    struct Forget {
        Tcp::acceptor*& acceptor;
        ~Forget() { acceptor = nullptr; }
    } forget{acceptor_};
    asio::steady_timer backoff(acceptor.get_executor());
    while (!stopping_) {
        std::size_t index = next_loop_++ % app_.loops.size();
        Executor executor = app_.loops[index]->executor();
        auto [ec, socket] = co_await acceptor.async_accept(executor, as_tuple(use_task));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
            // Out of descriptors or similar: back off instead of spinning on the error.
            spdlog::warn("accept failed: {}; retrying in 50 ms", ec.message());
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(as_tuple(use_task));
            continue;
        }
        connections_.fetch_add(1);
        sessions_.spawn(executor, session(Tcp::socket(std::move(socket)), index), "connection");
    }
}

Task<boost::system::error_code> Server::read_more(Connection& connection,
                                                  Clock::time_point deadline) {
    auto& buffer = connection.buffer;
    connection.deadline = deadline;
    auto [ec, n] = co_await connection.socket.async_read_some(
        buffer.prepare(std::max<std::size_t>(4096, buffer.capacity() - buffer.size())),
        as_tuple(use_task));
    connection.deadline = Clock::time_point::max();
    if (connection.timed_out) co_return beast::error::timeout;
    if (!ec) buffer.commit(n);
    co_return ec;
}

Task<boost::system::error_code> Server::write_output(Connection& connection) {
    connection.deadline = Clock::now() + app_.options.limits.write_timeout;
    auto [ec, n] = co_await asio::async_write(connection.socket, asio::buffer(connection.output),
                                              as_tuple(use_task));
    connection.deadline = Clock::time_point::max();
    if (connection.timed_out) co_return beast::error::timeout;
    co_return ec;
}

Task<void> Server::refuse(Connection& connection, int status, std::string detail) {
    Response response = error_response(status, detail);
    serialize_response(response, 11, false, {}, false, connection.output);
    co_await write_output(connection);
}

Task<void> Server::sweep(std::size_t loop_index) {
    // One timer per loop, instead of one per socket operation: deadlines are plain stores on
    // the connection, and this sweep cancels the operations whose deadline passed. A timeout
    // fires up to a tick late.
    const Limits& limits = app_.options.limits;
    auto shortest = std::min({limits.header_timeout, limits.body_timeout, limits.idle_timeout,
                              limits.write_timeout});
    const auto tick = std::clamp<std::chrono::milliseconds>(
        shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
    asio::steady_timer timer(co_await current_executor());
    auto& registry = registry_[loop_index];
    while (!(stopping_ && registry.empty())) {
        timer.expires_after(tick);
        auto [ec] = co_await timer.async_wait(as_tuple(use_task));
        if (ec) break;
        const auto now = Clock::now();
        for (Connection* connection : registry) {
            if (connection->deadline <= now && !connection->timed_out) {
                connection->timed_out = true;
                boost::system::error_code ignored;
                connection->socket.cancel(ignored);
            }
        }
    }
}

Task<void> Server::session(Tcp::socket socket, std::size_t loop_index) {
    Connection connection(std::move(socket));
    auto& registry = registry_[loop_index];
    registry.push_front(&connection);
    struct Unregister {
        Server& server;
        std::list<Connection*>& registry;
        std::list<Connection*>::iterator self;
        ~Unregister() {
            registry.erase(self);
            // Seen by a stop's drain: both counters are seq_cst (see WakeList).
            if (server.connections_.fetch_sub(1) == 1 && server.stopping_.load()) {
                server.drain_waiters_.notify();
            }
        }
    } unregister{*this, registry, registry.begin()};

    const Limits& limits = app_.options.limits;
    auto& buffer = connection.buffer;
    Executor executor = connection.socket.get_executor();
    boost::system::error_code ignored;
    connection.socket.set_option(Tcp::no_delay(true), ignored);

    if (connections_.load() > limits.max_connections) {
        co_await refuse(connection, 503, "Service Unavailable: too many connections");
        connection.socket.shutdown(Tcp::socket::shutdown_both, ignored);
        co_return;
    }

    bool first = true;
    for (;;) {
        if (buffer.size() == 0) {
            // Idle: wait for the first byte of the next request under the idle timeout (the
            // header timeout for a new connection); the header timeout runs from there on.
            if (stopping_) break;
            connection.idle = true;
            auto ec = co_await read_more(
                connection, Clock::now() + (first ? limits.header_timeout : limits.idle_timeout));
            connection.idle = false;
            if (ec) break;
        }
        first = false;

        // Parse what is buffered and read more only when the parser needs it: most requests
        // arrive whole in one read, so they cost no further operation.
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(
            std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
        parser.body_limit(limits.max_body_bytes);
        parser.eager(false);  // stop after the header, to check it before any body
        const auto header_deadline = Clock::now() + limits.header_timeout;
        auto body_deadline = Clock::time_point::max();
        int refusal = 0;
        std::string reason;
        bool close = false;
        while (!parser.is_done()) {
            boost::system::error_code ec;
            if (buffer.size() > 0) {
                const bool had_header = parser.is_header_done();
                const auto used = parser.put(buffer.data(), ec);
                buffer.consume(used);
                if (ec && ec != http::error::need_more) {
                    refusal = read_error_status(ec);
                    reason = ec.message();
                    break;
                }
                if (!had_header && parser.is_header_done()) {
                    // Framing the parser would get wrong: a Transfer-Encoding that does not
                    // end in chunked leaves the body length unknown (its bytes would be read
                    // as the next request: smuggling), and HTTP/1.1 needs exactly one Host
                    // (RFC 9112 6.3, 3.2).
                    const auto& header = parser.get();
                    if (header.count(http::field::transfer_encoding) > 0 && !parser.chunked()) {
                        refusal = 400;
                        reason = "unsupported Transfer-Encoding";
                        break;
                    }
                    if (header.version() >= 11 && header.count(http::field::host) != 1) {
                        refusal = 400;
                        reason = "a request needs exactly one Host header";
                        break;
                    }
                    parser.eager(true);
                    body_deadline = Clock::now() + limits.body_timeout;
                    if (!parser.is_done() &&
                        beast::iequals(header[http::field::expect], "100-continue")) {
                        connection.output = "HTTP/1.1 100 Continue\r\n\r\n";
                        // Its own statement: g++ 12 mishandles a co_await in a condition.
                        const auto written = co_await write_output(connection);
                        if (written) {
                            close = true;
                            break;
                        }
                    }
                    continue;
                }
                if (parser.is_done()) break;
                // Progress with bytes left: parse on. Otherwise the parser needs more.
                if (!ec && used > 0 && buffer.size() > 0) continue;
            }
            ec = co_await read_more(connection, parser.is_header_done() ? body_deadline
                                                                         : header_deadline);
            if (ec == asio::error::eof) {
                parser.put_eof(ec);
                if (!ec) continue;
            }
            if (ec) {
                close = true;  // the client left, stalled or was cancelled
                break;
            }
        }
        if (refusal) {
            if (refusal == 431) co_await refuse(connection, 431, "Request Header Fields Too Large");
            if (refusal == 413) co_await refuse(connection, 413, "Content Too Large");
            if (refusal == 400) co_await refuse(connection, 400, "Bad Request: " + reason);
            break;
        }
        if (close) break;

        RequestData data;
        data.message = parser.release();
        data.executor = executor;
        const unsigned version = data.message.version();
        const bool head = data.message.method() == http::verb::head;
        bool keep_alive = data.message.keep_alive();
        BackgroundTasks tasks(app_.background.gate());
        bool failed = false;
        Response response;
        if (auto refused = app_.prepare(data)) {
            response = std::move(*refused);
            keep_alive = false;
        } else {
            response = co_await app_.handle(data, tasks, failed);
        }
        keep_alive = keep_alive && !stopping_;
        serialize_response(response, version, keep_alive, data.request_id, head,
                           connection.output);
        auto write_ec = co_await write_output(connection);
        // The response is out (or the client is gone, which does not cancel the tasks).
        app_.after_response(tasks, failed, data);
        if (write_ec || !keep_alive) break;
    }
    connection.socket.shutdown(Tcp::socket::shutdown_send, ignored);
    connection.socket.close(ignored);
}

}  // namespace afterwork::detail
