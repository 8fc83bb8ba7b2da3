// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `use_task`: the completion token that makes any Asio asynchronous operation awaitable from
/// a `Task` — `co_await socket.async_read_some(buffer, afterwork::use_task)`.
///
/// The operation completes on the task's executor. A leading `error_code` that is set is
/// thrown as `boost::system::system_error`, a leading `exception_ptr` is rethrown; the other
/// values are returned (none: `void`, one: that value, several: a `std::tuple`). Wrap the
/// token to keep errors as values: `asio::as_tuple(use_task)`, `asio::redirect_error(use_task,
/// ec)`.
///
/// @par Cancellation
/// A cancellation of the task is passed to the operation as a terminal cancellation through
/// its cancellation slot (the operation then ends with `operation_aborted`); an operation
/// started by a task already cancelled is not started at all.
///
/// @par Thread safety
/// Use from a task; one operation per awaiter.

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <afterwork/detail/waiter.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

struct UseTask {
    constexpr UseTask() noexcept = default;
};
inline constexpr UseTask use_task{};

namespace detail {

template <class T>
inline constexpr bool is_error_slot_v =
    std::is_same_v<std::decay_t<T>, boost::system::error_code> ||
    std::is_same_v<std::decay_t<T>, std::exception_ptr>;

template <class... Args>
struct CompletionValues {
    using type = std::tuple<>;
    static constexpr bool has_error = false;
};
template <class First, class... Rest>
struct CompletionValues<First, Rest...> {
    static constexpr bool has_error = is_error_slot_v<First>;
    using type = std::conditional_t<has_error, std::tuple<std::decay_t<Rest>...>,
                                    std::tuple<std::decay_t<First>, std::decay_t<Rest>...>>;
};

template <class Tuple>
struct AwaitResult;
template <>
struct AwaitResult<std::tuple<>> {
    using type = void;
};
template <class T>
struct AwaitResult<std::tuple<T>> {
    using type = T;
};
template <class T, class U, class... More>
struct AwaitResult<std::tuple<T, U, More...>> {
    using type = std::tuple<T, U, More...>;
};

/// The awaiter an operation started with `use_task` returns. Its type depends only on the
/// completion signature (Asio's token adapters need one return type per signature), so the
/// initiation is kept type-erased, inline when small, until the awaiting task suspends.
template <class... Args>
class AsioOperation final : public Suspension {
    using Values = typename CompletionValues<Args...>::type;
    static constexpr bool kHasError = CompletionValues<Args...>::has_error;
    using ErrorSlot =
        std::conditional_t<kHasError,
                           std::decay_t<std::tuple_element_t<0, std::tuple<Args..., void*>>>,
                           bool>;

    struct Handler {
        AsioOperation* operation;

        using executor_type = Executor;
        executor_type get_executor() const noexcept { return executor_of(*operation->task_); }
        using cancellation_slot_type = boost::asio::cancellation_slot;
        cancellation_slot_type get_cancellation_slot() const noexcept {
            return operation->signal().slot();
        }

        template <class... Results>
        void operator()(Results&&... results) {
            operation->complete(std::forward<Results>(results)...);
        }
    };

    template <class Initiation, class Arguments>
    struct Bound {
        Initiation initiation;
        Arguments arguments;
        void start(Handler handler) {
            std::apply(
                [&](auto&... values) {
                    std::move(initiation)(std::move(handler), std::move(values)...);
                },
                arguments);
        }
    };

    static constexpr std::size_t kInline = 96;

public:
    using Result = typename AwaitResult<Values>::type;

    template <class Initiation, class... InitArgs>
    AsioOperation(Initiation&& initiation, InitArgs&&... arguments)
        : Suspension(&AsioOperation::cancel_operation) {
        using Stored = Bound<std::decay_t<Initiation>, std::tuple<std::decay_t<InitArgs>...>>;
        Stored bound{std::forward<Initiation>(initiation),
                     std::tuple<std::decay_t<InitArgs>...>(std::forward<InitArgs>(arguments)...)};
        if constexpr (sizeof(Stored) <= kInline && alignof(Stored) <= alignof(std::max_align_t)) {
            bound_ = ::new (static_cast<void*>(storage_)) Stored(std::move(bound));
            relocate_ = [](void* from, void* to) noexcept -> void* {
                auto* source = static_cast<Stored*>(from);
                void* moved = ::new (to) Stored(std::move(*source));
                source->~Stored();
                return moved;
            };
            destroy_ = [](void* stored, bool) noexcept { static_cast<Stored*>(stored)->~Stored(); };
        } else {
            bound_ = new Stored(std::move(bound));
            destroy_ = [](void* stored, bool) noexcept { delete static_cast<Stored*>(stored); };
        }
        start_ = [](void* stored, Handler handler) {
            static_cast<Stored*>(stored)->start(std::move(handler));
        };
    }
    // Moved only before it is awaited (while it is returned from the initiating function).
    AsioOperation(AsioOperation&& other) noexcept
        : Suspension(&AsioOperation::cancel_operation), start_(other.start_), destroy_(other.destroy_), relocate_(other.relocate_) {
        if (other.relocate_) {
            bound_ = relocate_(other.bound_, storage_);
        } else {
            bound_ = other.bound_;
        }
        other.bound_ = nullptr;
    }
    AsioOperation& operator=(AsioOperation&&) = delete;
    ~AsioOperation() {
        if (bound_) destroy_(bound_, false);
        if (signal_alive_) signal().~cancellation_signal();
    }

