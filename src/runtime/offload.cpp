// SPDX-License-Identifier: MIT
#include <afterwork/runtime/offload.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <memory>

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

namespace detail {

Task<void> await_blocking(BlockingPool& pool, UniqueFunction<void()> work) {
    Executor executor = co_await asio::this_coro::executor;
    co_await asio::async_initiate<const asio::use_awaitable_t<Executor>&, void(std::exception_ptr)>(
        [&pool, &work, &executor](auto handler) {
            using Handler = decltype(handler);
            // The guard keeps the caller's loop alive while the pool holds its continuation.
            struct Job {
                UniqueFunction<void()> work;
                Handler handler;
                asio::executor_work_guard<Executor> guard;

                void finish(std::exception_ptr error) {
                    auto target = asio::get_associated_executor(handler, guard.get_executor());
                    asio::post(target, [h = std::move(handler), error]() mutable {
                        std::move(h)(error);
                    });
                    guard.reset();
                }
            };
            auto job = std::make_unique<Job>(
                Job{std::move(work), std::move(handler), asio::make_work_guard(executor)});
            Job* raw = job.get();
            BlockingPool::Work item = [job = std::move(job)]() mutable {
                job->work();
                job->finish(nullptr);
            };
            if (!pool.try_submit(item)) {
                // `item` was left untouched, so `raw` is still owned by it here.
                raw->finish(std::make_exception_ptr(PoolOverloaded(
                    pool.options().name + " pool is at its queue limit or stopped")));
            }
        },
        asio::use_awaitable_t<Executor>{});
}

}  // namespace detail
}  // namespace afterwork
