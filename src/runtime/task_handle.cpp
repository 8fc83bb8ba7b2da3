// SPDX-License-Identifier: MIT
#include <afterwork/runtime/task_handle.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "runtime/wait_list.hpp"
#include "runtime/foreign_post.hpp"

namespace afterwork {

namespace asio = boost::asio;

namespace {
std::atomic<std::uint64_t> next_task_id{1};
std::atomic<std::uint64_t> unobserved{0};

}  // namespace

std::string_view to_string(TaskState state) noexcept {
    switch (state) {
        case TaskState::pending: return "pending";
        case TaskState::running: return "running";
        case TaskState::succeeded: return "succeeded";
        case TaskState::failed: return "failed";
        case TaskState::cancelled: return "cancelled";
    }
    return "unknown";
}

std::string_view to_string(CancelReason reason) noexcept {
    switch (reason) {
        case CancelReason::none: return "none";
        case CancelReason::user: return "user";
        case CancelReason::deadline: return "deadline";
        case CancelReason::shutdown: return "shutdown";
        case CancelReason::abandoned: return "abandoned";
    }
    return "unknown";
}

std::uint64_t unobserved_failures() noexcept { return unobserved.load(); }

namespace detail {

namespace {

// TaskCore::word_: the state in the low byte, the cancel reason in the next, then two flags.
constexpr std::uint32_t kStateMask = 0xff;
constexpr std::uint32_t kReasonShift = 8;
constexpr std::uint32_t kReasonMask = 0xff << kReasonShift;
constexpr std::uint32_t kObserved = 1u << 16;  // someone saw the failure
constexpr std::uint32_t kWaited = 1u << 17;    // someone waits: finish must take the lock

TaskState state_of(std::uint32_t word) noexcept {
    return static_cast<TaskState>(word & kStateMask);
}

bool is_final(std::uint32_t word) noexcept {
    const auto state = state_of(word);
    return state == TaskState::succeeded || state == TaskState::failed ||
           state == TaskState::cancelled;
}

// Waiting needs a mutex and a condition variable, but only while someone waits: a task that
// nobody waits for never touches them. So tasks share a fixed table of them, picked by the
// core's address; a stripe's mutex guards the waiter lists of its cores, its condition
// variable wakes every blocking waiter of the stripe (each re-checks its own task). Never
// destroyed: loop threads may finish tasks during static destruction.
struct alignas(64) Stripe {
    std::mutex mutex;
    std::condition_variable finished;
};
constexpr std::size_t kStripes = 64;

Stripe& stripe_of(const void* core) noexcept {
    static Stripe* const stripes = new Stripe[kStripes];
    auto bits = reinterpret_cast<std::uintptr_t>(core);
    bits = (bits >> 4) * 0x9e3779b97f4a7c15ULL;  // Fibonacci hashing of the address
    return stripes[bits >> (64 - 6)];
}
static_assert(kStripes == 64, "stripe_of takes the top 6 bits");

}  // namespace

TaskCore::TaskCore(const Executor& executor, std::string name)
    : id_(next_task_id.fetch_add(1, std::memory_order_relaxed)),
      name_(name.empty() ? nullptr : new std::string(std::move(name))),
      executor_(executor) {}

TaskCore::~TaskCore() {
    // Nobody can observe it any more: report a failure nobody looked at.
    const auto word = word_.load(std::memory_order_acquire);
    if (state_of(word) == TaskState::failed && (word & kObserved) == 0) {
        unobserved.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("task {} ({}) failed and nobody awaited it: {}", name(), id_,
                      describe_exception(error_));
    }
    delete waiters_;
    delete name_.load(std::memory_order_relaxed);
}

const std::string& TaskCore::name() const noexcept {
    if (const auto* name = name_.load(std::memory_order_acquire)) return *name;
    // The default name, formed on first use: most tasks are never asked for it. Racing
    // callers each form one; the first published wins.
    auto* formed = new std::string("task-" + std::to_string(id_));
    const std::string* expected = nullptr;
    if (name_.compare_exchange_strong(expected, formed, std::memory_order_acq_rel)) {
        return *formed;
    }
    delete formed;
    return *expected;
}

TaskState TaskCore::state() const noexcept {
    return state_of(word_.load(std::memory_order_acquire));
}

std::optional<std::chrono::system_clock::time_point> TaskCore::finished_at() const noexcept {
    if (!done()) return std::nullopt;
    return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(finished_at_));
}

CancelReason TaskCore::cancel_reason() const noexcept {
    return static_cast<CancelReason>((word_.load(std::memory_order_acquire) & kReasonMask) >>
                                     kReasonShift);
}

bool TaskCore::done() const noexcept { return is_final(word_.load(std::memory_order_acquire)); }

bool TaskCore::cancel(CancelReason reason) noexcept {
    // Record the first reason unless the task has finished; one CAS on the word that `finish`
    // changes too, so a cancel either comes before the end (true) or sees it (false).
    auto word = word_.load(std::memory_order_acquire);
    for (;;) {
        if (is_final(word)) return false;
        if ((word & kReasonMask) != 0) break;
        const auto wanted = word | (static_cast<std::uint32_t>(reason) << kReasonShift);
        if (word_.compare_exchange_weak(word, wanted, std::memory_order_acq_rel)) break;
    }
    try {
        // The signal belongs to the task's loop: emit it there, keeping the core alive.
        detail::post_to_loop(executor_, [self = shared_from_this()] {
            self->signal_.emit(asio::cancellation_type::terminal);
        });
    } catch (...) {
        return false;  // the loop is gone
    }
    return true;
}

void TaskCore::start() noexcept {
    auto word = word_.load(std::memory_order_relaxed);
    while (state_of(word) == TaskState::pending &&
           !word_.compare_exchange_weak(
               word, (word & ~kStateMask) | static_cast<std::uint32_t>(TaskState::running),
               std::memory_order_acq_rel)) {
    }
}

void TaskCore::finish(std::exception_ptr error) {
    finished_at_ = std::chrono::system_clock::now().time_since_epoch().count();
    TaskState state = TaskState::succeeded;
    if (error) {
        if (is_cancellation(error)) {
            state = TaskState::cancelled;
        } else {
            state = TaskState::failed;
            error_ = std::move(error);
        }
    }
    // Release: the error, the finish time and the result are published with the state.
    auto word = word_.load(std::memory_order_relaxed);
    while (!word_.compare_exchange_weak(word,
                                        (word & ~kStateMask) | static_cast<std::uint32_t>(state),
                                        std::memory_order_acq_rel)) {
    }
    if ((word & kWaited) == 0) return;
    // A waiter set kWaited under the stripe lock before our exchange, so it has registered
    // (or is about to block in the condition variable, which releases that lock): taking the
    // lock here orders the wake-up after it.
    Stripe& stripe = stripe_of(this);
    {
        std::lock_guard lock(stripe.mutex);
        if (waiters_) waiters_->wake_all();
    }
    stripe.finished.notify_all();
}

bool TaskCore::mark_waited() noexcept {
    auto word = word_.load(std::memory_order_acquire);
    for (;;) {
        if (is_final(word)) return false;
        if ((word & kWaited) != 0) return true;
        if (word_.compare_exchange_weak(word, word | kWaited, std::memory_order_acq_rel)) {
            return true;
        }
    }
}

Task<void> TaskCore::until_done(bool cancellable) {
    if (done()) co_return;
    Executor executor = co_await asio::this_coro::executor;
    std::shared_ptr<WaitList::Waiter> waiter;
    {
        std::lock_guard lock(stripe_of(this).mutex);
        if (!mark_waited()) co_return;
        if (!waiters_) waiters_ = new WaitList;
        waiter = waiters_->add(executor);
    }
    co_await WaitList::sleep(*waiter, cancellable);
    if (!done()) {
        throw boost::system::system_error(asio::error::operation_aborted,
                                          "wait for task " + name() + " cancelled");
    }
}

bool TaskCore::wait_blocking(std::optional<std::chrono::steady_clock::duration> timeout) {
    if (Loop::current()) {
        throw std::logic_error("blocking wait for task " + name() +
                               " on a loop thread: co_await handle.wait() instead");
    }
    if (done()) return true;
    Stripe& stripe = stripe_of(this);
    std::unique_lock lock(stripe.mutex);
    if (!mark_waited()) return true;
    auto finished = [this] { return done(); };
    if (!timeout) {
        stripe.finished.wait(lock, finished);
        return true;
    }
    return stripe.finished.wait_for(lock, *timeout, finished);
}

void TaskCore::rethrow_if_unsuccessful() {
    const auto word = word_.load(std::memory_order_acquire);
    if (state_of(word) == TaskState::failed) {
        word_.fetch_or(kObserved, std::memory_order_relaxed);
        std::rethrow_exception(error_);
    }
    if (state_of(word) == TaskState::cancelled) {
        throw boost::system::system_error(asio::error::operation_aborted,
                                          "task " + name() + " was cancelled");
    }
}

std::exception_ptr TaskCore::error() noexcept {
    // Only a failure that happened can be observed: asking earlier leaves a later failure to
    // be reported.
    if (state_of(word_.load(std::memory_order_acquire)) != TaskState::failed) return nullptr;
    word_.fetch_or(kObserved, std::memory_order_relaxed);
    return error_;
}

namespace {

// What co_spawn calls on the loop when the task first runs: marks it running, hands over the
// body. One small object instead of a wrapper coroutine frame around the body.
struct Starter {
    TaskCore* core;  // alive: the completion handler owns it
    Task<void> body;
    Task<void> operator()() {
        core->start();
        return std::move(body);
    }
};

// co_spawn's completion handler: records the outcome. It names its cancellation slot itself
// rather than through bind_cancellation_slot, whose binder hides that the handler has no
// associated executor: co_spawn then keeps a smaller proxy (no executor copy, 32 B instead of
// 96 B a task) and emits on the spot instead of dispatching, as the emission already runs on
// the task's loop.
struct Completion {
    using cancellation_slot_type = asio::cancellation_slot;
    cancellation_slot_type get_cancellation_slot() const noexcept { return core->signal().slot(); }
    void operator()(std::exception_ptr error) { core->finish(std::move(error)); }
    std::shared_ptr<TaskCore> core;
};

}  // namespace

void launch(std::shared_ptr<TaskCore> core, Task<void> body) {
    TaskCore* raw = core.get();
    // The slot is bound before the coroutine can run; signal and coroutine share the loop.
    asio::co_spawn(raw->executor(), Starter{raw, std::move(body)}, Completion{std::move(core)});
}

}  // namespace detail
}  // namespace afterwork
