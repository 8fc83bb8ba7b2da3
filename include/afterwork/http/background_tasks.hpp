// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `BackgroundTasks`: work a handler adds that runs after its response has been written —
/// FastAPI's `BackgroundTasks`, with the lifetime and failure rules made explicit.
///
/// - Tasks start only once the response has been written completely, run one after another in
///   the order added, and are detached from the connection: the next request on a keep-alive
///   connection never waits for them.
/// - A coroutine function runs on the request's loop; a plain function runs on the app's
///   background blocking pool (not the pool of sync handlers, so it cannot starve requests).
/// - Arguments are copied or moved into the task when it is added, as `std::thread` does, and
///   `std::string_view`/`const char*` arguments are stored as `std::string`: a task never reads
///   the request, its body or a handler's locals after they are gone. Pass a reference only
///   with an explicit `std::ref`, and only to something that outlives the task (raw pointers
///   are copied as pointers: the same rule applies).
/// - An exception in one task is logged with the request id and route and counted; the tasks
///   after it still run. A client that disconnects does not cancel them.
/// - If the handler throws, the tasks it added are dropped, except those added with
///   `add_always` (clean-up that must run either way).
/// - At shutdown they get a drain deadline; what is still running then is cancelled and what
///   has not started is logged as abandoned.
///
/// **Durable jobs.** `co_await bg.enqueue("send_welcome_email", args)` is the other kind of
/// background work: a job of the app's queue (`App::jobs()`), committed to the job store
/// before the handler goes on — so before the response is sent — and run by a worker with
/// retries, even if this process crashes a millisecond after answering. It is not deferred
/// like `add`: it is stored when awaited, even if the handler throws afterwards. A failure to
/// store it fails the request instead of losing the job silently: an unknown job name or
/// arguments that do not match its definition are programming errors (500), a busy or
/// unreachable store is a 503 with `Retry-After`.
///
/// @par Thread safety
/// Loop-bound: use it from the handler that received it.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/container/small_vector.hpp>

#include <afterwork/detail/unique_function.hpp>
#include <afterwork/jobs/queue.hpp>
#include <afterwork/runtime/blocking_pool.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

namespace detail {
/// The app's limit on background tasks that are scheduled and not yet ended.
struct BackgroundGate {
    const std::atomic<std::uint64_t>* pending = nullptr;
    std::uint64_t limit = 0;
    /// The app's job queue (created on first use).
    std::function<Queue&()> jobs;
};

/// How a task stores an argument of type T: a copy, except that views of characters become
/// strings, so `add(f, request.body())` cannot dangle once the request is gone.
template <class T>
struct owned {
    using type = std::decay_t<T>;
};
template <class T>
    requires std::is_same_v<std::decay_t<T>, std::string_view> ||
             std::is_same_v<std::decay_t<T>, const char*> ||
             std::is_same_v<std::decay_t<T>, char*>
struct owned<T> {
    using type = std::string;
};
template <class T>
using owned_t = typename owned<T>::type;

template <class T>
Task<void> discard_result(Task<T> task) {
    co_await std::move(task);
}
}  // namespace detail

class BackgroundTasks {
public:
    /// One added task: exactly one of `coroutine` and `blocking` is set.
    struct Entry {
        detail::UniqueFunction<Task<void>()> coroutine;
        detail::UniqueFunction<void()> blocking;
        bool always = false;
    };
    /// Most requests add one or two tasks: those need no allocation for the list.
    using Entries = boost::container::small_vector<Entry, 2>;

    BackgroundTasks() = default;
    explicit BackgroundTasks(const detail::BackgroundGate* gate) noexcept : gate_(gate) {}
    BackgroundTasks(BackgroundTasks&&) noexcept = default;
    BackgroundTasks& operator=(BackgroundTasks&&) noexcept = default;

    /// Adds `f(args...)`, to run after the response if the handler returns normally. Throws
    /// `PoolOverloaded` (answered 503) when the app already has its limit of background tasks
    /// waiting: refusing the request is better than accepting work that cannot run.
    template <class F, class... Args>
    void add(F&& f, Args&&... args) {
        push(false, std::forward<F>(f), std::forward<Args>(args)...);
    }

    /// Adds `f(args...)`, to run after the response even if the handler throws.
    template <class F, class... Args>
    void add_always(F&& f, Args&&... args) {
        push(true, std::forward<F>(f), std::forward<Args>(args)...);
    }

    /// Stores the durable job `name` with `args` in the app's job queue now (see the file
    /// comment); returns its id (an existing job's when a unique key matched). The store call
    /// runs on the blocking pool.
    /// @throws HttpError 503 when the store is busy or unavailable; `JobsError` (a 500) for
    /// an unknown name, bad arguments or another storage error; std::logic_error outside an app.
    /// @par Cancellation
    /// A cancelled request ends the wait with operation_aborted; the job may still be stored.
    [[nodiscard]] Task<EnqueueOutcome> enqueue(std::string name,
                                               boost::json::value args,
                                               EnqueueOptions options = {});

    /// `enqueue` with a described struct as the arguments.
    template <class T>
        requires detail::is_described_struct<T>
    [[nodiscard]] Task<EnqueueOutcome> enqueue(std::string name,
                                               const T& args,
                                               EnqueueOptions options = {}) {
        return enqueue(std::move(name), to_json(args), std::move(options));
    }

    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }

    /// For the app: the tasks to run, without those dropped because the handler failed.
    Entries release(bool handler_failed) {
        if (handler_failed) {
            entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                          [](const Entry& e) { return !e.always; }),
                           entries_.end());
        }
        return std::move(entries_);
    }

private:
    template <class F, class... Args>
    void push(bool always, F&& f, Args&&... args) {
        if (gate_ && gate_->pending->load(std::memory_order_relaxed) + entries_.size() >=
                         gate_->limit) {
            throw PoolOverloaded("too many background tasks are waiting; try again later");
        }
        using Function = std::decay_t<F>;
        using Result = std::invoke_result_t<Function&, detail::owned_t<Args>&...>;
        // The callable and its arguments live in the entry, which the runner keeps until the
        // task has finished, so a coroutine taking `const T&` still reads valid copies.
        auto bound = [function = Function(std::forward<F>(f)),
                      arguments = std::tuple<detail::owned_t<Args>...>(
                          std::forward<Args>(args)...)]() mutable -> decltype(auto) {
            return std::apply(function, arguments);
        };
        Entry entry;
        entry.always = always;
        if constexpr (is_task_v<Result>) {
            if constexpr (std::is_same_v<std::remove_cvref_t<Result>, Task<void>>) {
                entry.coroutine = std::move(bound);
            } else {
                entry.coroutine = [inner = std::move(bound)]() mutable {
                    return detail::discard_result(inner());
                };
            }
        } else {
            entry.blocking = [inner = std::move(bound)]() mutable { (void)inner(); };
        }
        entries_.push_back(std::move(entry));
    }

    Entries entries_;
    const detail::BackgroundGate* gate_ = nullptr;
};

}  // namespace afterwork
