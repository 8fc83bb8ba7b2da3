// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Service`: how every long-lived part of afterwork stops — the scheduler, periodic and
/// supervised tasks, and (as they move onto it) the server, the background runner and job
/// workers. An app's shutdown is an ordered list of services: each is asked to stop, then
/// awaited with a deadline (Seastar's `stop()`, userver's component stop).
///
/// @par Thread safety
/// `request_stop` may be called from any thread, any number of times. `stop` is awaited from a
/// task on any loop.

#include <chrono>
#include <string_view>

#include <afterwork/runtime/task.hpp>

namespace afterwork {

class Service {
public:
    Service() = default;
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;
    virtual ~Service() = default;

    /// For logs and listings.
    virtual std::string_view service_name() const noexcept = 0;

    /// Asks the service to stop: it takes no new work and ends or cancels what it runs, by its
    /// own rules. Returns at once.
    virtual void request_stop() noexcept = 0;

    /// Requests the stop, then waits until the service has stopped or `deadline` passes; true
    /// when it has stopped.
    /// @par Cancellation
    /// Cancelling the caller ends the wait with operation_aborted; the stop goes on.
    virtual Task<bool> stop(std::chrono::steady_clock::time_point deadline) = 0;

protected:
    Service(Service&&) = default;
    Service& operator=(Service&&) = default;
};

}  // namespace afterwork
