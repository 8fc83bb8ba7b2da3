// SPDX-License-Identifier: MIT
#pragma once

// Server: the listening socket and the HTTP/1.1 connections of an App. One acceptor on loop 0
// hands connections round-robin to every loop; each connection is a coroutine on its loop that
// reads requests (keep-alive and pipelining), dispatches them through AppCore and writes the
// answers in order. `stop_accepting`, `cancel_connections` and `connections` are thread-safe;
// the rest runs on the loops.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include <afterwork/runtime/task_group.hpp>

namespace afterwork::detail {

struct AppCore;

class Server {
public:
    explicit Server(AppCore& app);
    ~Server();

    /// Binds and listens (connections wait in the backlog until `start_accepting`). Throws
    /// StartupError naming the address when it is taken or invalid.
    void bind(const std::string& host, std::uint16_t port);
    std::uint16_t port() const noexcept { return port_; }
    void start_accepting();
    /// Closes the listener and idle keep-alive connections; busy ones close after their
    /// current response.
    void stop_accepting();
    /// Closes a listener that never started accepting (start-up failed after bind).
    void drop_listener() noexcept { bound_.reset(); }
    /// Cancels every connection's coroutine (and the handler it runs).
    void cancel_connections();
    std::size_t connections() const noexcept { return connections_.load(); }

private:
    struct Connection;
    using Tcp = boost::asio::ip::tcp;
    using Clock = std::chrono::steady_clock;

    Task<void> accept_loop(Tcp::acceptor acceptor);
    Task<void> session(Tcp::socket socket, std::size_t loop_index);
    Task<void> sweep(std::size_t loop_index);
    // Connection I/O under the connection's deadline; `connection` is owned by the awaiting
    // session frame.
    Task<boost::system::error_code> read_more(Connection& connection,
                                              Clock::time_point deadline);
    Task<boost::system::error_code> write_output(Connection& connection);
    Task<void> refuse(Connection& connection, int status, std::string detail);
    void close_idle(std::size_t loop_index);

    AppCore& app_;
    std::optional<Tcp::acceptor> bound_;     // between bind and start_accepting
    Tcp::acceptor* acceptor_ = nullptr;      // loop 0 only
    std::vector<std::list<Connection*>> registry_;  // per loop, touched on that loop only
    std::atomic<std::size_t> connections_{0};
    std::atomic<bool> stopping_{false};
    std::size_t next_loop_ = 0;              // loop 0 only
    std::uint16_t port_ = 0;
    TaskGroup acceptors_{"acceptor"};
    TaskGroup sessions_{"connections"};
};

}  // namespace afterwork::detail
