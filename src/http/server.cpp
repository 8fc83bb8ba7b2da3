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
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/app_core.hpp"

namespace afterwork::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::as_tuple;
using asio::use_awaitable;

struct Server::Connection {
    explicit Connection(Tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    std::string output;  // the serialised response, reused by every request
    bool idle = false;  // waiting for the first byte of a request
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

// Answers a request that was not dispatched; the connection closes after it. `stream` is
// awaited immediately by the caller's frame, which owns it.
Task<void> refuse(beast::tcp_stream& stream, std::chrono::milliseconds timeout, int status,
                  std::string detail) {
    Response response = error_response(status, detail);
    std::string out;
    serialize_response(response, 11, false, {}, false, out);
    stream.expires_after(timeout);
    co_await asio::async_write(stream, asio::buffer(out), as_tuple(use_awaitable));
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
}

void Server::stop_accepting() {
    stopping_ = true;
    asio::post(app_.loops.front()->executor(), [this] {
        if (acceptor_) {
            boost::system::error_code ignored;
            acceptor_->close(ignored);
        }
    });
    for (std::size_t i = 0; i < app_.loops.size(); ++i) {
        asio::post(app_.loops[i]->executor(), [this, i] { close_idle(i); });
    }
}

void Server::close_idle(std::size_t loop_index) {
    for (Connection* connection : registry_[loop_index]) {
        if (connection->idle) connection->stream.cancel();
    }
}

void Server::cancel_connections() { sessions_.cancel_all(); }

Task<void> Server::accept_loop(Tcp::acceptor acceptor) {
    acceptor_ = &acceptor;
    asio::steady_timer backoff(acceptor.get_executor());
    while (!stopping_) {
        std::size_t index = next_loop_++ % app_.loops.size();
        Executor executor = app_.loops[index]->executor();
        auto [ec, socket] = co_await acceptor.async_accept(executor, as_tuple(use_awaitable));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
            // Out of descriptors or similar: back off instead of spinning on the error.
            spdlog::warn("accept failed: {}; retrying in 50 ms", ec.message());
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(as_tuple(use_awaitable));
            continue;
        }
        connections_.fetch_add(1);
        sessions_.spawn(executor, session(Tcp::socket(std::move(socket)), index), "connection");
    }
    acceptor_ = nullptr;
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
            if (server.connections_.fetch_sub(1) == 1) server.app_.notify();
        }
    } unregister{*this, registry, registry.begin()};

    const Limits& limits = app_.options.limits;
    auto& stream = connection.stream;
    auto& buffer = connection.buffer;
    Executor executor = stream.get_executor();
    boost::system::error_code ignored;
    stream.socket().set_option(Tcp::no_delay(true), ignored);

    if (connections_.load() > limits.max_connections) {
        co_await refuse(stream, limits.write_timeout, 503, "Service Unavailable: too many connections");
        stream.socket().shutdown(Tcp::socket::shutdown_both, ignored);
        co_return;
    }

    bool first = true;
    for (;;) {
        if (buffer.size() == 0) {
            // Idle: wait for the first byte of the next request under the idle timeout (the
            // header timeout for a new connection); the header timeout runs from there on.
            if (stopping_) break;
            connection.idle = true;
            stream.expires_after(first ? limits.header_timeout : limits.idle_timeout);
            auto [ec, n] =
                co_await stream.async_read_some(buffer.prepare(4096), as_tuple(use_awaitable));
            connection.idle = false;
            if (ec) break;
            buffer.commit(n);
        }
        first = false;

        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(
            std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
        parser.body_limit(limits.max_body_bytes);
        stream.expires_after(limits.header_timeout);
        auto [header_ec, header_bytes] =
            co_await http::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
        if (header_ec) {
            int status = read_error_status(header_ec);
            if (status == 431) co_await refuse(stream, limits.write_timeout, 431, "Request Header Fields Too Large");
            if (status == 413) co_await refuse(stream, limits.write_timeout, 413, "Content Too Large");
            if (status == 400) co_await refuse(stream, limits.write_timeout, 400, "Bad Request: " + header_ec.message());
            break;
        }
        // Framing the parser would get wrong: a Transfer-Encoding that does not end in
        // chunked leaves the body length unknown (its bytes would be read as the next
        // request: smuggling), and HTTP/1.1 needs exactly one Host (RFC 9112 6.3, 3.2).
        const auto& header = parser.get();
        if (header.count(http::field::transfer_encoding) > 0 && !parser.chunked()) {
            co_await refuse(stream, limits.write_timeout, 400,
                            "Bad Request: unsupported Transfer-Encoding");
            break;
        }
        if (header.version() >= 11 && header.count(http::field::host) != 1) {
            co_await refuse(stream, limits.write_timeout, 400,
                            "Bad Request: a request needs exactly one Host header");
            break;
        }
        if (!parser.is_done()) {
            auto expect = parser.get()[http::field::expect];
            if (beast::iequals(expect, "100-continue")) {
                http::response<http::empty_body> proceed{http::status::continue_, 11};
                stream.expires_after(limits.write_timeout);
                auto [ec, n] = co_await http::async_write(stream, proceed, as_tuple(use_awaitable));
                if (ec) break;
            }
            stream.expires_after(limits.body_timeout);
            auto [body_ec, body_bytes] =
                co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
            if (body_ec) {
                int status = read_error_status(body_ec);
                if (status == 413) co_await refuse(stream, limits.write_timeout, 413, "Content Too Large");
                if (status == 400) co_await refuse(stream, limits.write_timeout, 400, "Bad Request: " + body_ec.message());
                break;
            }
        }

        RequestData data;
        data.message = parser.release();
        data.executor = executor;
        const unsigned version = data.message.version();
        const bool head = data.message.method() == http::verb::head;
        bool keep_alive = data.message.keep_alive();
        BackgroundTasks tasks(&app_.background_gate);
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
        stream.expires_after(limits.write_timeout);
        auto [write_ec, written] = co_await asio::async_write(
            stream, asio::buffer(connection.output), as_tuple(use_awaitable));
        // The response is out (or the client is gone, which does not cancel the tasks).
        app_.after_response(tasks, failed, data);
        if (write_ec || !keep_alive) break;
    }
    stream.socket().shutdown(Tcp::socket::shutdown_send, ignored);
    stream.socket().close(ignored);
}

}  // namespace afterwork::detail