    bool await_ready() const noexcept { return false; }

    template <TaskPromise P>
    bool await_suspend(std::coroutine_handle<P> self) {
        task_ = self.promise().task;
        handle_ = self;
        if (cancel_requested(*task_)) {
            cancelled_early_ = true;
            return false;
        }
        ::new (static_cast<void*>(signal_storage_)) boost::asio::cancellation_signal();
        signal_alive_ = true;
        set_suspension(*task_, this);
        try {
            start_(bound_, Handler{this});
        } catch (...) {
            // Not waiting after all: the exception resumes the task and this awaiter goes, so
            // a later cancellation must not find it as the task's suspension point.
            set_suspension(*task_, nullptr);
            throw;
        }
        // The second of (this, the handler) to get here goes on: a handler that already ran
        // (an operation that completed inline) means there is nothing to wait for.
        return !completed_.exchange(true, std::memory_order_acq_rel);
    }

    Result await_resume() {
        if (cancelled_early_) throw_cancelled("operation not started: the task was cancelled");
        set_suspension(*task_, nullptr);
        if constexpr (kHasError) {
            if constexpr (std::is_same_v<ErrorSlot, std::exception_ptr>) {
                if (error_) std::rethrow_exception(error_);
            } else {
                if (error_) throw boost::system::system_error(error_);
            }
        }
        if constexpr (std::tuple_size_v<Values> == 1) {
            return std::move(std::get<0>(*values_));
        } else if constexpr (std::tuple_size_v<Values> > 1) {
            return std::move(*values_);
        }
    }

private:
    template <class... Results>
    void complete(Results&&... results) {
        store(std::forward<Results>(results)...);
        if (completed_.exchange(true, std::memory_order_acq_rel)) handle_.resume();
    }

    template <class First, class... Rest>
    void store(First&& first, Rest&&... rest) {
        if constexpr (kHasError) {
            error_ = std::forward<First>(first);
            values_.emplace(std::forward<Rest>(rest)...);
        } else {
            values_.emplace(std::forward<First>(first), std::forward<Rest>(rest)...);
        }
    }
    void store() { values_.emplace(); }

    static void cancel_operation(Suspension& self) noexcept {
        static_cast<AsioOperation&>(self).signal().emit(boost::asio::cancellation_type::terminal);
    }

    boost::asio::cancellation_signal& signal() noexcept {
        return *std::launder(reinterpret_cast<boost::asio::cancellation_signal*>(signal_storage_));
    }

    void* bound_ = nullptr;
    void (*start_)(void*, Handler) = nullptr;
    void (*destroy_)(void*, bool) noexcept = nullptr;
    void* (*relocate_)(void*, void*) noexcept = nullptr;  // null when kept on the heap
    TaskCore* task_ = nullptr;
    std::coroutine_handle<> handle_;
    ErrorSlot error_{};
    std::optional<Values> values_;
    std::atomic<bool> completed_{false};
    bool signal_alive_ = false;
    bool cancelled_early_ = false;
    alignas(boost::asio::cancellation_signal) unsigned char
        signal_storage_[sizeof(boost::asio::cancellation_signal)];
    alignas(std::max_align_t) unsigned char storage_[kInline];
};

}  // namespace detail
}  // namespace afterwork

template <class R, class... Args>
struct boost::asio::async_result<afterwork::UseTask, R(Args...)> {
    using return_type = afterwork::detail::AsioOperation<Args...>;

    template <class Initiation, class... InitArgs>
    static return_type initiate(Initiation&& initiation, afterwork::UseTask,
                                InitArgs&&... arguments) {
        return return_type(std::forward<Initiation>(initiation),
                           std::forward<InitArgs>(arguments)...);
    }
};
