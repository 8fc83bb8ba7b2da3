// SPDX-License-Identifier: MIT
#include <afterwork/runtime/offload.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "runtime/foreign_post.hpp"

namespace afterwork {

namespace asio = boost::asio;

bool is_cancellation(const std::exception_ptr& error) noexcept {
    if (!error) return false;
    try {
        std::rethrow_exception(error);
    } catch (const boost::system::system_error& e) {
        return e.code() == asio::error::operation_aborted;
    } catch (...) {
        return false;
    }
}

std::string describe_exception(const std::exception_ptr& error) {
    if (!error) return {};
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "a non-standard exception";
    }
}

// The default pools are never destroyed: a call still blocked at exit must not hold the
// process in a destructor that joins its thread; exit ends it with the process.
BlockingPool& default_blocking_pool() {
    static auto* pool = new BlockingPool(BlockingPoolOptions{
        "blocking", std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4), 10'000});
    return *pool;
}

BlockingPool& cpu_pool() {
    static auto* pool = new BlockingPool(BlockingPoolOptions{
        "cpu", std::max<std::size_t>(1, std::thread::hardware_concurrency()), 10'000});
    return *pool;
}

namespace detail {

namespace {

// Who completes a blocking wait first — the pool job, a refusal, or the caller's
// cancellation — claims the handler; the others find it claimed and do nothing.
template <class Handler>
struct BlockingWait {
    BlockingWait(Handler h, const Executor& executor)
        : handler(std::move(h)), guard(asio::make_work_guard(executor)) {
        slot = asio::get_associated_cancellation_slot(*handler);
    }

    bool claim() noexcept { return !claimed.exchange(true, std::memory_order_acq_rel); }

    // Resumes the waiter on its own executor; the slot is cleared there, where it lives. The
    // work guard is released here, after the post has returned: until then the loop cannot
    // run out of work and be destroyed under the posting thread.
    static void complete(std::shared_ptr<BlockingWait> wait, std::exception_ptr error) {
        auto guard = std::move(wait->guard);
        auto target = asio::get_associated_executor(*wait->handler, guard.get_executor());
        post_to_loop(target, [wait, error]() mutable {
            if (wait->slot.is_connected()) wait->slot.clear();
            auto handler = std::move(*wait->handler);
            wait->handler.reset();
            std::move(handler)(error);
        });
        guard.reset();
    }

    std::atomic<bool> claimed{false};
    std::optional<Handler> handler;
    asio::cancellation_slot slot;
    asio::executor_work_guard<Executor> guard;
};

}  // namespace

Task<void> await_blocking(BlockingPool& pool, UniqueFunction<void()> work, bool cancellable) {
    Executor executor = co_await asio::this_coro::executor;
    co_await asio::async_initiate<const asio::use_awaitable_t<Executor>&, void(std::exception_ptr)>(
        [&pool, &work, &executor, cancellable](auto handler) {
            using Wait = BlockingWait<decltype(handler)>;
            auto wait = std::make_shared<Wait>(std::move(handler), executor);
            if (!cancellable) wait->slot = asio::cancellation_slot();
            if (wait->slot.is_connected()) {
                wait->slot.assign([wait](asio::cancellation_type) {
                    if (wait->claim()) {
                        Wait::complete(wait, std::make_exception_ptr(boost::system::system_error(
                                                 asio::error::operation_aborted)));
                    }
                });
            }
            BlockingPool::Work item = [wait, work = std::move(work)]() mutable {
                work();
                if (wait->claim()) Wait::complete(wait, nullptr);
            };
            if (!pool.try_submit(item) && wait->claim()) {
                Wait::complete(wait, std::make_exception_ptr(PoolOverloaded(
                                         pool.options().name + " pool is at its queue limit or stopped")));
            }
        },
        asio::use_awaitable_t<Executor>{});
}

}  // namespace detail
}  // namespace afterwork
