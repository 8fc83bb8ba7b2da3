// SPDX-License-Identifier: MIT
#include <afterwork/runtime/task_handle.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <string>

#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/system/system_error.hpp>
#include <spdlog/spdlog.h>

#include "runtime/context_service.hpp"
#include "runtime/foreign_post.hpp"
#include "runtime/task_group_state.hpp"

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
        case CancelReason::lease_lost: return "lease_lost";
    }
    return "unknown";
}

std::uint64_t unobserved_failures() noexcept { return unobserved.load(); }

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

namespace detail {

namespace {

// TaskCore::word_: the state in the low byte, the cancel reason in the next, then flags.
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
// core's address; a stripe's mutex guards the waiter queues of its cores, its condition
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

std::exception_ptr aborted(const char* what) {
    return std::make_exception_ptr(
        boost::system::system_error(asio::error::operation_aborted, what));
}

}  // namespace

// The live tasks of one execution context: an Asio service, so when the context is destroyed
// with tasks still suspended on it (a loop stopped for good), their frames are destroyed and
// their handles see them end as `abandoned` instead of waiting forever.
class TaskRegistry final : public asio::execution_context::service,
                           public GenerationCounted<TaskRegistry> {
public:
    static inline asio::execution_context::id id;

    explicit TaskRegistry(asio::execution_context& context)
        : asio::execution_context::service(context) {}

    static TaskRegistry& of(const Executor& executor) {
        return context_service<TaskRegistry>(executor);
    }

    /// False once the context shuts down: nothing can run there any more.
    bool add(TaskCore& task) {
        std::lock_guard lock(mutex_);
        if (stopped_) return false;
        // While it has a task, the context has work: `io_context::run()` returns only once
        // every task has ended, as with Asio's co_spawn, even when they all wait on an event or
        // a pool. One tracked executor for all of them, not one per task.
        if (count_++ == 0) {
            work_.emplace(asio::prefer(task.executor_, asio::execution::outstanding_work.tracked));
        }
        task.registry_previous_ = nullptr;
        task.registry_next_ = first_;
        if (first_) first_->registry_previous_ = &task;
        first_ = &task;
        task.registry_ = this;
        return true;
    }

    void remove(TaskCore& task) noexcept {
        std::optional<Executor> last_work;  // released after the lock: it may stop the context
        {
            std::lock_guard lock(mutex_);
            if (!unlink(task)) return;
            if (--count_ == 0) {
                last_work = std::move(work_);
                work_.reset();
            }
        }
    }

private:
    bool unlink(TaskCore& task) noexcept {
        if (task.registry_ != this) return false;
        if (task.registry_previous_) {
            task.registry_previous_->registry_next_ = task.registry_next_;
        } else {
            first_ = task.registry_next_;
        }
        if (task.registry_next_) task.registry_next_->registry_previous_ = task.registry_previous_;
        task.registry_ = nullptr;
        return true;
    }

    void shutdown() override {
        for (;;) {
            TaskCore* task = nullptr;
            {
                std::lock_guard lock(mutex_);
                stopped_ = true;
                task = first_;
                if (!task) break;
                unlink(*task);
                --count_;
            }
            task->abandon();
        }
        std::lock_guard lock(mutex_);
        work_.reset();
        // Another thread may still be inside a post into this context whose handler already
        // ran here: asio::post queues the handler, unlocks, and only then wakes the loop's
        // thread. A task resumed by a pool thread can thus end, let the owner's run() return
        // and destroy the context while that thread still signals its condition variable.
        // Asio shuts down and destroys services newest first, so the scheduler is still
        // whole here: wait for such posts before it goes. This covers every context a task
        // ran on (a Loop's, a test's own io_context), not only Loop's.
        wait_for_foreign_posts();
    }

    std::mutex mutex_;
    TaskCore* first_ = nullptr;
    std::size_t count_ = 0;
    std::optional<Executor> work_;  // tracked: outstanding work while count_ > 0
    bool stopped_ = false;
};

// What the loop runs when a task starts: holds a reference until then, so a task whose loop
// is destroyed before it ran still ends (abandoned) and frees its frame.
struct TaskCore::Start {
    explicit Start(TaskCore* task) noexcept : task(task) {}
    Start(Start&& other) noexcept : task(std::exchange(other.task, nullptr)) {}
    Start& operator=(Start&&) = delete;
    ~Start() {
        if (task) task->release();
    }
    void operator()() { std::exchange(task, nullptr)->run_root(); }
    TaskCore* task;
};

// A cancellation on its way to the task's loop.
struct TaskCore::Deliver {
    explicit Deliver(TaskCore* task) noexcept : task(task) { task->add_ref(); }
    Deliver(Deliver&& other) noexcept : task(std::exchange(other.task, nullptr)) {}
    Deliver& operator=(Deliver&&) = delete;
    ~Deliver() {
        if (task) task->release();
    }
    void operator()() {
        if (!task->done() && task->suspension_) task->suspension_->cancel();
    }
    TaskCore* task;
};

TaskCore::TaskCore(const Executor& executor, std::string name)
    : id_(next_task_id.fetch_add(1, std::memory_order_relaxed)),
      name_(name.empty() ? nullptr : new std::string(std::move(name))),
      executor_(executor),
      waiters_(stripe_of(this).mutex) {}

TaskCore::~TaskCore() {
    // Nobody can observe it any more: report a failure nobody looked at.
    const auto word = word_.load(std::memory_order_acquire);
    if (state_of(word) == TaskState::failed && (word & kObserved) == 0) {
        unobserved.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("task {} ({}) failed and nobody awaited it: {}", name(), id_,
                      describe_exception(error_));
    }
    if (root_) root_.destroy();  // launched on a loop that never ran it
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

bool TaskCore::cancel_requested() const noexcept {
    return (word_.load(std::memory_order_acquire) & kReasonMask) != 0;
}

bool TaskCore::cancel(CancelReason reason) noexcept {
    if (reason == CancelReason::none) reason = CancelReason::user;
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
        // Where the task waits belongs to its loop: end the wait there.
        post_to_loop(executor_, Deliver(this));
    } catch (...) {
        // Only allocation can fail here (a post into a destroyed context is not caught, it is
        // a bug): the reason is recorded, and the task's next suspension point sees it.
    }
    return true;
}

void TaskCore::launch(std::coroutine_handle<> root) {
    auto& promise = std::coroutine_handle<PromiseBase>::from_address(root.address()).promise();
    promise.task = this;
    root_ = root;
    add_ref();  // the running task's reference, given up in finish()
    if (!TaskRegistry::of(executor_).add(*this)) {
        abandon();  // the loop is shutting down: nothing can run there
        return;
    }
    add_ref();  // Start's
    post_to_loop(executor_, Start(this));
}

void TaskCore::run_root() noexcept {
    if (!root_) {  // abandoned meanwhile
        release();
        return;
    }
    // A task cancelled before it started still starts: its first suspension point ends with
    // operation_aborted (the cancellation is sticky), so the code around it — a wrapper that
    // records the outcome, a catch that cleans up — runs as it would for a later cancel.
    auto word = word_.load(std::memory_order_relaxed);
    while (state_of(word) == TaskState::pending &&
           !word_.compare_exchange_weak(
               word, (word & ~kStateMask) | static_cast<std::uint32_t>(TaskState::running),
               std::memory_order_acq_rel)) {
    }
    // Start's reference is handed to nobody: the running task holds its own until finish().
    release();
    root_.resume();
}

void root_finished(TaskCore& task, std::coroutine_handle<> root) noexcept {
    auto& promise = std::coroutine_handle<PromiseBase>::from_address(root.address()).promise();
    std::exception_ptr error = std::move(promise.error);
    if (!error) task.collect(root);
    task.root_ = nullptr;
    root.destroy();
    if (task.registry_) task.registry_->remove(task);
    task.finish(std::move(error));
}

void TaskCore::abandon() noexcept {
    // The context is going away: no thread runs it, so the frame is not running either.
    if (!root_) return;
    auto word = word_.load(std::memory_order_acquire);
    while ((word & kReasonMask) == 0 && !is_final(word) &&
           !word_.compare_exchange_weak(
               word, word | (static_cast<std::uint32_t>(CancelReason::abandoned) << kReasonShift),
               std::memory_order_acq_rel)) {
    }
    auto root = std::exchange(root_, nullptr);
    root.destroy();
    finish(aborted("task abandoned: its loop was destroyed"));
}

void TaskCore::finish(std::exception_ptr error) noexcept {
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
    // The group hears of the end first (its error callback may mark the failure observed),
    // then the state is published.
    if (group_) group_->before_finish(*this, state == TaskState::failed ? error_ : nullptr);
    // Release: the error, the finish time and the result are published with the state.
    auto word = word_.load(std::memory_order_relaxed);
    while (!word_.compare_exchange_weak(word,
                                        (word & ~kStateMask) | static_cast<std::uint32_t>(state),
                                        std::memory_order_acq_rel)) {
    }
    if (group_) group_->finished(*this);
    if ((word & kWaited) != 0) {
        // A waiter set kWaited under the stripe lock before our exchange, so it has registered
        // (or is about to block in the condition variable, which releases that lock): taking
        // the lock here orders the wake-up after it.
        Stripe& stripe = stripe_of(this);
        {
            std::lock_guard lock(stripe.mutex);
            waiters_.wake_all();
        }
        stripe.finished.notify_all();
    }
    release();  // the running task's reference
}

// A waiter's ready check, under the stripe lock: done, or marked as waited for.
bool TaskCore::is_done(const void* core) noexcept {
    auto* self = const_cast<TaskCore*>(static_cast<const TaskCore*>(core));
    auto word = self->word_.load(std::memory_order_acquire);
    for (;;) {
        if (is_final(word)) return true;
        if ((word & kWaited) != 0) return false;
        if (self->word_.compare_exchange_weak(word, word | kWaited, std::memory_order_acq_rel)) {
            return false;
        }
    }
}

Waiter TaskCore::until_done(bool cancellable) noexcept {
    return Waiter(waiters_, &TaskCore::is_done, this, cancellable);
}

Waiter TaskCore::until_done_before(TimerQueue* timers, SteadyTime deadline,
                                   bool cancellable) noexcept {
    if (timers) return Waiter(waiters_, &TaskCore::is_done, this, cancellable, *timers, deadline);
    return Waiter(&waiters_, &TaskCore::is_done, this, cancellable, deadline);
}

bool TaskCore::wait_blocking(std::optional<std::chrono::steady_clock::duration> timeout) {
    if (Loop::current()) {
        throw std::logic_error("blocking wait for task " + name() +
                               " on a loop thread: co_await handle.wait() instead");
    }
    if (done()) return true;
    Stripe& stripe = stripe_of(this);
    std::unique_lock lock(stripe.mutex);
    word_.fetch_or(kWaited, std::memory_order_acq_rel);
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

void TaskCore::mark_observed() noexcept { word_.fetch_or(kObserved, std::memory_order_relaxed); }

void set_suspension(TaskCore& task, Suspension* suspension) noexcept {
    task.suspension_ = suspension;
}

bool cancel_requested(const TaskCore& task) noexcept { return task.cancel_requested(); }

const Executor& executor_of(const TaskCore& task) noexcept { return task.executor(); }

namespace {
struct Resume {
    std::coroutine_handle<> handle;
    void operator()() const { handle.resume(); }
};
}  // namespace

void resume_on(TaskCore& task, std::coroutine_handle<> handle) {
    post_to_loop(task.executor(), Resume{handle});
}

}  // namespace detail
}  // namespace afterwork
