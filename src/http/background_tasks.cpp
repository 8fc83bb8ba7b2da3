// SPDX-License-Identifier: MIT
#include <afterwork/http/background_tasks.hpp>

#include <stdexcept>

#include <afterwork/http/errors.hpp>

namespace afterwork {

Task<EnqueueOutcome> BackgroundTasks::enqueue(std::string name, boost::json::value args,
                                              EnqueueOptions options) {
    if (!gate_ || !gate_->jobs) {
        throw std::logic_error("BackgroundTasks::enqueue needs an App (its job queue)");
    }
    Queue& queue = gate_->jobs();
    auto outcome = co_await queue.co_enqueue(std::move(name), std::move(args), std::move(options));
    if (!outcome) {
        const auto code = outcome.error().code();
        if (code == JobsErrc::busy || code == JobsErrc::unavailable) {
            throw HttpError(503, "the job store is busy; try again", {{"Retry-After", "1"}});
        }
        throw outcome.error();
    }
    co_return *outcome;
}

}  // namespace afterwork
