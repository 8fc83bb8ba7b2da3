// SPDX-License-Identifier: MIT
#include <afterwork/runtime/cancellation.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

namespace afterwork::detail {

Task<void> race_timer(Task<void> task, std::chrono::steady_clock::duration limit) {
    using namespace boost::asio::experimental::awaitable_operators;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, limit);
    // The first to finish wins; the other is cancelled and awaited before we go on.
    auto winner = co_await (std::move(task) || timer.async_wait(boost::asio::use_awaitable));
    if (winner.index() == 1) {
        throw boost::system::system_error(boost::asio::error::timed_out, "with_timeout");
    }
}

}  // namespace afterwork::detail
