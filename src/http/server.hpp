// SPDX-License-Identifier: MIT
#pragma once

// Server: the listening socket and the HTTP/1.1 connections of an App. One acceptor on loop 0
// hands connections round-robin to every loop; each connection is a coroutine on its loop that
// reads requests (keep-alive and pipelining), dispatches them through AppCore and writes the
// answers in order.
//
// A Service, first in the app's shutdown: `request_stop` closes the listener and the idle
// keep-alive connections (a busy one closes after its current response); `stop(deadline)`
// waits for the last connection, cancels those still open at the deadline (reason shutdown)
// and gives the cancellations a short bounded wait.
//
// Thread safety: `request_stop`, `stop`, `hurry` and `connections` may be called from any
// thread; `bind`, `start_accepting` and `drop_listener` from the app's start and end only; the
// rest runs on the loops.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include <afterwork/runtime/service.hpp>
#include <afterwork/runtime/task_group.hpp>

#include "http/wake_list.hpp"

namespace afterwork::detail {

struct AppCore;

class Server final : public Service {
public:
    using Clock = std::chrono::steady_clock;

    explicit Server(AppCore& app);
    ~Server();

    /// Binds and listens (connections wait in the backlog until `start_accepting`). Throws
    /// StartupError naming the address when it is taken or invalid.
    void bind(const std::string& host, std::uint16_t port);
    std::uint16_t port() const noexcept { return port_; }
    void start_accepting();
    /// Closes a listener that never started accepting (start-up failed after bind).
    void drop_listener() noexcept { bound_.reset(); }
    std::size_t connections() const noexcept { return connections_.load(); }

    std::string_view service_name() const noexcept override { return "http server"; }
    /// Closes the listener and idle keep-alive connections; busy ones close after their
    /// current response. Returns at once.
    void request_stop() noexcept override;
    /// Requests the stop, waits until no connection is left or `deadline` passes (or `hurry`),
    /// then cancels the connections still open — the handler each runs sees operation_aborted —
    /// and waits up to 5 s more for them; true when every connection and the server's own
    /// tasks (acceptor, timeout sweeps) have ended.
    /// @par Cancellation
    /// Cancelling the caller ends the wait with operation_aborted; the stop goes on.
    Task<bool> stop(Clock::time_point deadline) override;
    /// A second signal: a stop in progress, or a later one, stops waiting for busy connections
    /// and cancels them at once.
    void hurry() noexcept;

private:
    struct Connection;
    using Tcp = boost::asio::ip::tcp;

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
    bool drained() const noexcept { return connections_.load() == 0; }

    AppCore& app_;
    std::optional<Tcp::acceptor> bound_;     // between bind and start_accepting
    Tcp::acceptor* acceptor_ = nullptr;      // loop 0 only
    std::vector<std::list<Connection*>> registry_;  // per loop, touched on that loop only
    std::atomic<std::size_t> connections_{0};
    std::atomic<bool> stopping_{false};
    std::atomic<bool> hurry_{false};
    WakeList drain_waiters_;  // notified when the last connection ends while stopping, and by hurry
    std::size_t next_loop_ = 0;              // loop 0 only
    std::uint16_t port_ = 0;
    TaskGroup acceptors_{"acceptor"};
    TaskGroup sessions_{"connections"};
};

}  // namespace afterwork::detail
