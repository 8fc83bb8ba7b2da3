// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Task<T>`: the coroutine type of afterwork.
///
/// A `Task` is lazy: it does nothing until it is awaited (`co_await std::move(task)` from
/// another `Task`) or started as a task of its own (`spawn`, a `TaskGroup`, the app). A chain
/// of awaited coroutines runs as one task: they share its executor and its cancellation, and a
/// coroutine that awaits another resumes it by symmetric transfer (no stack growth, no
/// post). Frames come from a per-thread recycling allocator, so a short-lived coroutine costs
/// no `malloc` once the thread has warmed up.
///
/// Coroutine parameters should be owned values: a `Task` may outlive the caller's locals.
///
/// A task awaits:
/// - other `Task`s;
/// - afterwork's primitives: `Event`, `sleep_for`/`sleep_until`, `TaskHandle::wait`,
///   `TaskGroup::join`, `to_thread`/`on_cpu`, `yield()`, `current_executor()`;
/// - any Asio asynchronous operation given the completion token `afterwork::use_task`
///   (`<afterwork/runtime/use_task.hpp>`), also inside `as_tuple` or `redirect_error`.
///
/// @par Cancellation
/// Cancelling a task (`TaskHandle::cancel`, `TaskGroup::cancel_all`, shutdown) ends the
/// suspension point it waits at with `operation_aborted`, and every later suspension point
/// too: a cancelled task cannot wait for anything again, except through a shielded wait
/// (`TaskHandle::wait_shielded`, `shielded`). Awaiting a `Task` is not itself a suspension
/// point: the awaited coroutine runs until it waits for something.
///
/// @par Thread safety
/// A task object is used by one thread at a time (it is moved into the loop that runs it).

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>

namespace afterwork {

/// The executor of the loop a task runs on.
using Executor = boost::asio::any_io_executor;

template <class T = void>
class Task;

namespace detail {

class TaskCore;

/// Coroutine frames: recycled per thread by size class (bounded caches, the rest goes back to
/// malloc), so memory stays flat while spawning and awaiting stays cheap.
void* allocate_frame(std::size_t size);
void deallocate_frame(void* frame, std::size_t size) noexcept;

/// Called when the outermost coroutine of a task returns (task_handle.cpp): records the
/// outcome and destroys the frame.
void root_finished(TaskCore& task, std::coroutine_handle<> root) noexcept;

/// The executor of the task a coroutine runs in.
const Executor& executor_of(const TaskCore& task) noexcept;

struct PromiseBase {
    std::coroutine_handle<> continuation;  ///< the awaiting coroutine; null for a task's root
    TaskCore* task = nullptr;              ///< the task this coroutine runs in
    std::exception_ptr error;

    static void* operator new(std::size_t size) { return allocate_frame(size); }
    static void operator delete(void* frame, std::size_t size) noexcept {
        deallocate_frame(frame, size);
    }

    std::suspend_always initial_suspend() const noexcept { return {}; }

    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
            PromiseBase& promise = self.promise();
            if (promise.continuation) return promise.continuation;
            root_finished(*promise.task, self);  // destroys the frame
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };
    FinalAwaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct Promise : PromiseBase {
    // Frames come from allocate_frame (malloc alignment), and the runtime reaches the promise
    // of a task's root through coroutine_handle<PromiseBase> (launch, root_finished), which
    // finds it only while the promise is not over-aligned: g++ places an over-aligned promise
    // further into the frame (alignof 32: 16 bytes further), so the task pointer would be
    // written beside it.
    static_assert(alignof(T) <= alignof(std::max_align_t),
                  "Task<T> of an over-aligned T is not supported: return it boxed "
                  "(std::unique_ptr<T>)");
    std::optional<T> value;
    Task<T> get_return_object() noexcept;
    template <class U>
        requires std::is_constructible_v<T, U&&>
    void return_value(U&& result) {
        value.emplace(std::forward<U>(result));
    }
};

template <>
struct Promise<void> : PromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() const noexcept {}
};

/// A coroutine handle that names afterwork's promise: what every awaiter of the runtime gets
/// in `await_suspend`, to find the task it runs in.
template <class P>
concept TaskPromise = std::is_base_of_v<PromiseBase, P>;

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
public:
    using promise_type = detail::Promise<T>;
    using value_type = T;

    Task() noexcept = default;
    explicit Task(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
    Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    Task& operator=(Task&& other) noexcept {
        if (this != &other) {
            if (handle_) handle_.destroy();
            handle_ = std::exchange(other.handle_, {});
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    ~Task() {
        if (handle_) handle_.destroy();
    }

    /// False for a default-constructed or moved-from task.
    bool valid() const noexcept { return static_cast<bool>(handle_); }

    /// Runs the coroutine as part of the awaiting task and returns its result (or rethrows).
    auto operator co_await() && noexcept { return Awaiter{handle_}; }

    /// Hands the frame over (to the runtime that starts it as a task).
    std::coroutine_handle<promise_type> release() noexcept { return std::exchange(handle_, {}); }

private:
    struct Awaiter {
        std::coroutine_handle<promise_type> child;
        bool await_ready() const noexcept { return false; }
        template <detail::TaskPromise Caller>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Caller> caller) noexcept {
            child.promise().continuation = caller;
            child.promise().task = caller.promise().task;
            return child;
        }
        T await_resume() {
            auto& promise = child.promise();
            if (promise.error) std::rethrow_exception(promise.error);
            if constexpr (!std::is_void_v<T>) return std::move(*promise.value);
        }
    };

    std::coroutine_handle<promise_type> handle_;
};

namespace detail {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
    return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

struct CurrentExecutor {
    const Executor* executor = nullptr;
    bool await_ready() const noexcept { return false; }
    template <TaskPromise P>
    bool await_suspend(std::coroutine_handle<P> self) noexcept {
        executor = &executor_of(*self.promise().task);
        return false;  // resume at once: this only reads the task
    }
    const Executor& await_resume() const noexcept { return *executor; }
};

struct CurrentTask {
    TaskCore* task = nullptr;
    bool await_ready() const noexcept { return false; }
    template <TaskPromise P>
    bool await_suspend(std::coroutine_handle<P> self) noexcept {
        task = self.promise().task;
        return false;
    }
    TaskCore& await_resume() const noexcept { return *task; }
};
}  // namespace detail

/// `co_await current_executor()`: the executor of the running task (never suspends).
inline detail::CurrentExecutor current_executor() noexcept { return {}; }

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<Task<T>> : std::true_type {};
template <class T>
inline constexpr bool is_task_v = is_task<std::remove_cvref_t<T>>::value;

/// True for the exception a cancelled operation ends with (`operation_aborted`). Cancellation is
/// not a failure: catch it only to clean up, then rethrow, and never log it as an error.
bool is_cancellation(const std::exception_ptr& error) noexcept;

/// The message of `error` for a log line: `what()`, or a placeholder for a non-standard
/// exception; empty for null.
std::string describe_exception(const std::exception_ptr& error);

}  // namespace afterwork
