// SPDX-License-Identifier: MIT
#include "runtime/wait_list.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "runtime/foreign_post.hpp"

namespace afterwork::detail {

namespace asio = boost::asio;

std::shared_ptr<WaitList::Waiter> WaitList::add(const Executor& executor) {
    auto waiter = std::make_shared<Waiter>(executor);
    // Forget waiters that left (cancelled) now and then, not on every add: amortised O(1).
    if (waiters_.size() >= 16 && (waiters_.size() & (waiters_.size() - 1)) == 0) {
        std::erase_if(waiters_, [](const auto& weak) { return weak.expired(); });
    }
    waiters_.push_back(waiter);
    return waiter;
}

void WaitList::wake_all() {
    for (auto& weak : waiters_) {
        if (auto waiter = weak.lock()) {
            // The timer belongs to the waiter's loop: cancel it there. A waiter that has not
            // started its wait yet is on that loop too, so the cancel runs after it started.
            post_to_loop(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
        }
    }
    waiters_.clear();
}

Task<void> WaitList::sleep(Waiter& waiter, bool cancellable) {
    if (cancellable) {
        return waiter.timer.async_wait(asio::redirect_error(asio::use_awaitable, waiter.ignored));
    }
    return waiter.timer.async_wait(asio::bind_cancellation_slot(
        asio::cancellation_slot(), asio::redirect_error(asio::use_awaitable, waiter.ignored)));
}

}  // namespace afterwork::detail
