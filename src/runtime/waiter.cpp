// SPDX-License-Identifier: MIT
#include <afterwork/detail/waiter.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

namespace afterwork::detail {

[[noreturn]] void throw_cancelled(const char* what) {
    throw boost::system::system_error(boost::asio::error::operation_aborted, what);
}

// ---- WaitQueue ---------------------------------------------------------------------------

void WaitQueue::push(Waiter& waiter) noexcept {
    waiter.previous_ = last_;
    waiter.next_ = nullptr;
    if (last_) {
        last_->next_ = &waiter;
    } else {
        first_ = &waiter;
    }
    last_ = &waiter;
    waiter.linked_ = true;
}

void WaitQueue::erase(Waiter& waiter) noexcept {
    if (!waiter.linked_) return;
    if (waiter.previous_) {
        waiter.previous_->next_ = waiter.next_;
    } else {
        first_ = waiter.next_;
    }
    if (waiter.next_) {
        waiter.next_->previous_ = waiter.previous_;
    } else {
        last_ = waiter.previous_;
    }
    waiter.linked_ = false;
}

void WaitQueue::wake_all() noexcept {
    Waiter* waiter = first_;
    first_ = last_ = nullptr;
    while (waiter) {
        Waiter* next = waiter->next_;
        waiter->linked_ = false;
        // A waiter claimed by its deadline or a cancellation is resuming already; it finds
        // itself unlinked (under this lock) and leaves the list alone.
        if (waiter->claim(Waiter::Outcome::woken)) {
            try {
                resume_on(*waiter->task_, waiter->handle_);
            } catch (...) {
                // Only allocation can fail (posting into a destroyed context is a bug, not an
                // exception); the waiter is then left claimed and unresumed, and its frame is
                // destroyed with its loop.
            }
        }
        waiter = next;
    }
}

// ---- Waiter ------------------------------------------------------------------------------

bool Waiter::claim(Outcome outcome) noexcept {
    auto expected = Outcome::pending;
    return outcome_.compare_exchange_strong(expected, outcome, std::memory_order_acq_rel);
}

bool Waiter::suspend(TaskCore& task, std::coroutine_handle<> handle) {
    task_ = &task;
    handle_ = handle;
    if (system_deadline_) timers_ = &system_timers(executor_of(task));
    if (cancellable_ && cancel_requested(task)) {
        outcome_.store(Outcome::cancelled, std::memory_order_relaxed);
        return false;
    }
    if (queue_) {
        std::lock_guard lock(queue_->lock());
        if (ready_(owner_)) {
            outcome_.store(Outcome::ready, std::memory_order_relaxed);
            return false;
        }
        queue_->push(*this);
    }
    if (cancellable_) set_suspension(task, this);
    if (timers_) {
        TimerNode::fire = &Waiter::on_deadline;
        // A deadline in the past fires at the timer queue's next turn (the system timers) or
        // here (a manual clock); either way the resumption is posted to the task's loop, which
        // runs it only after this function returned.
        timers_->add(*this);
    }
    return true;
}

Waiter::Outcome Waiter::await_resume() {
    resumed_ = true;
    const auto outcome = outcome_.load(std::memory_order_acquire);
    if (outcome == Outcome::ready) return outcome;
    if (cancellable_ && outcome != Outcome::cancelled) set_suspension(*task_, nullptr);
    if (timers_) timers_->remove(*this);
    if (outcome == Outcome::cancelled) throw_cancelled("wait cancelled");
    return outcome;
}

void Waiter::cancel_wait(Suspension& self) noexcept {
    auto& waiter = static_cast<Waiter&>(self);
    if (!waiter.claim(Outcome::cancelled)) return;
    set_suspension(*waiter.task_, nullptr);
    if (waiter.queue_) {
        std::lock_guard lock(waiter.queue_->lock());
        waiter.queue_->erase(waiter);
    }
    if (waiter.timers_) waiter.timers_->remove(waiter);
    // On the task's loop already (a cancellation is delivered there): resume in place.
    waiter.handle_.resume();
}

void Waiter::on_deadline(TimerNode& node) noexcept {
    auto& waiter = static_cast<Waiter&>(node);
    if (!waiter.claim(Outcome::timed_out)) return;
    if (waiter.queue_) {
        std::lock_guard lock(waiter.queue_->lock());
        waiter.queue_->erase(waiter);
    }
    try {
        resume_on(*waiter.task_, waiter.handle_);
    } catch (...) {
    }
}

Waiter::~Waiter() {
    // Only a frame destroyed while suspended (its loop went away) still has work here.
    if (resumed_ || task_ == nullptr) return;
    // Claimed or not, take the queue's lock and the timer queue's: whoever claimed the wait
    // first may be another thread still reading task_ and handle_ to post the resumption —
    // wake_all (an Event set on another loop, a task ending there) does so under the queue's
    // lock, on_deadline (a manual clock advanced by a test) under the timer queue's. Returning
    // at once on a claimed outcome let the frame, and once the task was marked abandoned its
    // cell, be freed under it, and its post reach a context past its wait for posts in flight.
    // (The claimer cannot signal when it is done instead: in the normal case the frame may be
    // resumed and gone as soon as the post is queued.)
    claim(Outcome::cancelled);
    if (queue_) {
        std::lock_guard lock(queue_->lock());
        queue_->erase(*this);
    }
    // Also a woken wait is still in the timer heap (await_resume would have removed it).
    if (timers_) timers_->remove(*this);
}

}  // namespace afterwork::detail
