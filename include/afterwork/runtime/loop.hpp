// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Loop`: one event loop (an Asio `io_context`) running on its own thread. State owned by a
/// loop is touched only from that loop's thread and needs no lock; other threads hand work to
/// it through its executor (`boost::asio::post`).
///
/// @par Thread safety
/// Thread-safe: `executor()`, `stop()` and `running_in_this_thread()` may be called from any
/// thread; `start()` and `join()` from the owning thread.
///
/// @par Lifetime
/// Destruction stops the loop and joins its thread; pending handlers are destroyed unrun.

#include <memory>
#include <string>

#include <afterwork/runtime/task.hpp>

namespace afterwork {

class Loop {
public:
    explicit Loop(std::string name = "loop");
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    ~Loop();

    /// Starts the thread. The loop keeps running, even with no work, until `stop()`.
    void start();
    /// Makes `run` return once the current handler finishes; work still queued is not run.
    void stop() noexcept;
    /// Waits for the thread to end (after `stop()`).
    void join();

    Executor executor() const noexcept;
    bool running_in_this_thread() const noexcept;
    /// The loop whose thread calls this, or nullptr on any other thread.
    static Loop* current() noexcept;
    const std::string& name() const noexcept;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace afterwork
