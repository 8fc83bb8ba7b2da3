// SPDX-License-Identifier: MIT
#include <afterwork/runtime/outcome.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

namespace afterwork {

std::string_view to_string(Outcome outcome) noexcept {
    switch (outcome) {
        case Outcome::succeeded: return "succeeded";
        case Outcome::failed: return "failed";
        case Outcome::cancelled: return "cancelled";
    }
    return "unknown";
}

std::string RunOutcome::message() const {
    switch (outcome) {
        case Outcome::succeeded: return {};
        case Outcome::failed: return describe_exception(error);
        case Outcome::cancelled: return "cancelled (" + std::string(to_string(reason)) + ")";
    }
    return {};
}

namespace detail {

RunOutcome classify(std::exception_ptr error, const TaskCore& task) noexcept {
    RunOutcome result;
    if (is_cancellation(error)) {
        result.outcome = Outcome::cancelled;
        result.reason = task.cancel_reason();
    } else {
        result.outcome = Outcome::failed;
    }
    result.error = std::move(error);
    return result;
}

RunOutcome timed_out() noexcept {
    RunOutcome result;
    result.outcome = Outcome::cancelled;
    result.reason = CancelReason::deadline;
    try {
        throw boost::system::system_error(boost::asio::error::timed_out, "time limit");
    } catch (...) {
        result.error = std::current_exception();
    }
    return result;
}

}  // namespace detail

}  // namespace afterwork
