// SPDX-License-Identifier: MIT
#pragma once

// `post_to_loop`: asio::post for runtime code that may run on any thread (pool completions,
// cancellations, wake-ups of waiters on other loops).
//
// asio::post still touches the io_context after it has queued the handler (it wakes the
// loop's thread), so the handler may already have run — and its effect let the owner destroy
// the io_context — while the posting thread is inside it. Such posts are counted, and the
// task registry of an execution context (a service every context a task ran on has) waits,
// when the context shuts down, for the count to drop to zero (a few microseconds) before the
// context's scheduler goes.
//
// Thread-safe.

#include <atomic>
#include <utility>

#include <boost/asio/post.hpp>

namespace afterwork::detail {

std::atomic<int>& foreign_posts() noexcept;

/// Waits (spinning, then yielding) until no counted post is in flight.
void wait_for_foreign_posts() noexcept;

template <class Executor, class Handler>
void post_to_loop(const Executor& executor, Handler&& handler) {
    struct Count {
        Count() noexcept { foreign_posts().fetch_add(1); }
        ~Count() { foreign_posts().fetch_sub(1); }
    } count;
    boost::asio::post(executor, std::forward<Handler>(handler));
}

}  // namespace afterwork::detail
